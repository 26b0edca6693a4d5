/**
 * Test-only fakes for a {@link Platform}, shared by sdk-core's and both SDKs' tests: a manual clock whose timers run
 * only when a test advances it, and a scripted `fetch` whose answers are real `Response` objects with bodies the
 * test writes Server-Sent Events into. Nothing here sleeps; `settle()` only lets already-queued promise callbacks
 * and stream reads run. Not part of any package: no entry point imports it (`@vane/sdk-core/fakes`, for tests).
 */
import type { Platform } from './platform.js'

/** Lets pending promise callbacks and stream reads run (a few macrotask turns; no time passes). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

interface Timer {
  id: number
  at: number
  fn: () => void
}

/** Time that moves only when told to; timers fire in due order, ties in the order they were set. */
export class FakeClock {
  time = 0
  private seq = 0
  private readonly timers = new Map<number, Timer>()

  readonly now = (): number => this.time
  readonly setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq
    this.timers.set(id, { id, at: this.time + Math.max(0, ms), fn })
    return id
  }
  readonly clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number)
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.timers.size
  }

  /** When the next timer fires, if any. */
  nextAt(): number | undefined {
    let at: number | undefined
    for (const t of this.timers.values()) if (at === undefined || t.at < at) at = t.at
    return at
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way and settling after each. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms
    await settle()
    for (;;) {
      let next: Timer | undefined
      for (const t of this.timers.values())
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t
      if (next === undefined) break
      this.timers.delete(next.id)
      this.time = next.at
      next.fn()
      await settle()
    }
    this.time = target
    await settle()
  }
}

/** A response body the test writes into, as a server would; it errors when its request is aborted. */
export class FakeBody {
  readonly stream: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private readonly encoder = new TextEncoder()
  cancelled = false
  /** Ended, broken or aborted: nothing more can be written. */
  closed = false

  /** With `ignoreAbort`, the body goes on after its request is aborted (a broken fetch polyfill). */
  constructor(signal?: AbortSignal | null, ignoreAbort = false) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller
      },
      cancel: () => {
        this.cancelled = true
      },
    })
    if (!ignoreAbort) signal?.addEventListener('abort', () => this.fail(signal.reason), { once: true })
  }

  /** Writes text (UTF-8) or bytes: one or more events, comments, or half an event. */
  push(chunk: string | Uint8Array): void {
    if (this.closed) return
    this.controller.enqueue(typeof chunk === 'string' ? this.encoder.encode(chunk) : chunk)
  }

  /** Writes one SSE event. */
  event(event: string, data: unknown, id?: number): void {
    this.push(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  /** Writes a heartbeat comment, as the server does every 15 s. */
  ping(): void {
    this.push(': ping\n\n')
  }

  /** Ends the body normally (the server closed the stream). */
  end(): void {
    if (this.closed) return
    this.closed = true
    this.controller.close()
  }

  /** Breaks the body (a reset connection, or an abort). */
  fail(reason: unknown = new TypeError('network error')): void {
    if (this.closed) return
    this.closed = true
    this.controller.error(reason)
  }
}

/** One request the fake fetch received. */
export interface FakeRequest {
  url: string
  path: string
  method: string
  /** Lower-case names. */
  headers: Record<string, string>
  body: string | undefined
  /** The body parsed as JSON, when it is JSON. */
  json: unknown
  signal: AbortSignal | undefined
  /** When it was made, by the fetch's clock. */
  at: number
  /** The body handed out for this request, when it was answered with an event stream. */
  stream?: FakeBody
}

export type FakeHandler = (request: FakeRequest) => Response | Promise<Response>

/** A scripted answer: a response, an event stream the test writes into, one that never comes, a network error. */
export type Answer = Response | 'stream' | 'hang' | Error | FakeHandler

/**
 * A scripted fetch: every request is recorded and answered by `handler`, which by default takes the next answer
 * queued for the request's path (`answer()`), and when there is none asks `fallback` (599). Aborts reject like
 * real fetch.
 */
export class FakeFetch {
  readonly requests: FakeRequest[] = []
  readonly script = new Map<string, Answer[]>()
  /** Event-stream bodies ignore their request's abort signal: for testing a client's own guards. */
  ignoreAbort = false
  fallback: FakeHandler = () => new Response('no answer scripted', { status: 599 })
  handler: FakeHandler = (request) => this.scripted(request)

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Queues answers for `path`, taken in order. */
  answer(path: string, ...answers: Answer[]): this {
    this.script.set(path, [...(this.script.get(path) ?? []), ...answers])
    return this
  }

  /** Requests to one path. */
  to(path: string): FakeRequest[] {
    return this.requests.filter((r) => r.path === path)
  }

  /** The body handed to the latest request to `path` answered with an event stream. */
  lastStream(path: string): FakeBody {
    const stream = this.to(path)
      .filter((r) => r.stream !== undefined)
      .at(-1)?.stream
    if (stream === undefined) throw new Error(`no request to ${path} was answered with a stream`)
    return stream
  }

  /** An event stream over a fresh {@link FakeBody} tied to the request's signal (overridable, for richer bodies). */
  protected openStream(request: FakeRequest): FakeBody {
    return new FakeBody(request.signal, this.ignoreAbort)
  }

  /** Answers `request` with an event stream; the body is kept as `request.stream`. */
  streamResponse(request: FakeRequest): Response {
    const body = this.openStream(request)
    request.stream = body
    return new Response(body.stream, { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' } })
  }

  private scripted(request: FakeRequest): Response | Promise<Response> {
    const answer = this.script.get(request.path)?.shift()
    if (answer === undefined) return this.fallback(request)
    if (answer === 'stream') return this.streamResponse(request)
    if (answer === 'hang') return never()
    if (answer instanceof Error) throw answer
    if (typeof answer === 'function') return answer(request)
    return answer
  }

  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input)
    const signal = init?.signal ?? undefined
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value
    })
    const body = typeof init?.body === 'string' ? init.body : undefined
    const request: FakeRequest = {
      url,
      path: new URL(url).pathname,
      method: init?.method ?? 'GET',
      headers,
      body,
      json: parseJson(body),
      signal,
      at: this.now(),
    }
    this.requests.push(request)
    if (signal?.aborted) throw signal.reason
    const answer = Promise.resolve().then(() => this.handler(request))
    if (signal === undefined) return answer
    return Promise.race([
      answer,
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    ])
  }
}

function parseJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text)
  } catch {
    return undefined
  }
}

/** An answer that never comes (until the request is aborted). */
export const never = (): Promise<Response> => new Promise<Response>(() => {})

/** A `text/event-stream` response over a fresh {@link FakeBody} tied to the request's signal. */
export function sseResponse(request: FakeRequest): { response: Response; body: FakeBody } {
  const body = new FakeBody(request.signal)
  request.stream = body
  const response = new Response(body.stream, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8' },
  })
  return { response, body }
}

/** A JSON response. */
export function jsonResponse(value: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** A platform wired to one fake clock and fake fetch; `random` defaults to 0.5. */
export function fakePlatform(random: () => number = () => 0.5) {
  const clock = new FakeClock()
  const http = new FakeFetch(clock.now)
  const platform: Platform = {
    fetch: http.fetch,
    now: clock.now,
    random,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  }
  return { clock, http, platform }
}
