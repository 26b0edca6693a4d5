/**
 * Test-only fakes for the browser client's transport and storage: a scripted `fetch` whose stream answers are
 * real `Response` objects with bodies the test writes Server-Sent Events into, and an in-memory `Storage`.
 * Nothing here sleeps; `settle()` only lets already-queued promise callbacks and stream reads run. Not part of
 * the package (not an entry point, never imported by the SDK).
 */
import type { FlagValue } from './client.js'

/** Lets pending promise callbacks and stream reads run (macrotask turns that fake timers do not touch). */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** One request the client made. */
export interface Call {
  path: string
  method: string
  headers: Record<string, string>
  body: unknown
  signal: AbortSignal | undefined
  /** The stream body handed out for this call, when it was answered with one. */
  stream?: FakeStream
}

/** An SSE response body the test writes into, as the server would. It errors when the request is aborted. */
export class FakeStream {
  readonly body: ReadableStream<Uint8Array>
  private controller!: ReadableStreamDefaultController<Uint8Array>
  private readonly encoder = new TextEncoder()
  done = false

  constructor(signal: AbortSignal | undefined, ignoreAbort = false) {
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller
      },
    })
    if (!ignoreAbort)
      signal?.addEventListener('abort', () => this.fail(new DOMException('The operation was aborted.', 'AbortError')))
  }

  get aborted(): boolean {
    return this.done
  }

  /** Writes raw text (one or more events, comments, or half an event). */
  write(text: string): void {
    if (!this.done) this.controller.enqueue(this.encoder.encode(text))
  }

  event(event: string, data: unknown, id?: number): void {
    this.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  put(flags: Record<string, FlagValue>, id = 1): void {
    this.event('put', { flags }, id)
  }

  patch(flags: Record<string, FlagValue>, deleted?: string[], id?: number): void {
    this.event('patch', { flags, ...(deleted !== undefined && { deleted }) }, id)
  }

  ping(): void {
    this.write(': ping\n\n')
  }

  /** The server closes the stream. */
  end(): void {
    if (this.done) return
    this.done = true
    this.controller.close()
  }

  /** The connection breaks. */
  fail(error: Error = new TypeError('network error')): void {
    if (this.done) return
    this.done = true
    this.controller.error(error)
  }
}

/** What a scripted answer may be: a response, a stream (default for the stream endpoint), or a network error. */
export type Answer = Response | 'stream' | 'hang' | Error | ((call: Call) => Response | Promise<Response>)

/**
 * A scripted `fetch`. Answers are taken per path from `script` in order; when a path's queue is empty the
 * stream endpoint answers with a fresh {@link FakeStream} and anything else with 500.
 */
export class FakeNetwork {
  readonly calls: Call[] = []
  readonly script = new Map<string, Answer[]>()
  /** Streams ignore their request's abort signal (a broken fetch polyfill): for testing the client's own guards. */
  ignoreAbort = false

  /** Queues answers for `path` (e.g. `/client/v1/stream`, `/ofrep/v1/evaluate/flags`). */
  answer(path: string, ...answers: Answer[]): this {
    this.script.set(path, [...(this.script.get(path) ?? []), ...answers])
    return this
  }

  /** The calls to one path. */
  to(path: string): Call[] {
    return this.calls.filter((c) => c.path === path)
  }

  /** The stream handed to the most recent stream call. */
  get stream(): FakeStream {
    const stream = this.to('/client/v1/stream').at(-1)?.stream
    if (stream === undefined) throw new Error('no stream call was answered with a stream')
    return stream
  }

  readonly fetch = (async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input))
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((value, key) => {
      headers[key] = value
    })
    const signal = init?.signal ?? undefined
    const call: Call = {
      path: url.pathname,
      method: init?.method ?? 'GET',
      headers,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : init?.body,
      signal,
    }
    if (url.search !== '') throw new Error(`unexpected query string ${url.search}`)
    this.calls.push(call)
    const answer = this.script.get(call.path)?.shift() ?? (call.path === '/client/v1/stream' ? 'stream' : 'default')
    if (signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError')
    if (answer === 'default') return new Response('{"title":"no answer scripted"}', { status: 500 })
    if (answer === 'stream') {
      call.stream = new FakeStream(signal, this.ignoreAbort)
      return new Response(call.stream.body, { status: 200, headers: { 'content-type': 'text/event-stream' } })
    }
    if (answer === 'hang')
      return new Promise<Response>((_, reject) =>
        signal?.addEventListener('abort', () => reject(new DOMException('The operation was aborted.', 'AbortError'))),
      )
    if (answer instanceof Error) throw answer
    if (typeof answer === 'function') return answer(call)
    return answer
  }) as typeof fetch
}

/** An OFREP bulk answer, as the server sends it. */
export function ofrep(
  flags: { key: string; value?: unknown; variant?: string; reason?: string; errorCode?: string; version?: number }[],
  etag = '"etag-1"',
): Response {
  const body = {
    flags: flags.map(({ version, ...f }) => ({
      ...f,
      ...(version !== undefined && { metadata: { flagSetId: 'production', version } }),
    })),
  }
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', etag } })
}

/** `Storage` in memory; `broken` makes every call throw, as a browser with storage disabled does. */
export class MemoryStorage {
  readonly items = new Map<string, string>()
  broken = false
  reads = 0
  writes = 0

  getItem(key: string): string | null {
    this.reads++
    if (this.broken) throw new DOMException('storage is disabled', 'SecurityError')
    return this.items.get(key) ?? null
  }

  setItem(key: string, value: string): void {
    this.writes++
    if (this.broken) throw new DOMException('quota exceeded', 'QuotaExceededError')
    this.items.set(key, value)
  }
}

/** A flag value as the stream sends it. */
export const value = (v: unknown, variant?: string, version = 1, reason = 'TARGETING_MATCH'): FlagValue => ({
  value: v,
  ...(variant !== undefined && { variant }),
  reason,
  version,
})
