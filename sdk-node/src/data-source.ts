import type { SnapshotPatch } from '@vane/engine'
import { Backoff, readSse, type SseEvent } from '@vane/sdk-core'
import type { Platform } from './platform.js'

/** Where the ruleset comes from, and what to do with it. */
export interface DataSourceOptions {
  url: string
  sdkKey: string
  platform: Platform
  /** No bytes (not even a heartbeat) for this long means the stream is dead; it also bounds a poll. Default 45 s. */
  heartbeatTimeoutMs: number
  /** Consecutive stream failures before switching to polling. Default 3. */
  failuresBeforePolling: number
  pollIntervalMs: number
  /** While polling, how often to try the stream again. Default 5 min. */
  retryStreamAfterMs: number
  /** Streaming off: poll only. */
  stream: boolean
  onPut: (snapshot: unknown) => void
  onPatch: (patch: SnapshotPatch, id: number | undefined) => void
  /** The last environment version applied; sent as `Last-Event-ID` on reconnect. */
  lastVersion: () => number | undefined
  onConnected: (mode: 'stream' | 'poll') => void
  onInterrupted: (error: Error) => void
  /** 401/403: retrying cannot help. */
  onFatal: (error: Error) => void
  /** An event that could not be used; the stream goes on. */
  onBadEvent: (error: Error) => void
}

/** An HTTP failure, kept as data so the caller can tell fatal (401/403) from transient. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

const isFatal = (status: number) => status === 401 || status === 403

/**
 * Streams the ruleset over SSE, reconnecting with backoff and resuming with
 * `Last-Event-ID`; after repeated failures it polls the snapshot (with ETag)
 * and keeps trying to get back to streaming. Owns every timer it starts.
 */
export class DataSource {
  private readonly backoff: Backoff
  private abort: AbortController | undefined
  private timer: ReturnType<Platform['setTimeout']> | undefined
  private watchdog: ReturnType<Platform['setTimeout']> | undefined
  private stopped = false
  private etag: string | undefined
  private pollingSince: number | undefined

  constructor(private readonly options: DataSourceOptions) {
    this.backoff = new Backoff({ random: options.platform.random })
  }

  start(): void {
    if (this.options.stream) void this.connect()
    else void this.poll()
  }

  stop(): void {
    this.stopped = true
    this.abort?.abort()
    this.clearTimers()
  }

  private clearTimers(): void {
    if (this.timer !== undefined) this.options.platform.clearTimeout(this.timer)
    if (this.watchdog !== undefined) this.options.platform.clearTimeout(this.watchdog)
    this.timer = undefined
    this.watchdog = undefined
  }

  private schedule(fn: () => void, ms: number): void {
    if (this.stopped) return
    if (this.timer !== undefined) this.options.platform.clearTimeout(this.timer)
    this.timer = this.options.platform.setTimeout(fn, ms)
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.sdkKey}`, 'user-agent': 'vane-sdk-node', ...extra }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return
    const { platform } = this.options
    const abort = new AbortController()
    this.abort = abort
    const last = this.options.lastVersion()
    const armWatchdog = () => {
      if (this.watchdog !== undefined) platform.clearTimeout(this.watchdog)
      this.watchdog = platform.setTimeout(() => abort.abort(new Error('no heartbeat')), this.options.heartbeatTimeoutMs)
    }
    try {
      armWatchdog()
      const response = await platform.fetch(`${this.options.url}/sdk/v1/stream`, {
        headers: this.headers({
          accept: 'text/event-stream',
          ...(last !== undefined && { 'last-event-id': String(last) }),
        }),
        signal: abort.signal,
      })
      if (!response.ok || response.body === null) {
        await response.body?.cancel().catch(() => {})
        throw new HttpError(response.status, `stream answered ${response.status}`)
      }
      this.backoff.succeeded(platform.now())
      this.pollingSince = undefined
      this.options.onConnected('stream')
      let first = true
      await readSse(response.body, {
        onEvent: (e) => {
          // data arrived: earlier failures are forgiven, so streams closed on purpose do not lead to polling
          if (first) this.backoff.reset()
          first = false
          this.handle(e)
        },
        onActivity: armWatchdog,
      })
      throw new Error('stream ended')
    } catch (error) {
      if (this.stopped) return
      const err = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : toError(error)
      if (err instanceof HttpError && isFatal(err.status)) {
        this.stop()
        this.options.onFatal(new HttpError(err.status, `the SDK key was refused (${err.status}); not retrying`))
        return
      }
      this.options.onInterrupted(err)
      const wait = this.backoff.failed(platform.now())
      if (this.backoff.failures >= this.options.failuresBeforePolling) {
        this.pollingSince = platform.now()
        this.schedule(() => void this.poll(), 0)
      } else this.schedule(() => void this.connect(), wait)
    } finally {
      if (this.watchdog !== undefined) platform.clearTimeout(this.watchdog)
      this.watchdog = undefined
    }
  }

  private handle(event: SseEvent): void {
    try {
      const id = event.id !== undefined && /^\d+$/.test(event.id) ? Number(event.id) : undefined
      if (event.event === 'put') this.options.onPut(JSON.parse(event.data))
      else if (event.event === 'patch' || event.event === 'delete')
        this.options.onPatch(JSON.parse(event.data) as SnapshotPatch, id)
    } catch (error) {
      this.options.onBadEvent(toError(error))
    }
  }

  private async poll(): Promise<void> {
    if (this.stopped) return
    const { platform } = this.options
    // a poll must not hang on a server that accepts and never answers, and stop() must end it
    const abort = new AbortController()
    this.abort = abort
    this.watchdog = platform.setTimeout(
      () => abort.abort(new Error('snapshot request timed out')),
      this.options.heartbeatTimeoutMs,
    )
    try {
      const response = await platform.fetch(`${this.options.url}/sdk/v1/snapshot`, {
        headers: this.headers(this.etag === undefined ? {} : { 'if-none-match': this.etag }),
        signal: abort.signal,
      })
      if (isFatal(response.status)) throw new HttpError(response.status, `snapshot answered ${response.status}`)
      if (response.status === 304) this.options.onConnected('poll')
      else if (response.ok) {
        const snapshot = await response.json()
        this.etag = response.headers.get('etag') ?? undefined
        this.options.onPut(snapshot)
        this.options.onConnected('poll')
      } else throw new HttpError(response.status, `snapshot answered ${response.status}`)
    } catch (error) {
      if (this.stopped) return
      const err = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : toError(error)
      if (err instanceof HttpError && isFatal(err.status)) {
        this.stop()
        this.options.onFatal(new HttpError(err.status, `the SDK key was refused (${err.status}); not retrying`))
        return
      }
      this.options.onInterrupted(err)
    } finally {
      if (this.watchdog !== undefined) platform.clearTimeout(this.watchdog)
      this.watchdog = undefined
    }
    const backToStream =
      this.options.stream &&
      this.pollingSince !== undefined &&
      platform.now() - this.pollingSince >= this.options.retryStreamAfterMs
    if (backToStream) {
      this.pollingSince = platform.now()
      this.schedule(() => void this.connect(), 0)
    } else this.schedule(() => void this.poll(), this.options.pollIntervalMs)
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
