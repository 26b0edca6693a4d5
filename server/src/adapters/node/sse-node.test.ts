/**
 * Streams on the Node fast path: the app served by `serveNode` on loopback, read by raw sockets that see every
 * byte on the wire (head, chunk framing), can stop reading, and can vanish without a goodbye.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { getRequestListener } from '@hono/node-server'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CloseReason } from '../../delivery/sse.js'
import { A } from '../../testing/api.js'
import { createHarness, type Harness, type HarnessOptions } from '../../testing/harness.js'
import { SseReader } from '../../testing/sse-reader.js'
import { serveNode } from './serve.js'
import { nodeStreamFetch } from './sse-node.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it holds; fails with `what` after `ms`. */
async function eventually(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

/** An HTTP client on a raw socket: writes the request as given and keeps every byte of the answer. */
class RawClient {
  readonly socket: net.Socket
  private readonly received: Buffer[] = []
  closed = false

  constructor(port: number, request: string) {
    this.socket = net.connect({ host: '127.0.0.1', port })
    this.socket.on('data', (chunk: Buffer) => this.received.push(chunk))
    this.socket.on('close', () => {
      this.closed = true
    })
    this.socket.on('error', () => {})
    this.socket.write(request)
  }

  /** Everything received, one char per byte. */
  get raw(): string {
    return Buffer.concat(this.received).toString('latin1')
  }

  get head(): string {
    return this.raw.slice(0, this.raw.indexOf('\r\n\r\n'))
  }

  /** The body's HTTP/1.1 chunks, decoded as UTF-8, in order (the terminating empty chunk included once sent). */
  chunks(): string[] {
    const bytes = Buffer.concat(this.received)
    let at = bytes.indexOf('\r\n\r\n') + 4
    const out: string[] = []
    for (;;) {
      const eol = bytes.indexOf('\r\n', at)
      if (eol === -1) return out
      const size = Number.parseInt(bytes.subarray(at, eol).toString('latin1'), 16)
      if (bytes.length < eol + 2 + size + 2) return out
      out.push(bytes.subarray(eol + 2, eol + 2 + size).toString('utf8'))
      at = eol + 2 + size + 2
    }
  }

  /** SSE blocks (events and comments) across chunks. */
  blocks(): string[] {
    return this.chunks()
      .join('')
      .split(/(?<=\n\n)/)
      .filter((b) => b.endsWith('\n\n'))
  }

  async until(what: string, check: (client: this) => boolean, ms = 5000): Promise<void> {
    await eventually(what, () => check(this), ms)
  }

  destroy(): void {
    this.socket.destroy()
  }
}

const get = (path: string, secret: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\n${extra}\r\n`
const post = (path: string, secret: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

interface Served {
  h: Harness
  port: number
  drops: CloseReason[]
  server: http.Server
}

let open: Served[] = []
afterEach(async () => {
  for (const { h, server } of open) {
    h.delivery.close()
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await h.close()
  }
  open = []
})

/** A harness whose app is served on loopback by `serveNode` (or by a Node server made by `server`). */
async function served(options: HarnessOptions = {}, server?: (app: Harness['app']) => http.Server): Promise<Served> {
  const drops: CloseReason[] = []
  const h = await createHarness({ environments: ['production'], ...options, onDropped: (_, r) => drops.push(r) })
  let node: http.Server
  if (server === undefined) node = (await serveNode(h.app, { port: 0, hostname: '127.0.0.1' })).server as http.Server
  else {
    node = server(h.app)
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve))
  }
  const s = { h, port: (node.address() as AddressInfo).port, drops, server: node }
  open.push(s)
  return s
}

const stringFlag = (value: string) => ({ type: 'string', variants: { a: value, b: 'b' } })

describe('SDK stream on the Node path', () => {
  it('writes the head and each event as one chunk, byte for byte what the Web path sends', async () => {
    const { h, port } = await served()
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    const key = await h.key('server', 'production')
    const client = new RawClient(port, get('/sdk/v1/stream', key))
    await client.until('the put', (c) => c.chunks().length >= 1)
    const web = new SseReader(
      (await h.app.request('/sdk/v1/stream', { headers: { authorization: `Bearer ${key}` } })).body,
    )
    const put = (await web.next()).raw
    const head = client.head.split('\r\n')
    expect(head[0]).toBe('HTTP/1.1 200 OK')
    expect(head.slice(1).map((l) => l.toLowerCase())).toEqual(
      expect.arrayContaining([
        'content-type: text/event-stream; charset=utf-8',
        'cache-control: no-cache, no-store, no-transform',
        'connection: keep-alive',
        'x-accel-buffering: no',
        'transfer-encoding: chunked',
      ]),
    )
    expect(client.head).not.toMatch(/x-hono-already-sent/i)
    expect(client.chunks()).toEqual([put])

    await h.call('POST', `${A}/environments/production/flags/f/kill`, { reason: 'incident' })
    await client.until('the patch', (c) => c.chunks().length >= 2)
    const patch = (await web.next()).raw
    expect(patch).toMatch(/^id: 2\nevent: patch\ndata: \{"op":"put","kind":"flag","key":"f","version":2,/)
    // with no backlog, no id-less copy: the one event is its own chunk, as on the Web path
    expect(client.chunks()).toEqual([put, patch])
    expect(client.raw.endsWith(`${Buffer.byteLength(patch).toString(16)}\r\n${patch}\r\n`)).toBe(true)
    await web.cancel()
    client.destroy()
  })

  it('drops a socket that stops reading, as slow, once its backlog passes the bound; a reading one stays', async () => {
    const { h, port, drops } = await served({ maxQueuedBytes: 512 * 1024 })
    await h.call('PUT', `${A}/flags/big`, stringFlag('x'))
    const key = await h.key('server', 'production')
    const stuck = new RawClient(port, get('/sdk/v1/stream', key))
    const reading = new RawClient(port, get('/sdk/v1/stream', key))
    await stuck.until('the put', (c) => c.chunks().length >= 1)
    await reading.until('the put', (c) => c.chunks().length >= 1)
    stuck.socket.pause()
    // ~100 KB per change: the kernel's socket buffers fill first, then Node's and ours
    for (let i = 0; i < 300 && h.delivery.counts().sdk === 2; i++) {
      await h.call('PUT', `${A}/flags/big`, stringFlag(`${i}`.padEnd(100_000, 'x')))
      // the clients share this event loop: let them read
      await sleep(5)
    }
    expect(h.delivery.counts().sdk).toBe(1)
    expect(drops).toEqual(['slow'])
    // the server let go of the socket instead of waiting for it to drain: reading again finds its end
    stuck.socket.resume()
    await stuck.until('the socket to close', (c) => c.closed)
    const v = h.hub.get('production')!.version
    await reading.until('every patch', (c) => c.blocks().some((b) => b.startsWith(`id: ${v}\n`)), 10_000)
    expect(reading.closed).toBe(false)
    reading.destroy()
  })

  it('sends a kill ahead of a backlog that waits on a socket that stopped reading; the original follows in order', async () => {
    const { h, port } = await served({ maxQueuedBytes: 64 * 1024 * 1024 })
    await h.call('PUT', `${A}/flags/big`, stringFlag('x'))
    await h.call('PUT', `${A}/flags/k`, { type: 'boolean', variants: { on: true, off: false } })
    const key = await h.key('server', 'production')
    const client = new RawClient(port, get('/sdk/v1/stream', key))
    await client.until('the put', (c) => c.chunks().length >= 1)
    client.socket.pause()
    // more than the kernel and Node buffer for a socket: the rest waits in the connection's own queue
    for (let i = 0; i < 24; i++) await h.call('PUT', `${A}/flags/big`, stringFlag(`${i}`.padEnd(900_000, 'x')))
    await h.call('POST', `${A}/environments/production/flags/k/kill`, { reason: 'incident' })
    const kill = h.hub.get('production')!.version
    client.socket.resume()
    await client.until('the kill, in order', (c) => c.blocks().some((b) => b.startsWith(`id: ${kill}\n`)), 20_000)
    const blocks = client.blocks()
    const ids = blocks.map((b) => /^id: (\d+)\n/.exec(b)?.[1] ?? 'copy')
    const copy = ids.indexOf('copy')
    // the copy came before some of the backlog, which then still arrived complete and in order, the kill last
    expect(copy).toBeGreaterThan(0)
    expect(copy).toBeLessThan(ids.length - 2)
    const ordered = ids.filter((id) => id !== 'copy').map(Number)
    expect(ordered).toEqual(Array.from({ length: ordered.length }, (_, i) => ordered[0]! + i))
    expect(ordered.at(-1)).toBe(kill)
    expect(blocks[copy]).toBe(blocks.at(-1)!.replace(`id: ${kill}\n`, ''))
    expect(JSON.parse(/^data: (.*)$/m.exec(blocks[copy]!)![1]!).value.killed).toBe(true)
    client.destroy()
  })

  it('releases the subscription of a socket destroyed or reset without a close, at once and as the client', async () => {
    // heartbeats far away: only the socket's close can release these
    const { h, port, drops } = await served({ heartbeatMs: 60_000 })
    const key = await h.key('server', 'production')
    const clients = Array.from({ length: 40 }, () => new RawClient(port, get('/sdk/v1/stream', key)))
    for (const c of clients) await c.until('the put', (x) => x.chunks().length >= 1)
    expect(h.delivery.counts().sdk).toBe(40)
    for (const [i, c] of clients.entries()) {
      if (i % 2 === 0) c.destroy()
      else c.socket.resetAndDestroy()
    }
    await eventually('every subscription to be released', () => h.delivery.counts().sdk === 0, 2000)
    await h.call('PUT', `${A}/flags/after`, { type: 'boolean', variants: { on: true, off: false } })
    expect(drops).toEqual([])
  })

  it('lets a stream outlive the server’s request, headers and keep-alive timeouts', async () => {
    const { h, port } = await served({}, (app) =>
      http.createServer(
        { requestTimeout: 300, headersTimeout: 200, keepAliveTimeout: 100, connectionsCheckingInterval: 50 },
        getRequestListener(nodeStreamFetch(app.fetch)),
      ),
    )
    const key = await h.key('server', 'production')
    const client = new RawClient(port, get('/sdk/v1/stream', key))
    await client.until('the put', (c) => c.chunks().length >= 1)
    await sleep(1200)
    await h.call('PUT', `${A}/flags/late`, { type: 'boolean', variants: { on: true, off: false } })
    await client.until('a patch after the timeouts', (c) => c.chunks().length >= 2)
    expect(client.closed).toBe(false)
    client.destroy()
  })

  it('ends the response when the server closes the stream: the last chunk, and the socket stays usable', async () => {
    const { h, port } = await served()
    const key = await h.key('server', 'production')
    const client = new RawClient(port, get('/sdk/v1/stream', key))
    await client.until('the put', (c) => c.chunks().length >= 1)
    h.delivery.replaced('production')
    await client.until('the last chunk', (c) => c.raw.endsWith('\r\n0\r\n\r\n'))
    expect(h.delivery.counts().sdk).toBe(0)
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    await client.until('the next answer on the same connection', (c) => c.raw.includes('"status":"ok"'))
    client.destroy()
  })

  it('serves a stream pipelined behind another request, and an HTTP/1.0 client without chunk framing', async () => {
    const { h, port } = await served()
    const key = await h.key('server', 'production')
    const pipelined = new RawClient(
      port,
      `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n${get('/sdk/v1/stream', key)}`,
    )
    await pipelined.until('the put after the health answer', (c) =>
      /"status":"ok".*\r\n\r\n[0-9a-f]+\r\nid: 0\nevent: put\n/s.test(c.raw),
    )
    const old = new RawClient(port, get('/sdk/v1/stream', key).replace('HTTP/1.1', 'HTTP/1.0'))
    await old.until('the put', (c) => c.raw.includes('\r\n\r\nid: 0\nevent: put\n'))
    expect(old.head).not.toMatch(/transfer-encoding/i)
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    await old.until('the patch, unframed', (c) => /\n\nid: 1\nevent: patch\ndata: [^\r]*\n\n$/.test(c.raw))
    pipelined.destroy()
    old.destroy()
  })

  it('releases a stream still waiting behind another on its connection when the client leaves', async () => {
    // heartbeats far away: only the socket's close can release the one that never got the socket
    const { h, port, drops } = await served({ heartbeatMs: 60_000 })
    const key = await h.key('server', 'production')
    const both = new RawClient(port, `${get('/sdk/v1/stream', key)}${get('/sdk/v1/stream', key)}`)
    await both.until('the first put', (c) => c.chunks().length >= 1)
    await eventually('both subscriptions', () => h.delivery.counts().sdk === 2)
    both.destroy()
    await eventually('both subscriptions to be released', () => h.delivery.counts().sdk === 0, 2000)
    expect(drops).toEqual([])
  })

  it('answers HEAD with the head alone and opens no stream', async () => {
    const { h, port } = await served()
    const key = await h.key('server', 'production')
    const open = vi.spyOn(h.delivery, 'open')
    const client = new RawClient(port, get('/sdk/v1/stream', key).replace('GET', 'HEAD'))
    await client.until('the head', (c) => c.raw.includes('\r\n\r\n'))
    expect(client.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    await sleep(50)
    expect(client.raw.endsWith('\r\n\r\n')).toBe(true)
    expect(h.delivery.counts().sdk).toBe(0)
    // not subscribed and primed, only to be closed: nothing was opened
    expect(open).not.toHaveBeenCalled()
    client.destroy()
  })

  it.each([
    ['an SDK stream (GET)', 'server' as const, (key: string) => get('/sdk/v1/stream', key)],
    [
      'a client stream (POST with a body)',
      'client' as const,
      (key: string) => post('/client/v1/stream', key, JSON.stringify({ context: { targetingKey: 'u-1' } })),
    ],
  ])('keeps neither the request objects nor the hono context alive while %s is open', async (_, kind, request) => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const refs: WeakRef<object>[] = []
    const { h, port } = await served({}, (app) =>
      http.createServer(
        getRequestListener(
          nodeStreamFetch((request, env: object) => {
            // the adapter's lightweight Request, and the bindings object the hono Context holds as `c.env`
            refs.push(new WeakRef(request), new WeakRef(env))
            return app.fetch(request, env)
          }),
        ),
      ),
    )
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    const key = await h.key(kind, 'production')
    const client = new RawClient(port, request(key))
    await client.until('the put', (c) => c.chunks().length >= 1)
    expect(refs).toHaveLength(2)
    for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
      await sleep(20)
      gc()
    }
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true])
    // a change that flips the value, so that a client stream gets a patch as well
    await h.call('PUT', `${A}/environments/production/flags/f`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
    await client.until('a patch', (c) => c.chunks().length >= 2)
    client.destroy()
  })
})

describe('client stream on the Node path', () => {
  it('reads the context from the IncomingMessage, chunked or not, and adds CORS headers as the Web path does', async () => {
    const { h, port } = await served()
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    await h.call('PUT', `${A}/environments/production/flags/f`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
    const key = await h.key('client', 'production', ['https://app.example'])
    const body = JSON.stringify({ context: { targetingKey: 'user-1' } })
    const origin = 'Origin: https://app.example\r\n'
    const plain = new RawClient(port, post('/client/v1/stream', key, body, origin))
    const chunked = new RawClient(
      port,
      `POST /client/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `5\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`,
    )
    for (const c of [plain, chunked]) await c.until('the put', (x) => x.chunks().length >= 1)
    const web = await h.app.request('/client/v1/stream', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, origin: 'https://app.example' },
      body,
    })
    // headers first: reading the body of @hono/node-server's Response rebuilds it from the handler's headers
    expect(web.headers.get('access-control-allow-origin')).toBe('https://app.example')
    const webReader = new SseReader(web.body)
    const put = await webReader.block()
    expect(plain.chunks()).toEqual([put])
    expect(chunked.chunks()).toEqual([put])
    const headers = (head: string) =>
      head
        .split('\r\n')
        .slice(1)
        .map((l) => l.toLowerCase())
        .filter((l) => l.startsWith('access-control-') || l.startsWith('vary'))
    expect(headers(plain.head)).toEqual([
      'access-control-allow-origin: https://app.example',
      'access-control-expose-headers: etag, retry-after',
      'vary: origin',
    ])
    await h.call('POST', `${A}/environments/production/flags/f/kill`, { reason: 'incident' })
    for (const c of [plain, chunked]) await c.until('the patch', (x) => x.chunks().length >= 2)
    expect(plain.chunks()[1]).toMatch(/^id: \d+\nevent: patch\ndata: \{"flags":\{"f":\{"value":false/)
    await webReader.cancel()
    plain.destroy()
    chunked.destroy()
  })

  it('answers 413 for a body over 1 MiB, with or without Content-Length, and opens no stream', async () => {
    const { h, port } = await served()
    const key = await h.key('client', 'production')
    const big = JSON.stringify({ context: { targetingKey: 'x'.repeat(1024 * 1024) } })
    const declared = new RawClient(port, post('/client/v1/stream', key, big))
    const size = big.length.toString(16)
    const chunked = new RawClient(
      port,
      `POST /client/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${big}\r\n0\r\n\r\n`,
    )
    for (const c of [declared, chunked]) {
      await c.until('the answer', (x) => x.raw.includes('\r\n\r\n'))
      expect(c.head).toMatch(/^HTTP\/1\.1 413 /)
    }
    expect(h.delivery.counts().client).toBe(0)
    declared.destroy()
    chunked.destroy()
  })
})

describe('OFREP event stream on the Node path', () => {
  it('notifies after each change', async () => {
    const { h, port } = await served()
    const key = await h.key('server', 'production')
    const bulk = await h.app.request('/ofrep/v1/evaluate/flags', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: {} }),
    })
    const { eventStreams } = (await bulk.json()) as { eventStreams: { endpoint: { requestUri: string } }[] }
    const url = new URL(eventStreams[0]!.endpoint.requestUri, 'http://127.0.0.1')
    const client = new RawClient(port, `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    await client.until('the head', (c) => c.raw.includes('\r\n\r\n'))
    expect(client.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    await eventually('the subscription', () => h.delivery.counts().events === 1)
    await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
    await client.until('the notification', (c) => c.chunks().length >= 1)
    expect(client.chunks()[0]).toMatch(/^id: 1\nevent: message\ndata: \{"type":"refetchEvaluation","etag":"1",/)
    client.destroy()
    await eventually('the release', () => h.delivery.counts().events === 0)
  })
})

describe('OFREP evaluation bodies on the Node path', () => {
  /** The JSON body of a response with Content-Length, once all of it arrived. */
  const bodyOf = (raw: string) => {
    const end = raw.indexOf('\r\n\r\n')
    const length = /\r\ncontent-length: (\d+)/i.exec(raw.slice(0, end))
    if (end === -1 || length === null || raw.length < end + 4 + Number(length[1])) return undefined
    return JSON.parse(raw.slice(end + 4))
  }

  it('reads the context from the IncomingMessage, with Content-Length or chunked, as the Web path does', async () => {
    const { h, port } = await served()
    await h.call('PUT', `${A}/flags/f`, stringFlag('A'))
    await h.call('PUT', `${A}/environments/production/flags/f`, {
      enabled: true,
      offVariant: 'b',
      rules: [{ id: 'nl', clauses: [{ attribute: 'country', op: 'eq', values: ['NL'] }], serve: { variant: 'a' } }],
      fallthrough: { variant: 'b' },
    })
    const key = await h.key('server', 'production')
    const body = JSON.stringify({ context: { targetingKey: 'u-1', country: 'NL' } })
    const declared = new RawClient(port, post('/ofrep/v1/evaluate/flags/f', key, body))
    const half = Math.floor(body.length / 2)
    const chunked = new RawClient(
      port,
      `POST /ofrep/v1/evaluate/flags/f HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${half.toString(16)}\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`,
    )
    const web = await h.app.request('/ofrep/v1/evaluate/flags/f', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
    })
    const expected = await web.json()
    expect(expected).toMatchObject({ key: 'f', value: 'A', variant: 'a', metadata: { ruleId: 'nl' } })
    await declared.until('the answer', (c) => bodyOf(c.raw) !== undefined)
    expect(bodyOf(declared.raw)).toEqual(expected)
    await chunked.until('the answer', (c) => bodyOf(c.raw) !== undefined)
    expect(chunked.head).toMatch(/^HTTP\/1\.1 200 /)
    expect(bodyOf(chunked.raw)).toEqual(expected)
    declared.destroy()
    chunked.destroy()
  })

  it('answers 413 for a bulk body over 1 MiB, with or without Content-Length', async () => {
    const { h, port } = await served()
    const key = await h.key('server', 'production')
    const big = JSON.stringify({ context: { targetingKey: 'x'.repeat(1024 * 1024) } })
    const declared = new RawClient(port, post('/ofrep/v1/evaluate/flags', key, big))
    const chunked = new RawClient(
      port,
      `POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    )
    for (const c of [declared, chunked]) {
      await c.until('the answer', (x) => x.raw.includes('\r\n\r\n'))
      expect(c.head).toMatch(/^HTTP\/1\.1 413 /)
      expect(c.head.toLowerCase()).toContain('content-type: application/problem+json')
    }
    declared.destroy()
    chunked.destroy()
  })
})
