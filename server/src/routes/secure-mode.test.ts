import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ORIGIN = 'https://app.example.com'

/** The hash, computed independently of the server's Web Crypto code. */
const hmac = (secret: string, targetingKey: string) => createHmac('sha256', secret).update(targetingKey).digest('hex')

describe('secure mode for client keys', () => {
  let h: Harness
  let secure: { secret: string; secureModeSecret: string }
  let plainKey: string
  let serverKey: string

  beforeAll(async () => {
    h = await createHarness()
    await h.call('PUT', `${A}/flags/beta`, { type: 'boolean', variants: { on: true, off: false } })
    await h.call('PUT', `${A}/environments/production/flags/beta`, {
      enabled: true,
      offVariant: 'off',
      targets: { on: ['alice'] },
      fallthrough: { variant: 'off' },
    })
    const res = await h.call('POST', `${A}/keys`, {
      kind: 'client',
      name: 'secure-web',
      environment: 'production',
      allowedOrigins: [ORIGIN],
      secureMode: true,
    })
    expect(res.status).toBe(201)
    secure = await json(res)
    plainKey = await h.key('client', 'production')
    serverKey = await h.key('server', 'production')
  })
  afterAll(() => h.close())

  const ofrep = (path: string, key: string, context: object, hash?: string) =>
    h.app.request(`/ofrep/v1/evaluate/flags${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        ...(hash !== undefined && { 'x-vane-hash': hash }),
      },
      body: JSON.stringify({ context }),
    })
  const stream = (key: string, body: object) =>
    h.app.request('/client/v1/stream', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  /** The first SSE event of a stream, then the stream is closed. */
  async function firstEvent(res: Response): Promise<string> {
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ''
    const deadline = Date.now() + 2_000
    while (!text.includes('\n\n') && Date.now() < deadline) {
      const next = await reader.read()
      if (next.done) break
      text += decoder.decode(next.value, { stream: true })
    }
    await reader.cancel()
    return text
  }

  for (const [name, path] of [
    ['OFREP single', '/beta'],
    ['OFREP bulk', ''],
  ] as const) {
    it(`${name}: evaluates with the right X-Vane-Hash`, async () => {
      const res = await ofrep(path, secure.secret, { targetingKey: 'alice' }, hmac(secure.secureModeSecret, 'alice'))
      expect(res.status, await res.clone().text()).toBe(200)
      const body = await json<{ value?: unknown; flags?: { key: string; value: unknown }[] }>(res)
      expect(body.value ?? body.flags?.find((f) => f.key === 'beta')?.value).toBe(true)
      // hex in capitals is the same hash
      const upper = hmac(secure.secureModeSecret, 'alice').toUpperCase()
      expect((await ofrep(path, secure.secret, { targetingKey: 'alice' }, upper)).status).toBe(200)
    })

    it(`${name}: 403 without the hash, with a wrong one, or without a targetingKey`, async () => {
      const aliceHash = hmac(secure.secureModeSecret, 'alice')
      const refused = [
        await ofrep(path, secure.secret, { targetingKey: 'alice' }),
        await ofrep(path, secure.secret, { targetingKey: 'alice' }, ''),
        // another user's hash: the impersonation secure mode exists to stop
        await ofrep(path, secure.secret, { targetingKey: 'mallory' }, aliceHash),
        await ofrep(path, secure.secret, { targetingKey: 'alice' }, hmac('some other secret', 'alice')),
        await ofrep(path, secure.secret, { targetingKey: 'alice' }, aliceHash.slice(0, -1)),
        await ofrep(path, secure.secret, {}, aliceHash),
      ]
      for (const res of refused) {
        const problem = await expectProblem(res, 403)
        expect(problem.type).toBe('urn:vane:problem:forbidden')
      }
    })

    it(`${name}: keys without secure mode need no hash`, async () => {
      expect((await ofrep(path, plainKey, { targetingKey: 'alice' })).status).toBe(200)
      expect((await ofrep(path, serverKey, { targetingKey: 'alice' })).status).toBe(200)
    })
  }

  it('client stream: evaluates with the right body hash', async () => {
    const res = await stream(secure.secret, {
      context: { targetingKey: 'alice' },
      hash: hmac(secure.secureModeSecret, 'alice'),
    })
    expect(res.status).toBe(200)
    const event = await firstEvent(res)
    expect(event).toMatch(/^id: \d+\nevent: put\ndata: /)
    expect(event).toContain('"beta":{"value":true')
  })

  it('client stream: 403 without the hash, with a wrong one, or without a targetingKey', async () => {
    const aliceHash = hmac(secure.secureModeSecret, 'alice')
    for (const body of [
      { context: { targetingKey: 'alice' } },
      { context: { targetingKey: 'alice' }, hash: 42 },
      { context: { targetingKey: 'mallory' }, hash: aliceHash },
      { context: { targetingKey: 'alice' }, hash: hmac(secure.secret, 'alice') },
      { context: {}, hash: aliceHash },
      {},
    ])
      await expectProblem(await stream(secure.secret, body), 403)
    expect(h.delivery.counts().client).toBe(0)
  })

  it('client stream: keys without secure mode need no hash', async () => {
    const res = await stream(plainKey, { context: { targetingKey: 'alice' } })
    expect(res.status).toBe(200)
    expect(await firstEvent(res)).toContain('event: put')
  })

  it('browsers may send X-Vane-Hash (CORS preflight)', async () => {
    const res = await h.app.request('/ofrep/v1/evaluate/flags', {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-vane-hash',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-headers')?.split(/,\s*/)).toContain('X-Vane-Hash')
  })
})
