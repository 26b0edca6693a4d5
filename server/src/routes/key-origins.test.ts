import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, expectNoChange, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

describe('client keys: allowedOrigins', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(() => h.close())

  it('refuses origins that browsers present as "null" (file:, data:, extensions, javascript:), with pointers', async () => {
    await expectNoChange(h, async () => {
      const res = await h.call('POST', `${A}/keys`, {
        kind: 'client',
        name: 'web',
        environment: 'staging',
        allowedOrigins: [
          'https://ok.example.com',
          'file:///home/me/page.html',
          'data:text/html,<script>1</script>',
          'chrome-extension://abcdefghijklmnop',
          'javascript:alert(1)',
          'nope',
        ],
      })
      const problem = await expectProblem(res, 422, [
        '/allowedOrigins/1',
        '/allowedOrigins/2',
        '/allowedOrigins/3',
        '/allowedOrigins/4',
        '/allowedOrigins/5',
      ])
      expect(problem.issues?.[0]?.message).toContain('list "null" itself')
    })
  })

  it('allows the origin "null" only when listed by name', async () => {
    const evaluate = (secret: string) =>
      h.app.request('/ofrep/v1/evaluate/flags', {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', origin: 'null' },
        body: '{"context":{}}',
      })
    const plain = await h.key('client', 'staging', ['https://app.example.com'])
    await expectProblem(await evaluate(plain), 403)
    const res = await h.call('POST', `${A}/keys`, {
      kind: 'client',
      name: 'sandboxed',
      environment: 'staging',
      allowedOrigins: ['null'],
    })
    expect(res.status).toBe(201)
    const key = await json<{ secret: string; allowedOrigins: string[] }>(res)
    expect(key.allowedOrigins).toEqual(['null'])
    const allowed = await evaluate(key.secret)
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('null')
  })
})
