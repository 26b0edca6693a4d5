/**
 * Streams against a real `vane serve` process over loopback sockets:
 *
 * 1. A thousand stream connections dropped abruptly (destroyed or reset, some before the response even
 *    started) leave nothing behind: `vane_open_streams` returns to its baseline and the heap to near its own.
 * 2. A thousand disconnects and reconnects with `Last-Event-ID` while writers make hundreds of changes end with
 *    the client's copy, built only from `put`/`patch`/`delete` events, equal to `GET /sdk/v1/snapshot`, and
 *    every resumed stream carries exactly the events missed: no gap, no duplicate.
 *
 * The server runs with `VANE_HEARTBEAT_MS=200`: a connection whose socket closed before its response was wired
 * to it is only noticed by the heartbeat, so a short one keeps the test short.
 */
import http from 'node:http'
import net from 'node:net'
import { compileSnapshot, type Evaluator, type Snapshot, type SnapshotPatch } from '@vane/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mapLimit, sleep, type Vane, VaneServers } from '../support/server.js'

const ENV = 'production'
const HEARTBEAT_MS = 200

/** One event of a stream, parsed by {@link SseParser}. */
interface SseEvent {
  id?: string
  event: string
  data: string
}

/** A minimal SSE parser: feed it text as it arrives, it returns the complete events (comments dropped). */
class SseParser {
  private buffer = ''
  comments = 0

  push(text: string): SseEvent[] {
    this.buffer += text
    const events: SseEvent[] = []
    for (let end = this.buffer.indexOf('\n\n'); end !== -1; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const event: SseEvent = { event: 'message', data: '' }
      const data: string[] = []
      let fields = 0
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        fields++
        if (field === 'id') event.id = value
        else if (field === 'event') event.event = value
        else if (field === 'data') data.push(value)
      }
      if (fields === 0) {
        this.comments++
        continue
      }
      event.data = data.join('\n')
      events.push(event)
    }
    return events
  }
}

/** Values of `/metrics` lines such as `vane_open_streams{kind="sdk"} 3`, by the text before the value. */
async function metrics(vane: Vane): Promise<Map<string, number>> {
  const res = await fetch(`${vane.url}/metrics`, { signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  expect(res.status, text.slice(0, 500)).toBe(200)
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

const openStreams = async (vane: Vane) => {
  const m = await metrics(vane)
  const kinds = ['sdk', 'client', 'events'] as const
  return Object.fromEntries(kinds.map((k) => [k, m.get(`vane_open_streams{kind="${k}"}`)])) as Record<
    (typeof kinds)[number],
    number | undefined
  >
}

/**
 * Node options for the server of the heap check: `--expose-gc` plus a preloaded one-liner that runs a full
 * collection on SIGUSR2. Only this test's process opts in; the server itself has no such switch. Without it the
 * heap is at the mercy of when V8 next collects, which makes "returns to its baseline" unmeasurable.
 */
const GC_ON_SIGNAL = `--expose-gc --import=data:text/javascript,${encodeURIComponent(
  "process.on('SIGUSR2', () => globalThis.gc())",
)}`

/** The smallest heap (bytes used) seen over `samples` scrapes, each after a full collection. */
async function settledHeap(vane: Vane, samples = 4): Promise<number> {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < samples; i++) {
    vane.server.child.kill('SIGUSR2')
    await sleep(250)
    const used = (await metrics(vane)).get('vane_nodejs_heap_size_used_bytes')
    expect(used, 'vane_nodejs_heap_size_used_bytes in /metrics').toBeTypeOf('number')
    min = Math.min(min, used!)
  }
  return min
}

type DropMode = 'before-response' | 'after-headers' | 'after-put'

interface RawStream {
  socket: net.Socket
  /** Resolves once the socket saw what `mode` waits for (or closed). */
  ready: Promise<void>
}

/** Opens one stream on a raw socket and writes the request by hand. */
function openRaw(vane: Vane, request: string, mode: DropMode): RawStream {
  const { hostname, port } = new URL(vane.url)
  const socket = net.connect({ host: hostname, port: Number(port) })
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  const ready = new Promise<void>((resolve) => {
    let text = ''
    socket.once('close', () => resolve())
    socket.once('connect', () => {
      socket.write(request)
      if (mode === 'before-response') resolve()
    })
    socket.on('data', (chunk: string) => {
      text += chunk
      const head = text.indexOf('\r\n\r\n')
      if (head === -1) return
      if (mode === 'after-headers' || text.indexOf('\n\n', head + 4) !== -1) resolve()
    })
  })
  return { socket, ready }
}

/** Drops a socket without a clean close: a plain destroy (FIN) or a reset (RST), alternately. */
function dropAbruptly(socket: net.Socket, i: number): void {
  if (i % 2 === 0 && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

describe('abrupt disconnects against a real server', () => {
  const servers = new VaneServers()
  let vane: Vane
  let serverKey: string
  let clientKey: string
  beforeAll(async () => {
    vane = await servers.start({ VANE_HEARTBEAT_MS: String(HEARTBEAT_MS), NODE_OPTIONS: GC_ON_SIGNAL })
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    await vane.admin('PUT', '/admin/v1/flags/banner', { type: 'boolean', variants: { on: true, off: false } }, [201])
    await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/banner`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
    serverKey = await vane.createKey({ kind: 'server', environment: ENV })
    clientKey = await vane.createKey({ kind: 'client', environment: ENV })
  })
  afterAll(() => servers.stopAll())

  it('1,000 streams dropped without a clean close leave no open streams and no heap behind', async () => {
    const body = JSON.stringify({ context: { targetingKey: 'user-1', plan: 'pro' } })
    const requests = {
      sdk: `GET /sdk/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${serverKey}\r\nAccept: text/event-stream\r\n\r\n`,
      client:
        `POST /client/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${clientKey}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    }
    const open = (i: number) => {
      const kind = i % 3 === 0 ? 'client' : 'sdk'
      const mode: DropMode = i % 10 === 0 ? 'before-response' : i % 10 < 4 ? 'after-headers' : 'after-put'
      return { kind, mode, stream: openRaw(vane, requests[kind], mode) }
    }

    // warm up every path once, so the baseline heap already holds what the first streams allocate lazily
    const warm = Array.from({ length: 60 }, (_, i) => open(i))
    await Promise.all(warm.map((w) => w.stream.ready))
    warm.forEach((w, i) => {
      dropAbruptly(w.stream.socket, i)
    })
    await waitFor(async () => {
      const s = await openStreams(vane)
      return s.sdk === 0 && s.client === 0
    }, 10_000)
    const baseStreams = await openStreams(vane)
    expect(baseStreams).toEqual({ sdk: 0, client: 0, events: 0 })
    const baseHeap = await settledHeap(vane)

    // 1,000 streams, opened 100 at a time and all held open together
    const streams = await mapLimit(
      Array.from({ length: 1000 }, (_, i) => i),
      100,
      async (i) => {
        const s = open(i)
        if (s.mode === 'before-response') {
          // the race the heartbeat closes: gone before the server has even answered
          await s.stream.ready
          dropAbruptly(s.stream.socket, i)
        }
        return s
      },
    )
    await Promise.all(streams.map((s) => s.stream.ready))
    const held = streams.filter((s) => s.mode !== 'before-response')
    const stillOpen = held.filter((s) => !s.stream.socket.destroyed).length
    expect(stillOpen, 'sockets the server closed on its own').toBe(held.length)
    const during = await openStreams(vane)
    // every held stream is open on the server (the ones dropped before their response may or may not be yet)
    expect((during.sdk ?? 0) + (during.client ?? 0)).toBeGreaterThanOrEqual(held.length)

    held.forEach((s, i) => {
      dropAbruptly(s.stream.socket, i)
    })

    // each drop is noticed: at once through the socket's close, or by the heartbeat for the early ones
    let last = during
    const settled = await waitFor(async () => {
      last = await openStreams(vane)
      return last.sdk === baseStreams.sdk && last.client === baseStreams.client && last.events === baseStreams.events
    }, 15_000)
    expect(settled, `open streams still ${JSON.stringify(last)}, baseline ${JSON.stringify(baseStreams)}`).toBe(true)

    // force the work through: a change fanned out to nobody, and a round of ordinary requests
    await vane.admin('POST', `/admin/v1/environments/${ENV}/flags/banner/kill`, { reason: 'after the drops' }, [200])
    await mapLimit(
      Array.from({ length: 200 }, (_, i) => i),
      20,
      async () => {
        const res = await fetch(`${vane.url}/ofrep/v1/evaluate/flags/banner`, {
          method: 'POST',
          headers: { authorization: `Bearer ${serverKey}`, 'content-type': 'application/json' },
          body,
        })
        await res.arrayBuffer()
      },
    )
    const heap = await settledHeap(vane)
    const growthMb = (heap - baseHeap) / 1024 / 1024
    expect(
      growthMb,
      `heap ${(heap / 1048576).toFixed(1)} MB vs ${(baseHeap / 1048576).toFixed(1)} MB before`,
    ).toBeLessThan(5)
  }, 90_000)
})

/** Polls `check` every 100 ms until it holds or `ms` passed. */
async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await sleep(100)
  }
}

/** Sorts cohort member lists: they are sets, and only their contents are state. */
function normalise(snapshot: Snapshot): Snapshot {
  const copy = structuredClone(snapshot)
  for (const cohort of Object.values(copy.cohorts)) {
    cohort.include?.sort()
    cohort.exclude?.sort()
  }
  return copy
}

/**
 * A server SDK in miniature: keeps a copy of the environment from `put`/`patch`/`delete` events and resumes
 * with `Last-Event-ID`. Records every break of the resume contract it sees.
 */
class StreamClient {
  evaluator: Evaluator | undefined
  lastId: number | undefined
  readonly problems: string[] = []
  readonly stats = { connects: 0, puts: 0, patches: 0, urgentCopies: 0, heartbeats: 0 }

  constructor(
    private readonly vane: Vane,
    private readonly secret: string,
    readonly name: string,
  ) {}

  private apply(event: SseEvent): void {
    if (event.id === undefined) {
      // a kill sent ahead of a backlog; the same event follows with its id, in order
      this.stats.urgentCopies++
      return
    }
    const id = Number(event.id)
    if (event.event === 'put') {
      this.evaluator = compileSnapshot(JSON.parse(event.data))
      this.lastId = id
      this.stats.puts++
      if (this.evaluator.version !== id) this.problems.push(`put id ${id} carries version ${this.evaluator.version}`)
      return
    }
    if (event.event !== 'patch' && event.event !== 'delete') {
      this.problems.push(`unexpected event ${event.event}`)
      return
    }
    if (this.evaluator === undefined || this.lastId === undefined) {
      this.problems.push(`${event.event} ${id} before any put`)
      return
    }
    if (id !== this.lastId + 1) {
      this.problems.push(`${event.event} ${id} after ${this.lastId}: ${id <= this.lastId ? 'duplicate' : 'gap'}`)
      if (id <= this.lastId) return
    }
    try {
      this.evaluator = this.evaluator.apply(JSON.parse(event.data) as SnapshotPatch)
    } catch (error) {
      this.problems.push(`applying ${id}: ${error instanceof Error ? error.message : error}`)
    }
    this.lastId = id
    this.stats.patches++
  }

  /**
   * One connection: resumes after `lastId`, reads until `stop` says so (given the events so far on this
   * connection and the milliseconds since it opened) or `maxMs` passed, then drops the socket abruptly: with a
   * reset when `reset`, and as soon as the request is written (before any answer) when `atOnce`.
   */
  connect(stop: (events: number, ms: number) => boolean, maxMs: number, reset = false, atOnce = false): Promise<void> {
    const { hostname, port } = new URL(this.vane.url)
    const headers: Record<string, string> = { authorization: `Bearer ${this.secret}`, accept: 'text/event-stream' }
    if (this.lastId !== undefined) headers['last-event-id'] = String(this.lastId)
    this.stats.connects++
    return new Promise<void>((resolve) => {
      const started = Date.now()
      let events = 0
      let finished = false
      const req = http.request({ host: hostname, port: Number(port), path: '/sdk/v1/stream', headers, agent: false })
      const finish = () => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        const socket = req.socket
        if (socket !== null && reset && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
        else req.destroy()
        resolve()
      }
      const timer = setTimeout(finish, maxMs)
      req.on('error', finish)
      req.on('close', finish)
      if (atOnce) req.on('finish', finish)
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          this.problems.push(`stream answered ${res.statusCode}`)
          finish()
          return
        }
        const parser = new SseParser()
        res.setEncoding('utf8')
        res.on('error', finish)
        res.on('data', (chunk: string) => {
          if (finished) return
          for (const event of parser.push(chunk)) {
            this.apply(event)
            events++
          }
          this.stats.heartbeats = parser.comments
          if (stop(events, Date.now() - started)) finish()
        })
        res.on('end', finish)
        if (stop(0, Date.now() - started)) finish()
      })
      req.end()
    })
  }
}

describe('reconnects with Last-Event-ID during a burst of changes, against a real server', () => {
  const servers = new VaneServers()
  let vane: Vane
  let serverKey: string
  const FLAGS = 8
  beforeAll(async () => {
    vane = await servers.start({ VANE_HEARTBEAT_MS: String(HEARTBEAT_MS) })
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    await vane.admin('PUT', '/admin/v1/cohorts/crowd', { include: ['u0'] }, [201])
    for (let i = 0; i < FLAGS; i++)
      await vane.admin('PUT', `/admin/v1/flags/f${i}`, { type: 'string', variants: { a: 'A', b: 'B', c: 'C' } }, [201])
    serverKey = await vane.createKey({ kind: 'server', environment: ENV })
  })
  afterAll(() => servers.stopAll())

  it('1,000 drops and resumes end with the client equal to the snapshot, every event exactly once', async () => {
    // a seeded generator, so a failing run can be replayed
    let seed = 0x5eed
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const variants = ['a', 'b', 'c'] as const
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`)

    /** One random admin change; resolves with whether it was accepted. */
    let extra = 0
    const change = async (): Promise<boolean> => {
      const flag = `f${Math.floor(random() * FLAGS)}`
      const roll = random()
      let path: string
      let method = 'POST'
      let body: unknown
      if (roll < 0.4) {
        method = 'PUT'
        path = `/admin/v1/environments/${ENV}/flags/${flag}`
        body = {
          enabled: random() < 0.8,
          offVariant: pick(variants),
          fallthrough: { variant: pick(variants) },
          targets: { [pick(variants)]: [pick(users)] },
          rules: [{ id: 'r1', cohorts: ['crowd'], serve: { variant: pick(variants) } }],
        }
      } else if (roll < 0.55) {
        path = `/admin/v1/environments/${ENV}/flags/${flag}/${random() < 0.5 ? 'kill' : 'unkill'}`
        body = { reason: 'burst' }
      } else if (roll < 0.75) {
        method = random() < 0.6 ? 'POST' : 'DELETE'
        path = '/admin/v1/cohorts/crowd/members'
        body = { include: [pick(users), pick(users)] }
      } else if (roll < 0.85) {
        method = 'PUT'
        path = `/admin/v1/flags/${flag}`
        body = { type: 'string', variants: { a: 'A', b: 'B', c: 'C' }, description: `d${Math.floor(random() * 1e6)}` }
      } else {
        // a flag of its own, created and archived again: puts and deletes
        const key = `extra-${extra++ % 5}`
        method = random() < 0.5 ? 'PUT' : 'DELETE'
        path = `/admin/v1/flags/${key}`
        body = method === 'PUT' ? { type: 'boolean', variants: { on: true, off: false } } : undefined
      }
      const reply = await vane.server.call(method, path, body)
      if (reply.status >= 500) throw new Error(`${method} ${path} answered ${reply.status}: ${reply.text}`)
      return reply.status >= 200 && reply.status < 300
    }

    const clients = Array.from({ length: 4 }, (_, i) => new StreamClient(vane, serverKey, `client-${i}`))
    const CYCLES = 250
    let clientsDone = false
    let accepted = 0
    const writers = Array.from({ length: 3 }, async () => {
      // at least 200 changes in all, and more while the clients are still cycling (bounded)
      for (let n = 0; n < 1000 && (!clientsDone || accepted < 200); n++) {
        if (await change()) accepted++
        await sleep(random() * 4)
      }
    })
    // the first connect of each client gets the put; every later one resumes
    for (const client of clients) await client.connect(() => client.lastId !== undefined, 5_000)
    expect(clients.map((c) => c.stats.puts)).toEqual([1, 1, 1, 1])
    const cycling = Promise.all(
      clients.map(async (client) => {
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          // alternately dropped at once (before or right after the answer), or after a few events or milliseconds
          const quick = cycle % 2 === 0
          const wanted = 1 + Math.floor(random() * 6)
          const ms = random() * 40
          await client.connect(
            (events, elapsed) => quick || events >= wanted || elapsed >= ms,
            2_000,
            cycle % 4 < 2,
            cycle % 6 === 0,
          )
        }
      }),
    ).finally(() => {
      clientsDone = true
    })
    await Promise.all([cycling, ...writers])
    expect(accepted).toBeGreaterThanOrEqual(200)

    const res = await fetch(`${vane.url}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${serverKey}` } })
    expect(res.status).toBe(200)
    const snapshot = (await res.json()) as Snapshot
    expect(snapshot.version).toBeGreaterThanOrEqual(200)

    for (const client of clients) {
      // one last resume to catch up with whatever happened since its last drop
      await client.connect((_, elapsed) => client.lastId === snapshot.version || elapsed > 5_000, 6_000, false)
      expect(client.problems, client.name).toEqual([])
      expect(client.lastId, client.name).toBe(snapshot.version)
      expect(normalise(client.evaluator!.snapshot()), client.name).toEqual(normalise(snapshot))
      // resumes sent only what was missed: one put, on the very first connect
      expect(client.stats.puts, `${client.name} ${JSON.stringify(client.stats)}`).toBe(1)
      expect(client.stats.connects).toBe(CYCLES + 2)
    }
    const streams = await openStreams(vane)
    expect(await waitFor(async () => (await openStreams(vane)).sdk === 0, 5_000), JSON.stringify(streams)).toBe(true)
  }, 90_000)
})
