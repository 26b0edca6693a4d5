import { Backoff, type BackoffOptions } from './backoff.js'
import { HttpError, isRefused } from './http-error.js'
import type { Platform } from './platform.js'
import { readSse, type SseEvent } from './sse.js'

/** One attempt's request; the client adds the abort signal. */
export interface StreamRequest {
  url: string
  init?: Omit<RequestInit, 'signal'> | undefined
}

/** Options for {@link StreamClient}. */
export interface StreamClientOptions {
  platform: Platform
  /** Builds each attempt's request, so that it carries the current `Last-Event-ID` (or context). */
  request: () => StreamRequest
  /** An event of the current connection (never one of a connection already stopped or replaced). */
  onEvent: (event: SseEvent) => void
  /** The server answered with an event stream. */
  onOpen?: (() => void) | undefined
  /**
   * The connection failed or ended; a retry follows after a backoff wait unless this callback stops the client
   * (to poll instead, say). `failures` counts consecutive failures since data last arrived.
   */
  onInterrupted: (error: Error, failures: number) => void
  /** An answer no retry can help (401/403 unless `isFatal` says otherwise): the client has stopped. */
  onFatal: (error: HttpError) => void
  /** No bytes at all (not even a heartbeat) for this long means the connection is dead. Default 45 s. */
  heartbeatTimeoutMs?: number | undefined
  /** The message of the error a silent connection is dropped with. Default `no heartbeat`. */
  silenceMessage?: string | undefined
  /** Backoff start, cap and reset period; jitter comes from `platform.random`. */
  backoff?: Omit<BackoffOptions, 'random'> | undefined
  /** Which statuses stop the client for good. Default 401 and 403. */
  isFatal?: ((status: number) => boolean) | undefined
}

interface Attempt {
  abort: AbortController
  watchdog: unknown
}

/**
 * Follows one Server-Sent Events stream over `fetch`: reconnects with exponential backoff and full jitter, drops a
 * connection that stays silent past the heartbeat timeout, and stops for good when the key is refused. Time,
 * chance and `fetch` come from the {@link Platform}; every timer it starts it also clears.
 *
 * @internal
 * @example
 * const stream = new StreamClient({
 *   platform: defaultPlatform,
 *   request: () => ({ url: `${base}/sdk/v1/stream`, init: { headers: { authorization: `Bearer ${key}` } } }),
 *   onEvent: (e) => apply(e),
 *   onInterrupted: (error) => log(error),
 *   onFatal: (error) => fail(error),
 * })
 * stream.start()
 */
export class StreamClient {
  private readonly backoff: Backoff
  private current: Attempt | undefined
  private retry: unknown
  private active = false

  constructor(private readonly options: StreamClientOptions) {
    this.backoff = new Backoff({ ...options.backoff, random: options.platform.random })
  }

  /** Whether a connection is open, being opened, or awaiting its retry. */
  get running(): boolean {
    return this.active
  }

  /** Connects, unless already running. */
  start(): void {
    if (this.active) return
    this.active = true
    void this.connect()
  }

  /** Closes the connection and cancels a pending retry; `start()` may follow. Nothing it stops is reported. */
  stop(): void {
    this.active = false
    const attempt = this.current
    this.current = undefined
    if (attempt !== undefined) {
      this.options.platform.clearTimeout(attempt.watchdog)
      attempt.abort.abort()
    }
    if (this.retry !== undefined) this.options.platform.clearTimeout(this.retry)
    this.retry = undefined
  }

  /** Drops the current connection at once and opens a new one (a new context, the network is back). */
  restart(): void {
    this.stop()
    this.start()
  }

  /** Fails the current connection with `error`, as if it broke: reported, then retried after a backoff wait. */
  interrupt(error: Error): void {
    this.current?.abort.abort(error)
  }

  private async connect(): Promise<void> {
    const { platform } = this.options
    const attempt: Attempt = { abort: new AbortController(), watchdog: undefined }
    this.current = attempt
    const live = () => this.current === attempt && !attempt.abort.signal.aborted
    const timeoutMs = this.options.heartbeatTimeoutMs ?? 45_000
    const arm = () => {
      if (!live()) return
      platform.clearTimeout(attempt.watchdog)
      attempt.watchdog = platform.setTimeout(
        () => attempt.abort.abort(new Error(this.options.silenceMessage ?? 'no heartbeat')),
        timeoutMs,
      )
    }
    try {
      // armed before the request too: a server that accepts and never answers is as dead as a silent stream
      arm()
      const { url, init } = this.options.request()
      const response = await platform.fetch(url, { ...init, signal: attempt.abort.signal })
      if (!response.ok || response.body === null) {
        await response.body?.cancel().catch(() => {})
        throw new HttpError(response.status, `stream answered ${response.status}`)
      }
      if (!live()) throw new Error('stopped')
      this.backoff.succeeded(platform.now())
      this.options.onOpen?.()
      let first = true
      await readSse(response.body, {
        onEvent: (event) => {
          if (!live()) return
          // data arrived: earlier failures are forgiven, so streams closed on purpose do not pile up backoff
          if (first) this.backoff.reset()
          first = false
          this.options.onEvent(event)
        },
        onActivity: arm,
      })
      throw new Error('stream ended')
    } catch (caught) {
      // stopped or replaced meanwhile: what ended it was on purpose
      if (this.current !== attempt) return
      this.current = undefined
      const { signal } = attempt.abort
      const error = signal.aborted && signal.reason instanceof Error ? signal.reason : toError(caught)
      if (error instanceof HttpError && (this.options.isFatal ?? isRefused)(error.status)) {
        this.stop()
        this.options.onFatal(error)
        return
      }
      const wait = this.backoff.failed(platform.now())
      this.options.onInterrupted(error, this.backoff.failures)
      if (this.active && this.current === undefined)
        this.retry = platform.setTimeout(() => {
          this.retry = undefined
          void this.connect()
        }, wait)
    } finally {
      platform.clearTimeout(attempt.watchdog)
    }
  }
}

/** Anything thrown, as an `Error`. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
