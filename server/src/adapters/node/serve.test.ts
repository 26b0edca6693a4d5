/**
 * Connections before authentication, on real loopback sockets: slow or idle sockets without a key are bounded in
 * number (the oldest closed first) and in time (headers, then the whole request), while authenticated connections,
 * streams and health checks carry on. Limits are set low here so that a few hundred sockets are enough.
 */
import type http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { A } from '../../testing/api.js'
import { createHarness, type Harness, type HarnessOptions } from '../../testing/harness.js'
import { type ServeNodeOptions, serveNode } from './serve.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it holds; fails with `what` after `ms` (a bound on waiting, not a speed requirement). */
async function eventually(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** A raw socket that writes what it is given and keeps what comes back. */
class Raw {
  readonly socket: net.Socket
  readonly connected: Promise<void>
  text = ''
  closed = false

  constructor(port: number, first = '', localAddress?: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, ...(localAddress !== undefined && { localAddress }) })
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()))
    this.socket.setEncoding('latin1')
    this.socket.on('data', (chunk: string) => {
      this.text += chunk
    })
    this.socket.on('close', () => {
      this.closed = true
    })
    this.socket.on('error', () => {})
    if (first !== '') this.socket.write(first)
  }

  /** Waits until the text received contains `marker`, from offset `from`. */
  async received(marker: string, from = 0): Promise<void> {
    await eventually(`"${marker}" in ${JSON.stringify(this.text.slice(0, 300))}`, () =>
      this.text.includes(marker, from),
    )
  }
}

const get = (path: string, secret?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${secret === undefined ? '' : `Authorization: Bearer ${secret}\r\n`}\r\n`

interface Served {
  h: Harness
  server: http.Server
  port: number
}

let running: Served[] = []
afterEach(async () => {
  for (const { h, server } of running) {
    h.delivery.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await h.close()
  }
  running = []
})

async function served(options: Omit<ServeNodeOptions, 'port' | 'hostname'>, harness: HarnessOptions = {}) {
  const h = await createHarness({ environments: ['production'], ...harness })
  const { server } = await serveNode(h.app, { port: 0, hostname: '127.0.0.1', ...options })
  const s = { h, server: server as http.Server, port: ((server as http.Server).address() as AddressInfo).port }
  running.push(s)
  return s
}

async function healthz(port: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) })
  await res.arrayBuffer()
  return res.status
}

describe('connections that never authenticate', () => {
  it('are kept to the cap, oldest closed first, and /healthz still answers', async () => {
    const { port } = await served({ maxUnauthenticatedConnections: 20 })
    // headers started and never finished, as a slowloris client sends them
    const slow: Raw[] = []
    for (let i = 0; i < 200; i++) {
      const raw = new Raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
      slow.push(raw)
      await raw.connected
    }
    await eventually('all but 20 of them closed', () => slow.filter((s) => !s.closed).length === 20)
    // the survivors are the newest
    expect(slow.slice(0, 180).every((s) => s.closed)).toBe(true)
    expect(await healthz(port)).toBe(200)
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)
  })

  it('spare open streams, and count a kept-alive connection again once its request is answered', async () => {
    // timeouts far beyond the test, so only the cap can close the trickling connection
    const { h, port } = await served({
      maxUnauthenticatedConnections: 10,
      headersTimeoutMs: 60_000,
      requestTimeoutMs: 120_000,
    })
    const key = await h.key('server', 'production')
    // one valid request (a client key is public), then the connection trickles its next one: not exempt for it
    const keepAlive = new Raw(port, get('/sdk/v1/snapshot', key))
    await keepAlive.received('HTTP/1.1 200')
    await keepAlive.received('"flags"')
    keepAlive.socket.write('GET /sdk/v1/snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    const stream = new Raw(port, get('/sdk/v1/stream', key))
    await stream.received('event: put')

    const slow: Raw[] = []
    for (let i = 0; i < 100; i++) {
      const raw = new Raw(port)
      slow.push(raw)
      await raw.connected
    }
    await eventually('the unauthenticated ones down to 10', () => slow.filter((s) => !s.closed).length === 10)
    await eventually('the kept-alive connection closed as the oldest idle one', () => keepAlive.closed)
    expect(stream.closed).toBe(false)

    // a new connection with the key is served, and the stream still receives changes
    expect(
      (await fetch(`http://127.0.0.1:${port}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${key}` } })).status,
    ).toBe(200)
    const res = await h.call('PUT', `${A}/flags/after-flood`, { type: 'boolean', variants: { on: true, off: false } })
    expect(res.status).toBe(201)
    await stream.received('after-flood')
  })

  it('leave a burst of new connections above the cap time to authenticate', async () => {
    const { h, port } = await served({ maxUnauthenticatedConnections: 10 })
    const key = await h.key('server', 'production')
    // every SDK reconnecting at once after a deploy: all connected, none authenticated yet, for a moment (well
    // under the second the cap gives them)
    const burst = Array.from({ length: 100 }, () => new Raw(port))
    await Promise.all(burst.map((s) => s.connected))
    await sleep(200)
    for (const s of burst) s.socket.write(get('/sdk/v1/stream', key))
    for (const s of burst) await s.received('event: put')
    expect(burst.filter((s) => s.closed)).toHaveLength(0)
  })

  it('are closed when their headers take longer than the headers timeout', async () => {
    const { port } = await served({ headersTimeoutMs: 200 })
    const raw = new Raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    await eventually('the slow headers closed', () => raw.closed)
    expect(raw.text).toMatch(/^HTTP\/1\.1 408/)
  })
})

describe('request timeout', () => {
  it('closes a request whose body trickles in for longer than the request timeout', async () => {
    const { h, port } = await served({ requestTimeoutMs: 300 })
    const key = await h.key('server', 'production')
    const raw = new Raw(
      port,
      `POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"context":`,
    )
    // a byte now and then keeps the socket busy but never finishes the body
    const drip = setInterval(() => raw.socket.write(' '), 50)
    try {
      await eventually('the slow body closed', () => raw.closed)
    } finally {
      clearInterval(drip)
    }
    expect(raw.text).not.toContain('HTTP/1.1 200')
  })

  it('leaves streams open once their request has arrived', async () => {
    const { h, port } = await served({ requestTimeoutMs: 200, headersTimeoutMs: 100 })
    const serverKey = await h.key('server', 'production')
    const clientKey = await h.key('client', 'production')
    const sdk = new Raw(port, get('/sdk/v1/stream', serverKey))
    const body = '{"context":{"targetingKey":"u1"}}'
    const client = new Raw(
      port,
      `POST /client/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${clientKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    )
    await sdk.received('event: put')
    await client.received('event: put')
    // well past both timeouts (Node checks them every 50 ms here)
    await sleep(1_000)
    await h.call('PUT', `${A}/flags/late`, { type: 'boolean', variants: { on: true, off: false } })
    await sdk.received('late')
    await client.received('late')
    expect(sdk.closed || client.closed).toBe(false)
  })
})

describe('streams per client address', () => {
  it('refuses an address its next stream over the cap with 429, and admits another address', async () => {
    const { h, port } = await served({}, { streamLimits: { perAddress: 2 } })
    const keys = await Promise.all([1, 2, 3, 4].map(() => h.key('server', 'production')))
    const open = [new Raw(port, get('/sdk/v1/stream', keys[0])), new Raw(port, get('/sdk/v1/stream', keys[1]))]
    for (const s of open) await s.received('event: put')

    const refused = new Raw(port, get('/sdk/v1/stream', keys[2]))
    await refused.received('\r\n\r\n')
    expect(refused.text).toMatch(/^HTTP\/1\.1 429/)
    expect(refused.text.toLowerCase()).toContain('retry-after: 30')
    expect(refused.text.toLowerCase()).toContain('content-type: application/problem+json')
    expect(refused.text).toContain('this address already holds 2 open streams')

    // loopback is all of 127/8: another source address has its own count
    const elsewhere = new Raw(port, get('/sdk/v1/stream', keys[3]), '127.0.0.2')
    await elsewhere.received('event: put')

    open[0]!.socket.destroy()
    await eventually('the closed stream released', () => h.delivery.counts().sdk === 2)
    const again = new Raw(port, get('/sdk/v1/stream', keys[2]))
    await again.received('event: put')
  })
})
