import { HttpError, isRefused, type Platform, type SseEvent, StreamClient, toError } from '@vane/sdk-core'
import type { FlagValue } from './flag-values.js'

/** The server pings every 15 s; a stream silent this long is dead (a half-open connection after sleep, a proxy). */
const SILENCE_MS = 45_000

/** Where the values come from, and what to do with them. */
export interface DataSourceOptions {
  url: string
  clientKey: string
  platform: Platform
  /** Poll OFREP only, never stream. */
  pollOnly: boolean
  pollIntervalMs: number
  /** The current context and its secure-mode hash, read for every request. */
  identity: () => { context: object; hash: string | undefined }
  /** All values for the context (a `put`, or a poll's answer). */
  onPut: (values: Record<string, FlagValue>) => void
  onPatch: (flags: Record<string, FlagValue>, deleted: string[]) => void
  /** A poll found the values unchanged (304). */
  onUnchanged: () => void
  /** The stream failed; values keep coming from the last ones. */
  onStale: (error: Error) => void
  /** An unusable event, a failed poll, or a refused key (an {@link HttpError} with status 401/403: no retry follows). */
  onError: (error: Error) => void
}

/**
 * Streams the values for the current context (the shared {@link StreamClient}: backoff, heartbeat watchdog) and,
 * while the stream keeps failing, polls OFREP bulk evaluation (with ETag) between its attempts. A new context
 * starts a new generation: nothing still in flight for the old one lands in the new one.
 */
export class DataSource {
  private readonly _stream: StreamClient
  private _generation = 0
  private _etag: string | undefined
  private _timer: unknown
  private _paused = false
  private _closed = false

  private readonly _options: DataSourceOptions

  constructor(options: DataSourceOptions) {
    this._options = options
    this._stream = new StreamClient({
      platform: options.platform,
      heartbeatTimeoutMs: SILENCE_MS,
      silenceMessage: `stream silent for ${SILENCE_MS} ms`,
      request: () => {
        const { context, hash } = options.identity()
        return {
          url: `${options.url}/client/v1/stream`,
          init: { method: 'POST', headers: this._headers(), body: JSON.stringify({ context, hash }) },
        }
      },
      onEvent: (event) => this._handle(event),
      onInterrupted: (error, failures) => {
        options.onStale(error)
        // a stream that keeps failing: poll OFREP until it comes back
        if (failures >= 3) void this._poll(this._generation)
      },
      onFatal: (error) => this._fatal(error.status),
    })
  }

  start(): void {
    if (this._options.pollOnly) void this._poll(this._generation)
    else this._stream.start()
  }

  /** Drops what is in flight and connects again at once; `forget` also drops the ETag (a new context). */
  restart(forget = false): void {
    if (this._closed) return
    this._generation++
    if (forget) this._etag = undefined
    this._options.platform.clearTimeout(this._timer)
    this._paused = false
    if (this._options.pollOnly) void this._poll(this._generation)
    else this._stream.restart()
  }

  /** Closes the stream on purpose (a tab hidden for long): no stale, no retry, until {@link resume}. */
  pause(): void {
    if (!this._stream.running) return
    this._paused = true
    this._stream.stop()
  }

  resume(): void {
    if (!this._paused) return
    this._paused = false
    this.restart()
  }

  close(): void {
    this._closed = true
    this._generation++
    this._stream.stop()
    this._options.platform.clearTimeout(this._timer)
  }

  private _headers(): Record<string, string> {
    return { authorization: `Bearer ${this._options.clientKey}`, 'content-type': 'application/json' }
  }

  private _fatal(status: number): void {
    this._stream.stop()
    this._options.onError(new HttpError(status, `the client key was refused (${status}); not retrying`))
  }

  private _handle(event: SseEvent): void {
    try {
      const data = JSON.parse(event.data) as { flags?: Record<string, FlagValue>; deleted?: string[] }
      if (event.event === 'put') this._options.onPut(data.flags ?? {})
      else if (event.event === 'patch') this._options.onPatch(data.flags ?? {}, data.deleted ?? [])
    } catch (error) {
      this._options.onError(toError(error))
    }
  }

  /** OFREP bulk evaluation with ETag. An answer that arrives after the context changed is dropped. */
  private async _poll(generation: number): Promise<void> {
    const { platform } = this._options
    let again = this._options.pollOnly
    try {
      const { context, hash } = this._options.identity()
      const response = await platform.fetch(`${this._options.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: {
          ...this._headers(),
          ...(this._etag !== undefined && { 'if-none-match': this._etag }),
          ...(hash !== undefined && { 'x-vane-hash': hash }),
        },
        body: JSON.stringify({ context }),
      })
      if (generation !== this._generation) return
      if (response.status === 304) return this._options.onUnchanged()
      if (!response.ok) throw new HttpError(response.status, `evaluation answered ${response.status}`)
      const etag = response.headers.get('etag') ?? undefined
      const body = (await response.json()) as {
        flags: ({ key: string } & FlagValue & { metadata?: { version?: number } })[]
      }
      if (generation !== this._generation) return
      this._etag = etag
      const values: Record<string, FlagValue> = {}
      for (const f of body.flags)
        values[f.key] = {
          value: f.value,
          reason: f.reason ?? 'ERROR',
          ...(f.variant !== undefined && { variant: f.variant }),
          ...(f.metadata?.version !== undefined && { version: f.metadata.version }),
          ...(f.errorCode !== undefined && { errorCode: f.errorCode }),
        }
      this._options.onPut(values)
    } catch (error) {
      if (generation !== this._generation) return
      if (error instanceof HttpError && isRefused(error.status)) {
        again = false
        return this._fatal(error.status)
      }
      this._options.onError(toError(error))
    } finally {
      if (again && generation === this._generation)
        this._timer = platform.setTimeout(() => void this._poll(generation), this._options.pollIntervalMs)
    }
  }
}
