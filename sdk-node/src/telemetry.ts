import { DDSketch } from '@datadog/sketches-js'
import type { EvaluationResult } from '@vane/engine'
import type { Platform } from '@vane/sdk-core'

/** Options for span tagging, evaluation events and outcome reports. */
export interface TelemetryOptions {
  /** Emit `feature_flag.evaluation` log events (through `@opentelemetry/api` ≥ 1.10 and `@opentelemetry/api-logs`). Default true. */
  events?: boolean | undefined
  /** Also record the event on the active span, for backends that only read spans. Default false. */
  spanEvents?: boolean | undefined
  /** Put `feature_flag.result.value` on events; values may be sensitive. Default false. */
  includeValue?: boolean | undefined
  /** Send per-variant outcomes of server spans to Vane every this many ms. Default 10 s; 0 turns reports off. */
  reportIntervalMs?: number | undefined
  /** Flag × variant pairs kept between reports; more are dropped, never blocking. Default 1,000. */
  maxSeries?: number | undefined
}

/** The attribute every tagged span carries per flag: `vane.flag.<flag key>` = variant. */
export const FLAG_ATTRIBUTE_PREFIX = 'vane.flag.'

// the parts of @opentelemetry/api this module uses, so it stays an optional peer
interface SpanLike {
  setAttribute(key: string, value: string): unknown
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown
  spanContext(): { spanId: string; traceId: string }
}
interface ReadableSpanLike {
  spanContext(): { spanId: string }
  duration: [number, number]
  status: { code: number }
}
interface OtelApi {
  trace: { getActiveSpan(): SpanLike | undefined; getSpan(context: unknown): SpanLike | undefined }
}
interface LogsApi {
  logs: {
    getLogger(name: string): { emit(record: { eventName?: string; attributes?: Record<string, unknown> }): void }
  }
}

interface RequestState {
  root: SpanLike
  flags: Map<string, string>
}

interface Series {
  count: number
  errors: number
  sketch: DDSketch
}

/** One report: what server spans saw per flag and variant over a window. */
export interface OutcomeReport {
  start: number
  end: number
  series: { flag: string; variant: string; count: number; errors: number; sketch: string }[]
}

const REASONS: Record<string, string> = {
  STATIC: 'static',
  DEFAULT: 'default',
  TARGETING_MATCH: 'targeting_match',
  SPLIT: 'split',
  DISABLED: 'disabled',
  ERROR: 'error',
  UNKNOWN: 'unknown',
}

/**
 * Vane's OpenTelemetry: evaluation events by the semantic conventions, the
 * variants of every evaluated flag on the request's spans, and per-variant
 * outcomes of server spans sent to Vane for canary impact.
 */
export class Telemetry {
  private api: OtelApi | undefined
  private logs: LogsApi | undefined
  /** `@opentelemetry/api` ≥ 1.10 has the logs API itself; current logs SDKs register their provider there. */
  private apiLogs: LogsApi | undefined
  private closed = false
  /** Span → the state of the request it belongs to; spans are never held beyond their life. */
  private readonly requests = new WeakMap<object, RequestState>()
  private readonly series = new Map<string, Series>()
  private windowStart: number
  private timer: unknown
  private dropped = 0
  /**
   * Settles (never rejects) once the optional peers have loaded or failed to: before that, evaluations tag no
   * span and requests are not counted, so the client is not ready until then.
   */
  readonly loaded: Promise<void>

  constructor(
    private readonly options: TelemetryOptions,
    private readonly context: {
      platform: Platform
      environment: () => string | undefined
      send: (report: OutcomeReport) => Promise<void>
      warn: (message: string) => void
    },
  ) {
    this.windowStart = context.platform.now()
    // optional peers: loaded lazily, and telemetry simply stays off without them
    const api = import('@opentelemetry/api')
      .then((m) => {
        this.api = m as unknown as OtelApi
        if (options.events !== false && (m as Partial<LogsApi>).logs !== undefined)
          this.apiLogs = m as unknown as LogsApi
      })
      .catch(() => {})
    const logs =
      options.events === false
        ? undefined
        : import('@opentelemetry/api-logs').then((m) => (this.logs = m as unknown as LogsApi)).catch(() => {})
    this.loaded = Promise.all([api, logs]).then(() => {})
    const interval = options.reportIntervalMs ?? 10_000
    if (interval > 0) this.schedule(interval)
  }

  private schedule(interval: number): void {
    if (this.closed) return
    this.timer = this.context.platform.setTimeout(() => {
      void this.flush().finally(() => this.schedule(interval))
    }, interval)
  }

  /** Called by the client after every evaluation; never throws (getters must not), whatever the context or default. */
  record(flagKey: string, result: EvaluationResult, context: object | undefined): void {
    try {
      this.recordUnsafe(flagKey, result, context)
    } catch {
      // a hostile context (throwing getter, proxy) or an unserialisable default: no telemetry for this call
    }
  }

  private recordUnsafe(flagKey: string, result: EvaluationResult, context: object | undefined): void {
    const span = this.api?.trace.getActiveSpan()
    const variant = result.variant
    if (span !== undefined && variant !== undefined) {
      const request = this.requests.get(span)
      span.setAttribute(FLAG_ATTRIBUTE_PREFIX + flagKey, variant)
      if (request !== undefined) {
        request.flags.set(flagKey, variant)
        if (request.root !== span) request.root.setAttribute(FLAG_ATTRIBUTE_PREFIX + flagKey, variant)
      }
    }
    // a provider registered through either API gets the event; the other one's logger is a no-op
    const logger = this.logs?.logs.getLogger('@vane/sdk-node')
    const apiLogger = this.apiLogs?.logs.getLogger('@vane/sdk-node')
    if (logger === undefined && apiLogger === undefined && !(this.options.spanEvents && span !== undefined)) return
    const attributes = this.eventAttributes(flagKey, result, context)
    logger?.emit({ eventName: 'feature_flag.evaluation', attributes })
    apiLogger?.emit({ eventName: 'feature_flag.evaluation', attributes })
    if (this.options.spanEvents && span !== undefined) span.addEvent('feature_flag.evaluation', attributes)
  }

  private eventAttributes(flagKey: string, result: EvaluationResult, context: object | undefined) {
    const attributes: Record<string, string | number | boolean> = {
      'feature_flag.key': flagKey,
      'feature_flag.provider.name': 'Vane',
      'feature_flag.result.reason': REASONS[result.reason] ?? result.reason.toLowerCase(),
    }
    if (result.variant !== undefined) attributes['feature_flag.result.variant'] = result.variant
    const id = (context as { targetingKey?: unknown } | undefined)?.targetingKey
    if (typeof id === 'string') attributes['feature_flag.context.id'] = id
    const environment = this.context.environment()
    if (environment !== undefined) attributes['feature_flag.set.id'] = environment
    if (result.flagVersion !== undefined) attributes['feature_flag.version'] = String(result.flagVersion)
    if (result.errorCode !== undefined) {
      attributes['error.type'] = result.errorCode.toLowerCase()
      if (result.errorMessage !== undefined) attributes['feature_flag.error.message'] = result.errorMessage
    }
    if (this.options.includeValue && result.value !== undefined)
      attributes['feature_flag.result.value'] =
        typeof result.value === 'object' ? JSON.stringify(result.value) : (result.value as string | number | boolean)
    return attributes
  }

  /** SpanProcessor.onStart: a span joins its request, and carries the variants evaluated so far. */
  onStart(span: SpanLike, parentContext: unknown): void {
    const parent = this.api?.trace.getSpan(parentContext)
    const request = parent === undefined ? undefined : this.requests.get(parent)
    if (request === undefined) {
      // no local parent: this span is the root of a request in this process
      this.requests.set(span, { root: span, flags: new Map() })
      return
    }
    this.requests.set(span, request)
    for (const [flag, variant] of request.flags) span.setAttribute(FLAG_ATTRIBUTE_PREFIX + flag, variant)
  }

  /** SpanProcessor.onEnd: a request's root span ends; count its outcome for each variant it ran under. */
  onEnd(span: ReadableSpanLike): void {
    const request = this.requests.get(span)
    if (request === undefined || request.root !== (span as unknown) || request.flags.size === 0) return
    const ms = span.duration[0] * 1e3 + span.duration[1] / 1e6
    const failed = span.status.code === 2
    for (const [flag, variant] of request.flags) {
      const id = `${flag}\u0000${variant}`
      let entry = this.series.get(id)
      if (entry === undefined) {
        if (this.series.size >= (this.options.maxSeries ?? 1_000)) {
          if (this.dropped++ === 0)
            this.context.warn('Vane outcome series limit reached; dropping new flag variants until the next report')
          continue
        }
        entry = { count: 0, errors: 0, sketch: new DDSketch({ relativeAccuracy: 0.01 }) }
        this.series.set(id, entry)
      }
      entry.count++
      if (failed) entry.errors++
      entry.sketch.accept(Math.max(ms, 1e-3))
    }
  }

  /** Sends what was collected and starts a new window; a failed send is dropped, never retried into memory. */
  async flush(): Promise<void> {
    const end = this.context.platform.now()
    const report: OutcomeReport = { start: this.windowStart, end, series: [] }
    for (const [id, s] of this.series) {
      const [flag, variant] = id.split('\u0000') as [string, string]
      report.series.push({ flag, variant, count: s.count, errors: s.errors, sketch: toBase64(s.sketch.toProto()) })
    }
    this.series.clear()
    this.dropped = 0
    this.windowStart = end
    if (report.series.length === 0) return
    await this.context.send(report).catch(() => {})
  }

  async close(): Promise<void> {
    // a send in flight must not schedule another report once closed
    this.closed = true
    if (this.timer !== undefined) this.context.platform.clearTimeout(this.timer)
    await this.flush()
  }
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}
