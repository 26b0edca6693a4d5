/**
 * @module test/integration/sdk-node-support
 * What the Node SDK suites add to `test/support/server.ts`: a TCP proxy that can stall, cut and delay a stream
 * (and counts the HTTP requests through it), an HTTP front that captures outcome reports and forwards the rest
 * to a real server, a server that accepts connections and never answers, and bounded waiting.
 *
 * The SDK under test is the built package, `sdk-node/dist`.
 */
import { once } from 'node:events'
import { createServer as createHttpServer, type Server as HttpServer, request as httpRequest } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Snapshot } from '@vane/engine'
import type { VaneClient } from '../../sdk-node/dist/index.js'
import type { Vane } from '../support/server.js'
import { sleep } from '../support/wait.js'

export { sleep }

/** Waits until `check` returns a truthy value (polled every `everyMs`), or throws `describe()` after `timeoutMs`. */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  timeoutMs: number,
  describe: () => string = () => 'condition',
  everyMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`)
    await sleep(everyMs)
  }
}

/** A TCP server that accepts every connection and never sends a byte. */
export async function silentServer(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let count = 0
  const server = createServer((socket) => {
    count++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

const REQUEST_LINE = /(GET|POST|PUT|DELETE|HEAD|PATCH) (\S+) HTTP\/1\.[01]\r\n/g

/**
 * A TCP proxy in front of a server. `stall()` stops forwarding in both directions (on open and new
 * connections) until `resume()`; `cut()` destroys every connection; `delayMs` holds each chunk that long.
 * Every HTTP request line sent through it is recorded in `requests` (e.g. `GET /sdk/v1/stream`).
 */
export class TcpProxy {
  readonly requests: string[] = []
  delayMs = 0
  private stalled = false
  private resumed: Promise<void> = Promise.resolve()
  private release: () => void = () => {}
  private readonly sockets = new Set<Socket>()

  private constructor(
    private readonly server: Server,
    readonly port: number,
    public target: { host: string; port: number },
  ) {}

  static async start(target: string | { host: string; port: number }): Promise<TcpProxy> {
    const to =
      typeof target === 'string' ? { host: new URL(target).hostname, port: Number(new URL(target).port) } : target
    let proxy: TcpProxy | undefined
    const server = createServer((socket) => proxy?.accept(socket))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    proxy = new TcpProxy(server, (server.address() as { port: number }).port, to)
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Request lines seen for one path. */
  count(path: string): number {
    return this.requests.filter((r) => r.endsWith(` ${path}`) || r.includes(` ${path}?`)).length
  }

  /** Open client connections. */
  get connections(): number {
    return this.sockets.size
  }

  stall(): void {
    if (this.stalled) return
    this.stalled = true
    this.resumed = new Promise<void>((resolve) => {
      this.release = resolve
    })
  }

  resume(): void {
    this.stalled = false
    this.release()
  }

  /** Destroys every open connection, both sides. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy()
  }

  async close(): Promise<void> {
    this.resume()
    this.cut()
    this.server.close()
    await once(this.server, 'close')
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host)
    this.sockets.add(client)
    this.sockets.add(upstream)
    let pending = ''
    const countRequests = (chunk: Buffer) => {
      pending += chunk.toString('latin1')
      let end = 0
      for (const match of pending.matchAll(REQUEST_LINE)) {
        this.requests.push(`${match[1]} ${match[2]}`)
        end = match.index + match[0].length
      }
      pending = pending.slice(end).slice(-256)
    }
    this.pipe(client, upstream, countRequests)
    this.pipe(upstream, client)
  }

  private pipe(from: Socket, to: Socket, observe?: (chunk: Buffer) => void): void {
    let chain = Promise.resolve()
    const later = (step: () => void) => {
      chain = chain.then(async () => {
        if (this.delayMs > 0) await sleep(this.delayMs)
        while (this.stalled && !to.destroyed) await this.resumed
        step()
      })
    }
    from.on('data', (chunk: Buffer) => {
      observe?.(chunk)
      later(() => {
        if (!to.destroyed) to.write(chunk)
      })
    })
    from.on('end', () => later(() => to.end()))
    from.on('error', () => {})
    from.on('close', () => {
      this.sockets.delete(from)
      later(() => to.destroy())
    })
  }
}

/** What the outcomes endpoint of {@link OutcomeFront} answers. */
export type OutcomeAnswer = 'ok' | 'fail' | 'hang'

/**
 * An HTTP server posing as the Vane URL: `POST /sdk/v1/outcomes` is captured here (the real server may not
 * have it yet), everything else is forwarded to the real server, streaming.
 */
export class OutcomeFront {
  readonly reports: { headers: Record<string, string | string[] | undefined>; body: unknown }[] = []
  answer: OutcomeAnswer = 'ok'
  attempts = 0
  private readonly hanging = new Set<import('node:http').ServerResponse>()

  private constructor(
    private readonly server: HttpServer,
    readonly url: string,
  ) {}

  static async start(target: string): Promise<OutcomeFront> {
    const upstream = new URL(target)
    let front: OutcomeFront | undefined
    const server = createHttpServer((req, res) => {
      if (req.method === 'POST' && req.url === '/sdk/v1/outcomes') {
        const chunks: Buffer[] = []
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => {
          const self = front!
          self.attempts++
          if (self.answer === 'hang') {
            self.hanging.add(res)
            res.on('close', () => self.hanging.delete(res))
            return
          }
          if (self.answer === 'fail') {
            res.writeHead(500).end('{"title":"boom"}')
            return
          }
          self.reports.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
          res.writeHead(204).end()
        })
        return
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        },
      )
      forward.on('error', () => res.destroy())
      res.on('close', () => forward.destroy())
      req.pipe(forward)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    front = new OutcomeFront(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`)
    return front
  }

  /** Breaks every outcome request left hanging, so its sender sees a failure. */
  release(): void {
    for (const res of this.hanging) res.destroy()
  }

  async close(): Promise<void> {
    this.release()
    this.server.closeAllConnections()
    this.server.close()
    await once(this.server, 'close')
  }
}

/** GET /sdk/v1/snapshot with a server key. */
export async function serverSnapshot(url: string, sdkKey: string): Promise<Snapshot> {
  const res = await fetch(`${url}/sdk/v1/snapshot`, {
    headers: { authorization: `Bearer ${sdkKey}` },
    signal: AbortSignal.timeout(10_000),
  })
  if (res.status !== 200) throw new Error(`GET /sdk/v1/snapshot answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as Snapshot
}

/** The ruleset the client evaluates against right now (a test-only look at its private evaluator). */
export function clientSnapshot(client: VaneClient): Snapshot | undefined {
  const evaluator = (client as unknown as { evaluator?: { snapshot(): Snapshot } }).evaluator
  return evaluator === undefined ? undefined : (JSON.parse(JSON.stringify(evaluator.snapshot())) as Snapshot)
}

/** Waits until the client's ruleset equals the server's snapshot (same version, same flags and cohorts). */
export async function waitConverged(client: VaneClient, url: string, sdkKey: string, timeoutMs = 15_000) {
  let last = ''
  await waitUntil(
    async () => {
      const server = await serverSnapshot(url, sdkKey)
      const local = clientSnapshot(client)
      last = `server v${server.version}, client v${local?.version} (${client.status})`
      return local !== undefined && sameSnapshot(local, server)
    },
    timeoutMs,
    () => `the SDK to converge to GET /sdk/v1/snapshot: ${last}`,
    50,
  )
}

function sameSnapshot(a: Snapshot, b: Snapshot): boolean {
  return canonical(a) === canonical(b)
}

/** JSON with object keys sorted, so key order (Map insertion order) does not matter. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)))
      : v,
  )
}

/** One environment with a server key, through the admin API only. */
export async function environmentWithKey(vane: Vane, environment: string): Promise<{ key: string; keyId: string }> {
  await vane.admin('POST', '/admin/v1/environments', { key: environment }, [201])
  const reply = await vane.admin(
    'POST',
    '/admin/v1/keys',
    { kind: 'server', name: `sdk-${environment}`, environment },
    [201],
  )
  const { secret, id } = reply.json as { secret: string; id: string }
  return { key: secret, keyId: id }
}

/** A boolean flag `on`/`off`, enabled in `environment`, serving `serve` to everyone. */
export async function booleanFlag(vane: Vane, environment: string, key: string, serve: 'on' | 'off' = 'on') {
  await vane.admin('PUT', `/admin/v1/flags/${key}`, { type: 'boolean', variants: { on: true, off: false } })
  await targeting(vane, environment, key, { enabled: true, offVariant: 'off', fallthrough: { variant: serve } })
}

/** Replaces a flag's targeting in one environment. */
export async function targeting(vane: Vane, environment: string, key: string, body: Record<string, unknown>) {
  await vane.admin('PUT', `/admin/v1/environments/${environment}/flags/${key}`, body, [200])
}

/** Kills (or unkills) a flag in one environment. */
export async function kill(vane: Vane, environment: string, key: string, killed = true) {
  await vane.admin(
    'POST',
    `/admin/v1/environments/${environment}/flags/${key}/${killed ? 'kill' : 'unkill'}`,
    { reason: 'sdk-node integration test' },
    [200],
  )
}
