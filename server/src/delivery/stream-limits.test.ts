/**
 * Stream caps per key and the client-stream context limit, through the app (Web path). The per-address cap needs
 * the client's address, which only the Node adapter knows: `adapters/node/serve.test.ts` covers it on real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { A, expectProblem } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'
import { SseReader } from '../testing/sse-reader.js'

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

const sdkStream = (h: Harness, secret: string) =>
  h.app.request('/sdk/v1/stream', { headers: { authorization: `Bearer ${secret}` } })
const clientStream = (h: Harness, secret: string, body: string) =>
  h.app.request('/client/v1/stream', {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body,
  })

/** A context of about `bytes` bytes of JSON. */
const contextOf = (bytes: number) => JSON.stringify({ context: { targetingKey: 'u1', blob: 'x'.repeat(bytes) } })

describe('stream caps', () => {
  it('refuses a key its next stream over the cap with 429 and Retry-After, and admits one again once a stream closes', async () => {
    h = await createHarness({ environments: ['production'], streamLimits: { perKey: 2 } })
    const key = await h.key('server', 'production')
    const first = new SseReader((await sdkStream(h, key)).body)
    const second = new SseReader((await sdkStream(h, key)).body)
    await first.next()
    await second.next()

    const refused = await sdkStream(h, key)
    expect(refused.headers.get('retry-after')).toBe('30')
    const problem = await expectProblem(refused, 429)
    expect(problem.detail).toContain('2 open streams')
    expect(h.delivery.counts().sdk).toBe(2)

    // another key of the same environment has its own count
    const other = await sdkStream(h, await h.key('server', 'production'))
    expect(other.status).toBe(200)
    await other.body?.cancel()

    await first.cancel()
    await expect.poll(() => h?.delivery.counts().sdk).toBe(1)
    const again = await sdkStream(h, key)
    expect(again.status).toBe(200)
    await again.body?.cancel()
    await second.cancel()
  })

  it('counts client streams against their key too', async () => {
    h = await createHarness({ environments: ['production'], streamLimits: { perKey: 1 } })
    const key = await h.key('client', 'production')
    const open = await clientStream(h, key, '{"context":{"targetingKey":"u1"}}')
    expect(open.status).toBe(200)
    await expectProblem(await clientStream(h, key, '{"context":{"targetingKey":"u2"}}'), 429)
    await open.body?.cancel()
  })
})

describe('client-stream context limit', () => {
  it('refuses a stream context over the limit with 413, while a one-shot evaluation still takes it', async () => {
    h = await createHarness({ environments: ['production'], streamLimits: { contextBytes: 1024 } })
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    const key = await h.key('client', 'production')
    const large = contextOf(2048)
    const problem = await expectProblem(await clientStream(h, key, large), 413)
    expect(problem.detail).toContain('1024 bytes')
    expect(h.delivery.counts().client).toBe(0)

    const oneShot = await h.app.request('/ofrep/v1/evaluate/flags', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: large,
    })
    expect(oneShot.status).toBe(200)
  })

  it('defaults to 32 KiB', async () => {
    h = await createHarness({ environments: ['production'] })
    const key = await h.key('client', 'production')
    await expectProblem(await clientStream(h, key, contextOf(33 * 1024)), 413)
    const fits = await clientStream(h, key, contextOf(31 * 1024))
    expect(fits.status).toBe(200)
    await fits.body?.cancel()
  })

  it('counts the bytes open client streams hold, and gives them back when they close', async () => {
    h = await createHarness({ environments: ['production'] })
    const key = await h.key('client', 'production')
    const bodies = [contextOf(10_000), contextOf(20_000)]
    const streams = []
    for (const body of bodies) {
      const res = await clientStream(h, key, body)
      expect(res.status).toBe(200)
      streams.push(new SseReader(res.body))
    }
    expect(h.delivery.contextBytes()).toBe(bodies[0]!.length + bodies[1]!.length)
    // SDK streams hold no context
    const sdk = await sdkStream(h, await h.key('server', 'production'))
    expect(h.delivery.contextBytes()).toBe(bodies[0]!.length + bodies[1]!.length)
    await sdk.body?.cancel()
    await streams[0]!.cancel()
    await expect.poll(() => h?.delivery.contextBytes()).toBe(bodies[1]!.length)
    await streams[1]!.cancel()
    await expect.poll(() => h?.delivery.contextBytes()).toBe(0)
  })
})
