/**
 * Limits on connections and streams against a real `vane serve` process, configured through its environment:
 *
 * 1. Slow sockets that never send a key cannot starve a server of descriptors: with its open-file limit at 128,
 *    300 half-sent requests leave `/healthz` and `/readyz` answering, the excess closed by
 *    `VANE_MAX_UNAUTHENTICATED_CONNECTIONS`.
 * 2. Client streams are capped per address (`VANE_STREAMS_PER_ADDRESS`) and their contexts in size
 *    (`VANE_STREAM_CONTEXT_BYTES`); `/metrics` counts the bytes their contexts hold and the streams refused.
 * 3. A setting that is not a whole number stops the server at start, naming the variable.
 */
import net from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { VaneServers } from '../support/server.js'
import { sleep, waitFor } from '../support/wait.js'

const ENV = 'production'

/** A socket that connects and sends the start of a request it never finishes. */
function slowSocket(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url)
  const socket = net.connect({ host: hostname, port: Number(port) })
  socket.on('error', () => {})
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      resolve(socket)
    })
    socket.once('close', () => resolve(socket))
  })
}

/** The status of `GET path`, or the error's message (a refused or reset connection). */
async function statusOf(url: string): Promise<number | string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    await res.arrayBuffer()
    return res.status
  } catch (error) {
    return String((error as Error).cause ?? error)
  }
}

/** The value of a `/metrics` line such as `vane_stream_context_bytes 1234`. */
async function metric(url: string, line: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const found = text.split('\n').find((l) => l.startsWith(`${line} `))
  return found === undefined ? undefined : Number(found.slice(line.length + 1))
}

describe('connection and stream limits of a real server', () => {
  const servers = new VaneServers()
  afterAll(() => servers.stopAll())

  it('keeps /healthz and /readyz answering while slow sockets without a key would use up its descriptors', async () => {
    // 256 descriptors, not fewer: loading the server's modules opens many files at once on a busy machine
    const vane = await servers.start({ VANE_MAX_UNAUTHENTICATED_CONNECTIONS: '32' }, 20_000, 256)
    const slow: net.Socket[] = []
    for (let i = 0; i < 500; i++) slow.push(await slowSocket(vane.url))
    // the cap closes the excess once each has had its second to authenticate
    let last: number | string = ''
    const healthy = await waitFor(
      async () => {
        last = await statusOf(`${vane.url}/healthz`)
        return last === 200
      },
      5_000,
      100,
    )
    expect(healthy, `/healthz answered ${last}`).toBe(true)
    expect(await statusOf(`${vane.url}/readyz`)).toBe(200)
    // the server kept at most its cap of them (and none beyond what its descriptors allow)
    await sleep(500)
    expect(slow.filter((s) => !s.destroyed && !s.readableEnded).length).toBeLessThanOrEqual(32)
    for (const s of slow) s.destroy()
  })

  it('caps client streams per address and their contexts in size, and counts the bytes they hold', async () => {
    const vane = await servers.start({ VANE_STREAMS_PER_ADDRESS: '3', VANE_STREAM_CONTEXT_BYTES: '4096' })
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    const key = await vane.createKey({ kind: 'client', environment: ENV })
    const body = (bytes: number) => JSON.stringify({ context: { targetingKey: 'u1', notes: 'x'.repeat(bytes) } })
    const open = (text: string) =>
      fetch(`${vane.url}/client/v1/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: text,
      })

    const tooLarge = await open(body(5_000))
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.headers.get('content-type')).toBe('application/problem+json')
    expect(((await tooLarge.json()) as { detail: string }).detail).toContain('4096 bytes')

    const bodies = [body(3_000), body(2_000), body(1_000)]
    const streams = []
    for (const text of bodies) {
      const res = await open(text)
      expect(res.status).toBe(200)
      streams.push(res)
    }
    const held = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0)
    expect(await metric(vane.url, 'vane_stream_context_bytes')).toBe(held)

    const refused = await open(body(10))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('30')
    expect(((await refused.json()) as { detail: string }).detail).toContain('this address already holds 3 open streams')
    expect(await metric(vane.url, 'vane_streams_refused_total{kind="client",cap="address"}')).toBe(1)

    for (const s of streams) await s.body?.cancel()
    expect(await waitFor(async () => (await metric(vane.url, 'vane_stream_context_bytes')) === 0, 5_000, 50)).toBe(true)
  })

  it('refuses to start when a limit is not a whole number, naming the variable', async () => {
    await expect(servers.start({ VANE_STREAMS_PER_KEY: 'lots' })).rejects.toThrow(/VANE_STREAMS_PER_KEY/)
  })
})
