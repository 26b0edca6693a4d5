/**
 * A relay in front of a real upstream on loopback: it serves through the same assembly as the server, so its
 * CORS, key and error answers are the server's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectProblem } from '../testing/api.js'
import { type RelayBehind, relayBehind } from '../testing/relay.js'
import type { RunningRelay } from './relay.js'

const ORIGIN = 'https://app.example'

describe('relay', () => {
  let relay: RunningRelay
  let serverKey: string
  let setup: RelayBehind

  beforeAll(async () => {
    setup = await relayBehind()
    ;({ relay, serverKey } = setup)
  })
  afterAll(() => setup?.close())

  it('answers a preflight as the server does, X-Vane-Hash included', async () => {
    const res = await fetch(`${relay.url}/ofrep/v1/evaluate/flags`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-vane-hash',
      },
    })
    expect(res.status).toBe(204)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    expect(res.headers.get('access-control-allow-headers')).toContain('X-Vane-Hash')
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag, Retry-After')
  })

  it('lets a page read a 401 given before its key was known', async () => {
    const res = await fetch(`${relay.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/json' },
      body: '{"context":{}}',
    })
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
    await expectProblem(res, 401)
  })

  it('answers OFREP errors in OFREP shape and everything else as problem+json', async () => {
    const missing = await fetch(`${relay.url}/ofrep/v1/evaluate/flags/nope`, {
      method: 'POST',
      headers: { authorization: `Bearer ${serverKey}`, 'content-type': 'application/json' },
      body: '{"context":{"targetingKey":"u1"}}',
    })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toBe('application/json')
    expect(await missing.json()).toMatchObject({
      key: 'nope',
      errorCode: 'FLAG_NOT_FOUND',
      type: 'urn:vane:problem:ofrep-flag_not_found',
    })
    const admin = await expectProblem(await fetch(`${relay.url}/admin/v1/flags`), 404)
    expect(admin.detail).toContain('relay')
    await expectProblem(await fetch(`${relay.url}/nope`), 404)
  })
})
