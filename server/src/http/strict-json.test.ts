/**
 * Every JSON body the server reads refuses duplicate keys and `__proto__` keys with a 422 problem+json pointing at
 * the key, instead of silently keeping the last value or dropping the key and answering 200.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

let h: Harness
let serverKey = ''
let clientKey = ''
let triggerUrl = ''
beforeAll(async () => {
  h = await createHarness({ environments: ['production'] })
  expect((await h.call('PUT', `${A}/flags/f`, boolFlag())).status).toBe(201)
  const targeting = { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } }
  expect((await h.call('PUT', `${A}/environments/production/flags/f`, targeting)).status).toBe(200)
  serverKey = await h.key('server', 'production')
  clientKey = await h.key('client', 'production')
  const res = await h.call('POST', `${A}/environments/production/flags/f/triggers`, { name: 'alerts' })
  triggerUrl = (await json<{ url: string }>(res)).url
})
afterAll(() => h.close())

const send = (path: string, body: string, key?: string) =>
  h.app.request(path, {
    method: path.startsWith(`${A}/flags`) ? 'PUT' : 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key ?? ''}` },
    body,
  })

type Kind = 'admin' | 'server' | 'client' | 'none'
/** [name, () => [path, body, key kind] (read when the test runs, after set-up), pointers] */
type Case = [name: string, request: () => [path: string, body: string, kind: Kind], pointers: string[]]

describe('duplicate and __proto__ keys', () => {
  it.each<Case>([
    [
      'an admin write (duplicate)',
      () => [`${A}/flags/g`, '{"type":"boolean","type":"string","variants":{"on":true,"off":false}}', 'admin'],
      ['/type'],
    ],
    [
      'an admin write (__proto__)',
      () => [`${A}/flags/g`, '{"type":"object","variants":{"on":{"__proto__":{"x":1}},"off":{}}}', 'admin'],
      ['/variants/on/__proto__'],
    ],
    [
      'OFREP single (duplicate)',
      () => ['/ofrep/v1/evaluate/flags/f', '{"context":{"targetingKey":"a","targetingKey":"b"}}', 'server'],
      ['/context/targetingKey'],
    ],
    [
      'OFREP single (__proto__)',
      () => ['/ofrep/v1/evaluate/flags/f', '{"context":{"targetingKey":"a","__proto__":{"plan":"pro"}}}', 'server'],
      ['/context/__proto__'],
    ],
    [
      'OFREP bulk (duplicate)',
      () => ['/ofrep/v1/evaluate/flags', '{"context":{"plan":"free"},"context":{"plan":"pro"}}', 'client'],
      ['/context'],
    ],
    [
      'a client stream (__proto__)',
      () => ['/client/v1/stream', '{"context":{"__proto__":{"plan":"pro"},"targetingKey":"a"}}', 'client'],
      ['/context/__proto__'],
    ],
    [
      'an SDK outcome report (duplicate)',
      () => ['/sdk/v1/outcomes', '{"start":"x","start":"y"}', 'server'],
      ['/start'],
    ],
    ['a kill trigger (duplicate)', () => [triggerUrl, '{"action":"kill","action":"unkill"}', 'none'], ['/action']],
  ])('%s: 422 problem+json with the pointer, nothing changed', async (_, request, pointers) => {
    const [path, body, kind] = request()
    const key = { admin: undefined, server: serverKey, client: clientKey, none: '' }[kind]
    await expectNoChange(h, async () => {
      const res =
        kind === 'admin' ? await h.call('PUT', path, body) : await send(new URL(path, 'http://x').pathname, body, key)
      const problem = await expectProblem(res, 422, pointers)
      expect(problem.type).toBe('urn:vane:problem:validation')
    })
  })

  it('still evaluates bodies that only look suspicious', async () => {
    const res = await send(
      '/ofrep/v1/evaluate/flags/f',
      '{"context":{"targetingKey":":","note":"\\":","plan":"a","nested":{"plan":"b"}}}',
      serverKey,
    )
    expect(res.status).toBe(200)
    expect(await json(res)).toMatchObject({ key: 'f', value: true })
  })
})
