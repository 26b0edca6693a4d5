import type { ServerType } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSocketAddress } from '../adapters/node/client-address.js'
import { serveNode } from '../adapters/node/serve.js'
import { A, boolFlag, expectProblem } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'
import { clientAddress } from './auth-failures.js'

/** A real server on loopback: the limit keys on the socket's address, which only a real connection has. */
async function served(trustProxy: number, now: () => number) {
  const h = await createHarness({
    environments: ['production'],
    authFailures: { perMinute: 5, clientAddress: clientAddress(nodeSocketAddress, trustProxy), now },
  })
  const { server, port } = await serveNode(h.app, { port: 0, hostname: '127.0.0.1' })
  return { h, server, base: `http://127.0.0.1:${port}` }
}

const close = async (s: { h: Harness; server: ServerType }) => {
  await new Promise<void>((resolve) => s.server.close(() => resolve()))
  await s.h.close()
}

describe('failed authentication is throttled per client address', () => {
  let t = 0
  let s: Awaited<ReturnType<typeof served>>
  let good = ''
  const evaluate = (secret: string, headers: Record<string, string> = {}) =>
    fetch(`${s.base}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
      body: '{"context":{}}',
    })
  beforeAll(async () => {
    s = await served(0, () => t)
    good = await s.h.key('server', 'production')
  })
  afterAll(() => close(s))

  it('keyed traffic that authenticates never spends the budget', async () => {
    for (let i = 0; i < 50; i++) expect((await evaluate(good)).status).toBe(200)
  })

  it('after 5 wrong keys a minute, the address gets 429 with Retry-After for any key not seen lately', async () => {
    for (let i = 0; i < 5; i++) await expectProblem(await evaluate(`vane_server_guess${i}`), 401)
    const refused = await evaluate('vane_server_guess5')
    expect(refused.headers.get('retry-after')).toBe('12')
    await expectProblem(refused, 429)
    // a valid key this server has not seen yet is refused too: guesses cannot be told from it
    const unseen = await s.h.key('server', 'production')
    await expectProblem(await evaluate(unseen), 429)
    // X-Forwarded-For is not trusted unless configured: claiming another address changes nothing
    await expectProblem(await evaluate(unseen, { 'x-forwarded-for': '203.0.113.9' }), 429)
    // a key that authenticated lately keeps working: clients sharing the address are not locked out
    expect((await evaluate(good)).status).toBe(200)
    await expectProblem(
      await fetch(`${s.base}${A}/flags`, { headers: { authorization: 'Bearer vane_admin_guess' } }),
      429,
    )
  })

  it('the budget refills with time', async () => {
    t += 12_000
    await expectProblem(await evaluate('vane_server_guess6'), 401)
    await expectProblem(await evaluate('vane_server_guess7'), 429)
    t += 60_000
  })

  it('requests without a key are neither counted nor refused', async () => {
    for (let i = 0; i < 10; i++)
      await expectProblem(await fetch(`${s.base}/ofrep/v1/evaluate/flags`, { method: 'POST' }), 401)
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200)
    expect((await evaluate(good)).status).toBe(200)
  })

  it('guessing trigger URLs counts too', async () => {
    t += 60_000
    const fire = () => fetch(`${s.base}/hooks/v1/triggers/vane_trigger_guess`, { method: 'POST' })
    for (let i = 0; i < 5; i++) await expectProblem(await fire(), 404)
    await expectProblem(await fire(), 429)
  })
})

describe('behind a trusted proxy (VANE_TRUST_PROXY=1)', () => {
  const t = 0
  let s: Awaited<ReturnType<typeof served>>
  let good = ''
  const evaluate = (secret: string, forwardedFor: string) =>
    fetch(`${s.base}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'x-forwarded-for': forwardedFor,
      },
      body: '{"context":{}}',
    })
  beforeAll(async () => {
    s = await served(1, () => t)
    good = await s.h.key('server', 'production')
    expect((await s.h.call('PUT', `${A}/flags/f`, boolFlag())).status).toBe(201)
  })
  afterAll(() => close(s))

  it("the proxy's entry is the address: one client's failures leave the others alone", async () => {
    // a client may prefix X-Forwarded-For with anything: only the last entry, the proxy's, counts
    for (let i = 0; i < 5; i++)
      await expectProblem(await evaluate(`vane_server_guess${i}`, `10.0.0.${i}, 198.51.100.7`), 401)
    await expectProblem(await evaluate('vane_server_guess', '10.0.0.99, 198.51.100.7'), 429)
    expect((await evaluate(good, '198.51.100.8')).status).toBe(200)
  })

  it('an IPv6 client counts by its /64: a fresh address in the same prefix brings no fresh budget', async () => {
    for (let i = 0; i < 5; i++)
      await expectProblem(await evaluate(`vane_server_guess${i}`, `2001:db8:1:2::${i + 1}`), 401)
    await expectProblem(await evaluate('vane_server_guess', '2001:db8:1:2:ffff::9'), 429)
    expect((await evaluate('vane_server_guess', '2001:db8:1:3::1')).status).toBe(401)
  })
})
