import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from '../testing/harness.js'
import { RelayKeys } from './keys.js'

describe('RelayKeys', () => {
  let h: Harness
  let relayKey = ''
  beforeAll(async () => {
    h = await createHarness({ environments: ['production'] })
    relayKey = await h.key('server', 'production')
  })
  afterAll(() => h.close())

  it('keeps verified keys through a flood of junk ones, and serves them while the upstream is down', async () => {
    let t = 0
    let down = false
    let asked = 0
    const good = await h.key('server', 'production')
    // the real upstream app for real keys; junk gets the upstream's answer (401) without the round trip
    const upstream = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      if (down) throw new TypeError('fetch failed')
      asked++
      const request = new Request(input, init)
      if (request.headers.get('authorization') !== `Bearer ${good}`) return new Response(null, { status: 401 })
      return h.app.request(request)
    }
    const keys = new RelayKeys({
      upstream: 'http://upstream.test',
      sdkKey: relayKey,
      current: () => ({ environment: 'production', version: h.hub.get('production')?.version ?? 0 }),
      fetch: upstream as typeof fetch,
      now: () => t,
      rejectedBytes: 256 * 1024,
    })
    expect(await keys.authenticate(good, undefined)).toMatchObject({ status: 200, key: { kind: 'server' } })
    for (let i = 0; i < 12_000; i++) {
      const verdict = await keys.authenticate(`vane_server_junk${i}`, undefined)
      expect(verdict.status).toBe(401)
    }
    expect(asked).toBe(12_001)
    down = true
    t += 10 * 60_000
    expect(await keys.authenticate(good, undefined)).toMatchObject({ status: 200, key: { kind: 'server' } })
    await expect(keys.authenticate('vane_server_new', undefined)).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('remembers a rejection for a few seconds, by hash', async () => {
    let asked = 0
    const keys = new RelayKeys({
      upstream: 'http://upstream.test',
      sdkKey: relayKey,
      current: () => ({ environment: 'production', version: 1 }),
      fetch: (async () => {
        asked++
        return new Response(null, { status: 401 })
      }) as typeof fetch,
    })
    for (let i = 0; i < 3; i++) expect((await keys.authenticate('vane_server_nope', undefined)).status).toBe(401)
    expect(asked).toBe(1)
  })
})
