import type { SnapshotPatch } from '@vane/engine'
import { HttpError, isRefused, type Platform, type SseEvent, StreamClient, toError } from '@vane/sdk-core'

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

/**
 * Streams the ruleset over SSE (the shared {@link StreamClient}: backoff, heartbeat watchdog, `Last-Event-ID`);
 * after repeated failures it polls the snapshot (with ETag) and keeps trying to get back to streaming. Owns every
 * timer it starts.
 */
export class DataSource {
  private readonly stream: StreamClient
  private abort: AbortController | undefined
  private timer: unknown
  private stopped = false
  private etag: string | undefined
  private pollingSince: number | undefined

  constructor(private readonly options: DataSourceOptions) {
    this.stream = new StreamClient({
      platform: options.platform,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      request: () => {
        const last = options.lastVersion()
        const headers = this.headers({
          accept: 'text/event-stream',
          ...(last !== undefined && { 'last-event-id': String(last) }),
        })
        return { url: `${options.url}/sdk/v1/stream`, init: { headers } }
      },
      onOpen: () => {
        this.pollingSince = undefined
        options.onConnected('stream')
      },
      onEvent: (event) => this.handle(event),
      onInterrupted: (error, failures) => {
        options.onInterrupted(error)
        if (failures < options.failuresBeforePolling) return
        this.stream.stop()
        this.pollingSince = options.platform.now()
        this.schedule(() => void this.poll(), 0)
      },
      onFatal: (error) => this.fatal(error.status),
    })
  }

  start(): void {
    if (this.options.stream) this.stream.start()
    else void this.poll()
  }

  stop(): void {
    this.stopped = true
    this.stream.stop()
    this.abort?.abort()
    if (this.timer !== undefined) this.options.platform.clearTimeout(this.timer)
    this.timer = undefined
  }

  private fatal(status: number): void {
    this.stop()
    this.options.onFatal(new HttpError(status, `the SDK key was refused (${status}); not retrying`))
  }

  private schedule(fn: () => void, ms: number): void {
    if (this.stopped) return
    if (this.timer !== undefined) this.options.platform.clearTimeout(this.timer)
    this.timer = this.options.platform.setTimeout(fn, ms)
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.options.sdkKey}`, 'user-agent': 'vane-sdk-node', ...extra }
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
    const timeout = platform.setTimeout(
      () => abort.abort(new Error('snapshot request timed out')),
      this.options.heartbeatTimeoutMs,
    )
    try {
      const response = await platform.fetch(`${this.options.url}/sdk/v1/snapshot`, {
        headers: this.headers(this.etag === undefined ? {} : { 'if-none-match': this.etag }),
        signal: abort.signal,
      })
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
      if (err instanceof HttpError && isRefused(err.status)) return this.fatal(err.status)
      this.options.onInterrupted(err)
    } finally {
      platform.clearTimeout(timeout)
    }
    const backToStream =
      this.options.stream &&
      this.pollingSince !== undefined &&
      platform.now() - this.pollingSince >= this.options.retryStreamAfterMs
    if (backToStream) {
      this.pollingSince = platform.now()
      this.schedule(() => this.stream.start(), 0)
    } else this.schedule(() => void this.poll(), this.options.pollIntervalMs)
  }
}
