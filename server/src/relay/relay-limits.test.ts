/**
 * A relay serves the same stream routes as the server, so it applies the same stream caps, context limit and
 * connection limits, from the same settings.
 */

import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectProblem } from '../testing/api.js'
import type { Harness } from '../testing/harness.js'
import { type RelayBehind, relayBehind } from '../testing/relay.js'
import type { RunningRelay } from './relay.js'

describe('relay limits', () => {
  let h: Harness
  let relay: RunningRelay
  let serverKey: string
  let clientKey: string
  let setup: RelayBehind

  beforeAll(async () => {
    setup = await relayBehind({ streamsPerKey: 1, streamContextBytes: 256, headersTimeoutMs: 200 })
    ;({ h, relay, serverKey } = setup)
    clientKey = await h.key('client', 'production')
  })
  afterAll(() => setup?.close())

  const stream = (secret: string) =>
    fetch(`${relay.url}/sdk/v1/stream`, { headers: { authorization: `Bearer ${secret}` } })

  it('caps streams per key with 429 and Retry-After', async () => {
    const first = await stream(serverKey)
    expect(first.status).toBe(200)
    const refused = await stream(serverKey)
    expect(refused.headers.get('retry-after')).toBe('30')
    await expectProblem(refused, 429)
    await first.body?.cancel()
  })

  it('refuses a client-stream context over the stream limit with 413', async () => {
    const res = await fetch(`${relay.url}/client/v1/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${clientKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'u1', blob: 'x'.repeat(512) } }),
    })
    await expectProblem(res, 413)
  })

  it('closes a connection whose headers never finish', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: relay.port })
    socket.on('error', () => {})
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      text += chunk
    })
    await new Promise((resolve) => socket.once('close', resolve))
    expect(text).toMatch(/^HTTP\/1\.1 408/)
  })
})
