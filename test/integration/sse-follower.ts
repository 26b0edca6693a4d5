/**
 * @module test/integration/sse-follower
 * A server SDK in miniature for the scale-out and relay suites: follows `GET /sdk/v1/stream` over plain
 * `node:http` (agent-less sockets, a minimal SSE parser), keeps a compiled copy of the environment from
 * `put`/`patch`/`delete`, and reconnects by itself with `Last-Event-ID`: to its home server first, then to the
 * others in order. It records every event and every break of the resume contract (a gap, a duplicate, a `put`
 * after the first one), so that a test can assert "every change exactly once, in version order".
 *
 * A test that drives the connections itself (when to drop each one, and how) calls
 * {@link StreamFollower.connectOnce} instead of {@link StreamFollower.start}.
 *
 * Every loop is bounded: reconnect attempts (`maxConnects`), each connection's silence (`idleMs`), and waits.
 */
import http from 'node:http'
import { compileSnapshot, type Evaluator, type Snapshot, type SnapshotPatch } from '@vane/engine'
import { sleep, waitFor } from '../support/wait.js'

/** One event as it came off the wire. */
export interface WireEvent {
  id: string | undefined
  event: string
  data: string
}

/** A minimal SSE parser: feed it text, it returns the complete events; comments (`: ping`) are counted. */
export class SseParser {
  private buffer = ''
  comments = 0

  push(text: string): WireEvent[] {
    this.buffer += text
    const events: WireEvent[] = []
    for (let end = this.buffer.indexOf('\n\n'); end !== -1; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      let id: string | undefined
      let event = 'message'
      const data: string[] = []
      let fields = 0
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon === -1 ? line : line.slice(0, colon)
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
        fields++
        if (field === 'id') id = value
        else if (field === 'event') event = value
        else if (field === 'data') data.push(value)
      }
      if (fields === 0) this.comments++
      else events.push({ id, event, data: data.join('\n') })
    }
    return events
  }
}

/** A change as a follower received it. */
export interface Received {
  id: number
  event: 'patch' | 'delete'
  patch: SnapshotPatch
  /** Which server sent it, and when it arrived (performance.now()). */
  from: string
  at: number
}

export interface FollowerOptions {
  name: string
  secret: string
  /** The servers to try, home first; called at every (re)connect, so a restarted server's URL may change. */
  urls: () => string[]
  /** Connections in all (the first included). Default 200. */
  maxConnects?: number
  /** A connection silent this long (no event, no heartbeat) is dropped and reopened. Default 10 s. */
  idleMs?: number
  /** Pause before reconnecting. Default 50 ms. */
  retryMs?: number
  /** Called for every change, as it arrives. */
  onChange?: (change: Received) => void
}

/** When {@link StreamFollower.connectOnce} ends its connection; it always ends when the server ends it. */
export interface ConnectionLimits {
  /** Ends it once this holds, given the events so far on this connection and the milliseconds since it opened. */
  until?: (events: number, ms: number) => boolean
  /** Ends it after this long. */
  maxMs?: number
  /** Ends it with a TCP reset instead of a plain close. */
  reset?: boolean
  /** Ends it as soon as the request is written, before any answer. */
  atOnce?: boolean
}

/** Follows one environment's SDK stream across disconnects, like an SDK would. */
export class StreamFollower {
  evaluator: Evaluator | undefined
  lastId: number | undefined
  /** The first `put`'s id: changes after it are expected exactly once each, in order. */
  startId: number | undefined
  readonly received: Received[] = []
  readonly problems: string[] = []
  readonly stats = { connects: 0, refused: 0, resumes: 0, puts: 0, patches: 0, idLess: 0, heartbeats: 0 }
  /** The server of each successful connection, in order. */
  readonly servedBy: string[] = []
  private stopped = false
  private current: http.ClientRequest | undefined
  private loop: Promise<void> | undefined

  constructor(private readonly options: FollowerOptions) {}

  get name(): string {
    return this.options.name
  }

  /** Starts following; resolves once the first `put` is in (or rejects after `ms`). */
  async start(ms = 10_000): Promise<void> {
    this.loop ??= this.run()
    if (!(await this.waitFor(() => this.lastId !== undefined, ms)))
      throw new Error(
        `${this.name}: no put within ${ms} ms (${JSON.stringify(this.stats)}; ${this.problems.join('; ')})`,
      )
  }

  /** Stops and waits for the loop to end. */
  async stop(): Promise<void> {
    this.stopped = true
    this.current?.destroy()
    await this.loop
  }

  /** Drops the current connection (as a network failure would); the follower reconnects by itself. */
  drop(): void {
    this.current?.destroy()
  }

  /** Polls `check` every 20 ms until it holds or `ms` passed. */
  waitFor(check: () => boolean, ms: number): Promise<boolean> {
    return waitFor(check, ms)
  }

  private async run(): Promise<void> {
    let attempt = 0
    while (!this.stopped && this.stats.connects < (this.options.maxConnects ?? 200)) {
      const urls = this.options.urls()
      const url = urls[attempt % urls.length]!
      const status = await this.connect(url)
      if (this.stopped) return
      // refused (a server that is down): the next server at once; after a connection that worked: home first
      attempt = status === 200 ? 0 : attempt + 1
      await sleep(this.options.retryMs ?? 50)
    }
    if (!this.stopped) this.problems.push(`gave up after ${this.stats.connects} connections`)
  }

  /**
   * One connection to `url` (the home server by default), resuming after `lastId`, until the server ends it or
   * `limits` do; an answer other than 200 is recorded as a problem. Resolves once it is over.
   */
  async connectOnce(limits: ConnectionLimits, url = this.options.urls()[0]!): Promise<void> {
    const status = await this.connect(url, limits)
    if (status !== 0 && status !== 200) this.problems.push(`stream answered ${status}`)
  }

  /** One connection, until it ends; resolves with the answer's status, 0 when none came. */
  private connect(url: string, limits: ConnectionLimits = {}): Promise<number> {
    const { hostname, port } = new URL(url)
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.secret}`,
      accept: 'text/event-stream',
    }
    const resuming = this.lastId !== undefined
    if (resuming) headers['last-event-id'] = String(this.lastId)
    this.stats.connects++
    return new Promise((resolve) => {
      const started = Date.now()
      let status = 0
      let events = 0
      let done = false
      let idle: NodeJS.Timeout | undefined
      let limit: NodeJS.Timeout | undefined
      const req = http.request({ host: hostname, port: Number(port), path: '/sdk/v1/stream', headers, agent: false })
      this.current = req
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(idle)
        clearTimeout(limit)
        const socket = req.socket
        if (limits.reset && socket !== null && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
        else req.destroy()
        if (status !== 200) this.stats.refused++
        resolve(status)
      }
      const alive = () => {
        clearTimeout(idle)
        idle = setTimeout(finish, this.options.idleMs ?? 10_000)
      }
      if (limits.maxMs !== undefined) limit = setTimeout(finish, limits.maxMs)
      const enough = () => limits.until?.(events, Date.now() - started) === true
      alive()
      req.on('error', finish)
      req.on('close', finish)
      if (limits.atOnce) req.on('finish', finish)
      req.on('response', (res) => {
        status = res.statusCode ?? 0
        if (status !== 200) {
          res.resume()
          finish()
          return
        }
        this.servedBy.push(url)
        if (resuming) this.stats.resumes++
        const parser = new SseParser()
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (done) return
          alive()
          const at = performance.now()
          for (const event of parser.push(chunk)) {
            this.apply(event, url, at)
            events++
          }
          this.stats.heartbeats = parser.comments
          if (enough()) finish()
        })
        res.on('error', finish)
        res.on('end', finish)
        if (enough()) finish()
      })
      req.end()
    })
  }

  private apply(event: WireEvent, from: string, at: number): void {
    if (event.id === undefined) {
      this.stats.idLess++
      // a kill sent ahead of a backlog: the same event follows with its id, in order
      const patch = JSON.parse(event.data) as SnapshotPatch
      if (patch.kind !== 'cohort' || this.evaluator === undefined) return
      // a cohort the next change starts using, or one the last change stopped using: applied at once
      try {
        this.evaluator = this.evaluator.apply({ ...patch, version: this.evaluator.version })
      } catch (error) {
        this.problems.push(`applying an id-less cohort: ${error instanceof Error ? error.message : error}`)
      }
      return
    }
    const id = Number(event.id)
    if (event.event === 'put') {
      this.stats.puts++
      if (this.lastId !== undefined) this.problems.push(`put ${id} from ${from} on resume after ${this.lastId}`)
      const snapshot = JSON.parse(event.data) as Snapshot
      this.evaluator = compileSnapshot(snapshot)
      if (snapshot.version !== id) this.problems.push(`put id ${id} carries version ${snapshot.version}`)
      this.lastId = id
      this.startId ??= id
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
      this.problems.push(
        `${event.event} ${id} from ${from} after ${this.lastId}: ${id <= this.lastId ? 'duplicate' : 'gap'}`,
      )
      if (id <= this.lastId) return
    }
    const patch = JSON.parse(event.data) as SnapshotPatch
    try {
      this.evaluator = this.evaluator.apply(patch)
    } catch (error) {
      this.problems.push(`applying ${id}: ${error instanceof Error ? error.message : error}`)
    }
    this.lastId = id
    this.stats.patches++
    const change: Received = { id, event: event.event, patch, from, at }
    this.received.push(change)
    this.options.onChange?.(change)
  }
}

/** Sorts cohort member lists: they are sets, and only their contents are state. */
export function normalise(snapshot: Snapshot): Snapshot {
  const copy = structuredClone(snapshot)
  for (const cohort of Object.values(copy.cohorts)) {
    cohort.include?.sort()
    cohort.exclude?.sort()
  }
  return copy
}
