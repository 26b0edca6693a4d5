import {
  compileSnapshot,
  ErrorCode,
  type EvaluationResult,
  type Evaluator,
  type JsonValue,
  Reason,
  type Snapshot,
  type SnapshotPatch,
} from '@vane/engine'
import { type ClientEvents, defaultPlatform, Emitter, type EvaluationDetails, type Platform } from '@vane/sdk-core'
import { DataSource } from './data-source.js'
import { readSnapshotFile, writeSnapshotFile } from './persistence.js'
import { Telemetry, type TelemetryOptions } from './telemetry.js'

export type ClientStatus = 'starting' | 'ready' | 'stale' | 'failed' | 'closed'

/** Options for {@link createClient}. */
export interface ClientOptions {
  /** The Vane server (or a relay), e.g. `http://127.0.0.1:8787`. */
  url: string
  /** A server key of one environment. */
  sdkKey: string
  /** A ruleset to serve before (or without) the server: a snapshot, or `{ file }` to read one. */
  bootstrap?: Snapshot | { file: string } | undefined
  /** Keep the last good ruleset in this file, and start from it when the server is down. */
  persistTo?: string | undefined
  /** Stream changes (default) or only poll. */
  stream?: boolean | undefined
  /** Polling interval when polling. Default 30 s. */
  pollIntervalMs?: number | undefined
  /** No bytes for this long means the stream is dead. Default 45 s (three missed heartbeats). */
  heartbeatTimeoutMs?: number | undefined
  /**
   * OpenTelemetry: evaluation events, variants on spans (register {@link VaneClient.spanProcessor}),
   * and per-variant outcome reports for canary impact. Off unless given; `true` for the defaults.
   */
  telemetry?: boolean | TelemetryOptions | undefined
  /** Time, chance and fetch, for tests. */
  platform?: Partial<Platform> | undefined
}

/** The SpanProcessor shape of `@opentelemetry/sdk-trace-base`, without depending on it. */
export interface VaneSpanProcessor {
  onStart(span: unknown, parentContext: unknown): void
  onEnd(span: unknown): void
  forceFlush(): Promise<void>
  shutdown(): Promise<void>
}

type Listener<E extends keyof ClientEvents> = (...args: ClientEvents[E]) => void

/**
 * A Vane client for one environment: streams the ruleset and evaluates every
 * flag locally, in memory. Getters never throw and never touch the network;
 * before the first ruleset they return the default with `PROVIDER_NOT_READY`.
 *
 * @example
 * const vane = createClient({ url: 'http://127.0.0.1:8787', sdkKey: process.env.VANE_SDK_KEY! })
 * await vane.waitForReady(2_000).catch(() => {}) // serve defaults rather than not start
 * if (vane.getBoolean('new-checkout', false, { targetingKey: user.id, plan: user.plan })) { … }
 */
export class VaneClient {
  private evaluator: Evaluator | undefined
  private state: ClientStatus = 'starting'
  private readonly events = new Emitter<ClientEvents>()
  private readonly source: DataSource
  private readonly platform: Platform
  private persistTimer: unknown
  private readonly telemetry: Telemetry | undefined
  private readonly readyPromise: Promise<void>
  private settleReady!: { resolve: () => void; reject: (error: Error) => void }
  /** Whether the ruleset held came from this server (or the SDK's own persisted copy), so streams may resume it. */
  private resumable = false
  private readonly options: ClientOptions

  constructor(options: ClientOptions) {
    // the bootstrap is only read once, by start(): a held raw snapshot would add ~20 % to the compiled one's heap
    this.options = { ...options, bootstrap: undefined }
    this.platform = { ...defaultPlatform, ...options.platform }
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.settleReady = { resolve, reject }
    })
    // a rejection nobody awaited must not crash the process
    this.readyPromise.catch(() => {})
    this.source = new DataSource({
      url: options.url.replace(/\/+$/, ''),
      sdkKey: options.sdkKey,
      platform: this.platform,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 45_000,
      failuresBeforePolling: 3,
      pollIntervalMs: options.pollIntervalMs ?? 30_000,
      retryStreamAfterMs: 300_000,
      stream: options.stream ?? true,
      // a bootstrap's version was never seen on this server's stream: resuming from it would patch the wrong base
      lastVersion: () => (this.resumable ? this.evaluator?.version : undefined),
      onPut: (snapshot) => {
        const held = this.evaluator
        this.replace(snapshot)
        if (this.evaluator !== held) this.resumable = true
      },
      onPatch: (patch, id) => this.patch(patch, id),
      onConnected: () => {
        if (this.state === 'stale' && this.evaluator !== undefined) {
          this.state = 'ready'
          this.events.emit('ready')
        }
      },
      onInterrupted: (error) => {
        if (this.state === 'ready') {
          this.state = 'stale'
          this.events.emit('stale', error)
        }
      },
      onFatal: (error) => this.fail(error),
      onBadEvent: (error) => this.events.emit('error', error),
    })
    const telemetry = options.telemetry === true ? {} : options.telemetry || undefined
    this.telemetry =
      telemetry === undefined
        ? undefined
        : new Telemetry(telemetry, {
            platform: this.platform,
            environment: () => this.evaluator?.environment,
            send: (report) => this.sendOutcomes(report),
            warn: (message) => this.events.emit('error', new Error(message)),
          })
    void this.start(options.bootstrap)
  }

  /**
   * A SpanProcessor to add to the application's tracer provider: spans started
   * after a flag was evaluated in a request carry `vane.flag.<key>` = variant,
   * and the request's outcome is counted per variant.
   *
   * @example
   * provider.addSpanProcessor(vane.spanProcessor()) // or new NodeSDK({ spanProcessors: [vane.spanProcessor(), …] })
   */
  spanProcessor(): VaneSpanProcessor {
    const telemetry = this.telemetry
    return {
      onStart: (span, parentContext) => telemetry?.onStart(span as never, parentContext),
      onEnd: (span) => telemetry?.onEnd(span as never),
      forceFlush: async () => telemetry?.flush(),
      shutdown: async () => {},
    }
  }

  private async sendOutcomes(report: unknown): Promise<void> {
    const url = `${this.options.url.replace(/\/+$/, '')}/sdk/v1/outcomes`
    const response = await this.platform.fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.options.sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(5_000),
    })
    await response.body?.cancel().catch(() => {})
  }

  private async start(bootstrap: ClientOptions['bootstrap']): Promise<void> {
    // with telemetry on, ready means attributed too: no ruleset (so no `ready`, no resolved waitForReady) before
    // OpenTelemetry has loaded, or the requests served first would be neither tagged nor counted
    if (this.telemetry !== undefined) {
      await this.telemetry.loaded
      if (this.state === 'closed') return
    }
    const { persistTo } = this.options
    const initial =
      bootstrap === undefined
        ? persistTo === undefined
          ? undefined
          : await readSnapshotFile(persistTo)
        : 'file' in bootstrap
          ? await readSnapshotFile(bootstrap.file)
          : bootstrap
    if (initial !== undefined && this.evaluator === undefined) {
      this.replace(initial)
      this.resumable = bootstrap === undefined && this.evaluator !== undefined
    }
    if (this.state !== 'closed') this.source.start()
  }

  /** Current state: `ready` once a ruleset is loaded, `stale` while the server is unreachable. */
  get status(): ClientStatus {
    return this.state
  }

  /**
   * Resolves once a ruleset is loaded (with telemetry on, once OpenTelemetry has loaded too, so that the very
   * first requests are tagged and counted); rejects when `timeoutMs` passes first or the key is refused. Never
   * hangs: the default timeout is 10 s.
   */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    if (this.evaluator !== undefined) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = this.platform.setTimeout(
        () => reject(new Error(`Vane was not ready within ${timeoutMs} ms; getters return defaults meanwhile`)),
        timeoutMs,
      )
      this.readyPromise.then(
        () => {
          this.platform.clearTimeout(timer)
          resolve()
        },
        (error: Error) => {
          this.platform.clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  on<E extends keyof ClientEvents>(event: E, listener: Listener<E>): () => void {
    return this.events.on(event, listener)
  }

  /** Evaluates with the caller's default; the result is shared and frozen. */
  evaluate<T extends JsonValue>(flagKey: string, defaultValue: T, context?: object): EvaluationResult<T> {
    const evaluator = this.evaluator
    const result = evaluator === undefined ? notReady(defaultValue) : evaluator.evaluate(flagKey, context, defaultValue)
    this.telemetry?.record(flagKey, result, context)
    return result
  }

  getBoolean(flagKey: string, defaultValue: boolean, context?: object): boolean {
    return this.evaluate(flagKey, defaultValue, context).value
  }
  getString(flagKey: string, defaultValue: string, context?: object): string {
    return this.evaluate(flagKey, defaultValue, context).value
  }
  getNumber(flagKey: string, defaultValue: number, context?: object): number {
    return this.evaluate(flagKey, defaultValue, context).value
  }
  getObject<T extends JsonValue>(flagKey: string, defaultValue: T, context?: object): T {
    return this.evaluate(flagKey, defaultValue, context).value
  }
  getBooleanDetails(flagKey: string, defaultValue: boolean, context?: object): EvaluationDetails<boolean> {
    return details(flagKey, this.evaluate(flagKey, defaultValue, context))
  }
  getStringDetails(flagKey: string, defaultValue: string, context?: object): EvaluationDetails<string> {
    return details(flagKey, this.evaluate(flagKey, defaultValue, context))
  }
  getNumberDetails(flagKey: string, defaultValue: number, context?: object): EvaluationDetails<number> {
    return details(flagKey, this.evaluate(flagKey, defaultValue, context))
  }
  getObjectDetails<T extends JsonValue>(flagKey: string, defaultValue: T, context?: object): EvaluationDetails<T> {
    return details(flagKey, this.evaluate(flagKey, defaultValue, context))
  }

  /** Every flag for one context. */
  evaluateAll(context?: object): Record<string, EvaluationResult> {
    return this.evaluator?.evaluateAll(context) ?? {}
  }

  /** The environment and its version currently served, for telemetry. */
  get snapshotInfo(): { environment: string; version: number } | undefined {
    const e = this.evaluator
    return e === undefined ? undefined : { environment: e.environment, version: e.version }
  }

  /** Stops streaming and timers; getters keep answering from the last ruleset. */
  async close(): Promise<void> {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.source.stop()
    if (this.persistTimer !== undefined) this.platform.clearTimeout(this.persistTimer)
    await Promise.all([this.persistNow(), this.telemetry?.close()])
    this.settleReady.reject(new Error('the client was closed'))
    this.events.clear()
  }

  private replace(snapshot: unknown): void {
    let next: Evaluator
    try {
      next = compileSnapshot(snapshot)
    } catch (error) {
      this.events.emit('error', error instanceof Error ? error : new Error(String(error)))
      return
    }
    const previous = this.evaluator
    this.evaluator = next
    this.persistSoon(0)
    this.changed(previous, next, undefined)
  }

  private patch(patch: SnapshotPatch, id: number | undefined): void {
    const current = this.evaluator
    if (current === undefined) return
    // ordered events older than what we hold are replays; id-less ones are kills sent ahead
    if (id !== undefined && id <= current.version) return
    if (patch.op === 'put' && patch.kind === 'flag') {
      const held = current.flag(patch.key)
      if (held !== undefined && held.version >= patch.value.version) {
        if (id !== undefined) this.evaluator = current.apply({ ...patch, value: held, version: id })
        return
      }
    }
    let next: Evaluator
    try {
      const applied = id === undefined ? { ...patch, version: current.version } : { ...patch, version: id }
      next = current.apply(applied as SnapshotPatch)
    } catch (error) {
      this.events.emit('error', error instanceof Error ? error : new Error(String(error)))
      return
    }
    this.evaluator = next
    this.persistSoon(5_000)
    this.changed(current, next, patch)
  }

  private changed(previous: Evaluator | undefined, next: Evaluator, patch: SnapshotPatch | undefined): void {
    const recovered = this.state === 'stale'
    if (this.state === 'starting' || this.state === 'stale') this.state = 'ready'
    if (previous === undefined) {
      this.settleReady.resolve()
      this.events.emit('ready')
      return
    }
    // fresh data after `stale` (a poll answers before it reports itself connected) is a recovery too
    if (recovered) this.events.emit('ready')
    // a patch names what it can affect (dependants through cohorts and prerequisites, as the server computes them)
    const keys =
      patch === undefined
        ? changedKeys(previous, next)
        : [...(patch.op === 'delete' ? previous : next).affectedFlags(patch.kind, patch.key)]
    if (keys.length > 0) this.events.emit('change', keys)
  }

  private fail(error: Error): void {
    this.state = this.evaluator === undefined ? 'failed' : 'stale'
    this.settleReady.reject(error)
    this.events.emit('error', error)
  }

  private persistSoon(delayMs: number): void {
    if (this.options.persistTo === undefined || this.persistTimer !== undefined) return
    this.persistTimer = this.platform.setTimeout(() => {
      this.persistTimer = undefined
      void this.persistNow()
    }, delayMs)
  }

  private async persistNow(): Promise<void> {
    const path = this.options.persistTo
    if (path === undefined || this.evaluator === undefined) return
    await writeSnapshotFile(path, this.evaluator.snapshot()).catch((error: unknown) =>
      this.events.emit('error', error instanceof Error ? error : new Error(String(error))),
    )
  }
}

function changedKeys(previous: Evaluator, next: Evaluator): string[] {
  const keys = new Set([...previous.flagKeys(), ...next.flagKeys()])
  return [...keys].filter((k) => previous.flag(k)?.version !== next.flag(k)?.version)
}

function notReady<T>(defaultValue: T): EvaluationResult<T> {
  return {
    value: defaultValue,
    reason: Reason.ERROR,
    errorCode: ErrorCode.PROVIDER_NOT_READY,
    errorMessage: 'no ruleset yet: waiting for the server, a bootstrap or a persisted snapshot',
  }
}

function details<T>(flagKey: string, r: EvaluationResult<T>): EvaluationDetails<T> {
  return {
    flagKey,
    value: r.value,
    variant: r.variant,
    reason: r.reason,
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    ruleId: r.ruleId,
    flagVersion: r.flagVersion,
  }
}

/**
 * Creates a client and starts streaming at once.
 *
 * @example
 * const vane = createClient({ url: 'http://127.0.0.1:8787', sdkKey: 'vane_server_…', persistTo: '/var/cache/vane.json' })
 */
export function createClient(options: ClientOptions): VaneClient {
  return new VaneClient(options)
}
