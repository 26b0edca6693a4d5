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
  private readonly stream: StreamClient
  private generation = 0
  private etag: string | undefined
  private timer: unknown
  private paused = false
  private closed = false

  constructor(private readonly options: DataSourceOptions) {
    this.stream = new StreamClient({
      platform: options.platform,
      heartbeatTimeoutMs: SILENCE_MS,
      silenceMessage: `stream silent for ${SILENCE_MS} ms`,
      request: () => {
        const { context, hash } = options.identity()
        return {
          url: `${options.url}/client/v1/stream`,
          init: { method: 'POST', headers: this.headers(), body: JSON.stringify({ context, hash }) },
        }
      },
      onEvent: (event) => this.handle(event),
      onInterrupted: (error, failures) => {
        options.onStale(error)
        // a stream that keeps failing: poll OFREP until it comes back
        if (failures >= 3) void this.poll(this.generation)
      },
      onFatal: (error) => this.fatal(error.status),
    })
  }

  start(): void {
    if (this.options.pollOnly) void this.poll(this.generation)
    else this.stream.start()
  }

  /** Drops what is in flight and connects again at once; `forget` also drops the ETag (a new context). */
  restart(forget = false): void {
    if (this.closed) return
    this.generation++
    if (forget) this.etag = undefined
    this.options.platform.clearTimeout(this.timer)
    this.paused = false
    if (this.options.pollOnly) void this.poll(this.generation)
    else this.stream.restart()
  }

  /** Closes the stream on purpose (a tab hidden for long): no stale, no retry, until {@link resume}. */
  pause(): void {
    if (!this.stream.running) return
    this.paused = true
    this.stream.stop()
  }

  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.restart()
  }

  close(): void {
    this.closed = true
    this.generation++
    this.stream.stop()
    this.options.platform.clearTimeout(this.timer)
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.clientKey}`, 'content-type': 'application/json' }
  }

  private fatal(status: number): void {
    this.stream.stop()
    this.options.onError(new HttpError(status, `the client key was refused (${status}); not retrying`))
  }

  private handle(event: SseEvent): void {
    try {
      const data = JSON.parse(event.data) as { flags?: Record<string, FlagValue>; deleted?: string[] }
      if (event.event === 'put') this.options.onPut(data.flags ?? {})
      else if (event.event === 'patch') this.options.onPatch(data.flags ?? {}, data.deleted ?? [])
    } catch (error) {
      this.options.onError(toError(error))
    }
  }

  /** OFREP bulk evaluation with ETag. An answer that arrives after the context changed is dropped. */
  private async poll(generation: number): Promise<void> {
    const { platform } = this.options
    let again = this.options.pollOnly
    try {
      const { context, hash } = this.options.identity()
      const response = await platform.fetch(`${this.options.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: {
          ...this.headers(),
          ...(this.etag !== undefined && { 'if-none-match': this.etag }),
          ...(hash !== undefined && { 'x-vane-hash': hash }),
        },
        body: JSON.stringify({ context }),
      })
      if (generation !== this.generation) return
      if (response.status === 304) return this.options.onUnchanged()
      if (!response.ok) throw new HttpError(response.status, `evaluation answered ${response.status}`)
      const etag = response.headers.get('etag') ?? undefined
      const body = (await response.json()) as {
        flags: ({ key: string } & FlagValue & { metadata?: { version?: number } })[]
      }
      if (generation !== this.generation) return
      this.etag = etag
      const values: Record<string, FlagValue> = {}
      for (const f of body.flags)
        values[f.key] = {
          value: f.value,
          reason: f.reason ?? 'ERROR',
          ...(f.variant !== undefined && { variant: f.variant }),
          ...(f.metadata?.version !== undefined && { version: f.metadata.version }),
          ...(f.errorCode !== undefined && { errorCode: f.errorCode }),
        }
      this.options.onPut(values)
    } catch (error) {
      if (generation !== this.generation) return
      if (error instanceof HttpError && isRefused(error.status)) {
        again = false
        return this.fatal(error.status)
      }
      this.options.onError(toError(error))
    } finally {
      if (again && generation === this.generation)
        this.timer = platform.setTimeout(() => void this.poll(generation), this.options.pollIntervalMs)
    }
  }
}
