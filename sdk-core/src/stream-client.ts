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
  _abort: AbortController
  _watchdog: unknown
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
  private readonly _backoff: Backoff
  private _current: Attempt | undefined
  private _retry: unknown
  private _active = false

  private readonly _options: StreamClientOptions

  constructor(options: StreamClientOptions) {
    this._options = options
    this._backoff = new Backoff({ ...options.backoff, random: options.platform.random })
  }

  /** Whether a connection is open, being opened, or awaiting its retry. */
  get running(): boolean {
    return this._active
  }

  /** Connects, unless already running. */
  start(): void {
    if (this._active) return
    this._active = true
    void this._connect()
  }

  /** Closes the connection and cancels a pending retry; `start()` may follow. Nothing it stops is reported. */
  stop(): void {
    this._active = false
    const attempt = this._current
    this._current = undefined
    if (attempt !== undefined) {
      this._options.platform.clearTimeout(attempt._watchdog)
      attempt._abort.abort()
    }
    if (this._retry !== undefined) this._options.platform.clearTimeout(this._retry)
    this._retry = undefined
  }

  /** Drops the current connection at once and opens a new one (a new context, the network is back). */
  restart(): void {
    this.stop()
    this.start()
  }

  /** Fails the current connection with `error`, as if it broke: reported, then retried after a backoff wait. */
  interrupt(error: Error): void {
    this._current?._abort.abort(error)
  }

  private async _connect(): Promise<void> {
    const { platform } = this._options
    const attempt: Attempt = { _abort: new AbortController(), _watchdog: undefined }
    this._current = attempt
    const live = () => this._current === attempt && !attempt._abort.signal.aborted
    const timeoutMs = this._options.heartbeatTimeoutMs ?? 45_000
    const arm = () => {
      if (!live()) return
      platform.clearTimeout(attempt._watchdog)
      attempt._watchdog = platform.setTimeout(
        () => attempt._abort.abort(new Error(this._options.silenceMessage ?? 'no heartbeat')),
        timeoutMs,
      )
    }
    try {
      // armed before the request too: a server that accepts and never answers is as dead as a silent stream
      arm()
      const { url, init } = this._options.request()
      const response = await platform.fetch(url, { ...init, signal: attempt._abort.signal })
      if (!response.ok || response.body === null) {
        await response.body?.cancel().catch(() => {})
        throw new HttpError(response.status, `stream answered ${response.status}`)
      }
      if (!live()) throw new Error('stopped')
      this._backoff.succeeded(platform.now())
      this._options.onOpen?.()
      let first = true
      await readSse(response.body, {
        onEvent: (event) => {
          if (!live()) return
          // data arrived: earlier failures are forgiven, so streams closed on purpose do not pile up backoff
          if (first) this._backoff.reset()
          first = false
          this._options.onEvent(event)
        },
        onActivity: arm,
      })
      throw new Error('stream ended')
    } catch (caught) {
      // stopped or replaced meanwhile: what ended it was on purpose
      if (this._current !== attempt) return
      this._current = undefined
      const { signal } = attempt._abort
      const error = signal.aborted && signal.reason instanceof Error ? signal.reason : toError(caught)
      // a throwing callback leaves the response open: close it before the retry opens another
      if (!signal.aborted) attempt._abort.abort(error)
      if (error instanceof HttpError && (this._options.isFatal ?? isRefused)(error.status)) {
        this.stop()
        this._options.onFatal(error)
        return
      }
      const wait = this._backoff.failed(platform.now())
      this._options.onInterrupted(error, this._backoff.failures)
      if (this._active && this._current === undefined)
        this._retry = platform.setTimeout(() => {
          this._retry = undefined
          void this._connect()
        }, wait)
    } finally {
      platform.clearTimeout(attempt._watchdog)
    }
  }
}

/** Anything thrown, as an `Error`. */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
