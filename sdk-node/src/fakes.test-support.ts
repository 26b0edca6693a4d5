/**
 * Test-only fakes for the SDK's {@link Platform}: a manual clock whose timers run only when a test advances it,
 * and a scripted `fetch` whose answers are real `Response` objects with bodies the test writes into. Nothing
 * here sleeps; `settle()` only lets already-queued promise callbacks run. Not part of the package (not an
 * entry point, never imported by the SDK).
 */
import type { Platform } from './platform.js'

/** Lets pending promise callbacks and stream reads run (a few macrotask turns; no time passes). */
export async function settle(rounds = 8): Promise<void> {
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

/** A response body the test writes into, as a server would; it errors when the request is aborted. */
export class FakeBody {
  readonly stream: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private readonly encoder = new TextEncoder()
  cancelled = false
  closed = false

  constructor(signal?: AbortSignal | null) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller
      },
      cancel: () => {
        this.cancelled = true
      },
    })
    signal?.addEventListener('abort', () => this.fail(signal.reason), { once: true })
  }

  /** Writes text (UTF-8) or bytes. */
  push(chunk: string | Uint8Array): void {
    if (this.closed) return
    this.controller.enqueue(typeof chunk === 'string' ? this.encoder.encode(chunk) : chunk)
  }

  /** Writes one SSE event. */
  event(event: string, data: unknown, id?: number): void {
    this.push(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  /** Ends the body normally (the server closed the stream). */
  end(): void {
    if (this.closed) return
    this.closed = true
    this.controller.close()
  }

  /** Breaks the body (a reset connection, or an abort). */
  fail(reason: unknown): void {
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
  headers: Headers
  body: string | undefined
  signal: AbortSignal | undefined
  /** When it was made, by the fake clock. */
  at: number
}

export type FakeHandler = (request: FakeRequest) => Response | Promise<Response>

/** A scripted fetch: every request is recorded and answered by `handler`; aborts reject like real fetch. */
export class FakeFetch {
  readonly requests: FakeRequest[] = []
  handler: FakeHandler = () => new Response('no handler', { status: 599 })

  constructor(private readonly clock: FakeClock) {}

  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input)
    const signal = init?.signal ?? undefined
    const request: FakeRequest = {
      url,
      path: new URL(url).pathname,
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? init.body : undefined,
      signal,
      at: this.clock.now(),
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

  /** Requests to one path. */
  to(path: string): FakeRequest[] {
    return this.requests.filter((r) => r.path === path)
  }
}

/** An answer that never comes (until the request is aborted). */
export const never = (): Promise<Response> => new Promise<Response>(() => {})

/** A `text/event-stream` response over a fresh {@link FakeBody} tied to the request's signal. */
export function sseResponse(request: FakeRequest): { response: Response; body: FakeBody } {
  const body = new FakeBody(request.signal)
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
  const http = new FakeFetch(clock)
  const platform: Platform = {
    fetch: http.fetch,
    now: clock.now,
    random,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
  }
  return { clock, http, platform }
}
