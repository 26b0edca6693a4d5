/**
 * @module @vane/sdk-browser/opentelemetry
 * The same telemetry as the Node SDK, for pages that use OpenTelemetry: each
 * read records the semantic-convention `feature_flag.evaluation` event (as a
 * log record when a logger provider is registered, and on the active span),
 * and the active span carries `vane.flag.<key>` = variant. Its own entry, so
 * pages without OpenTelemetry don't pay for it; the API object is passed in,
 * keeping `@opentelemetry/api` an optional peer.
 *
 * @example
 * import * as otel from '@opentelemetry/api'
 * import { openTelemetry } from '@vane/sdk-browser/opentelemetry'
 * const vane = createClient({ url, clientKey, context, onEvaluation: openTelemetry({ api: otel }) })
 */
import type { EvaluationDetails } from '@vane/sdk-core'
import type { Context } from './client.js'

interface SpanLike {
  setAttribute(key: string, value: string): unknown
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown
}

/** The parts of `@opentelemetry/api` used here. */
export interface OpenTelemetryApi {
  trace: { getActiveSpan(): SpanLike | undefined }
  logs?: {
    getLogger(name: string): { emit(record: { eventName?: string; attributes?: Record<string, unknown> }): void }
  }
}

export interface OpenTelemetryOptions {
  api: OpenTelemetryApi
  /** The environment, for `feature_flag.set.id`. */
  environment?: string
  /** Put `feature_flag.result.value` on events; values may be sensitive. Default false. */
  includeValue?: boolean
}

/** Builds an `onEvaluation` hook for {@link createClient}. */
export function openTelemetry(
  options: OpenTelemetryOptions,
): (details: EvaluationDetails<unknown>, context: Context) => void {
  const logger = options.api.logs?.getLogger('@vane/sdk-browser')
  return (d, context) => {
    const span = options.api.trace.getActiveSpan()
    if (span === undefined && logger === undefined) return
    const attributes: Record<string, string | number | boolean> = {
      'feature_flag.key': d.flagKey,
      'feature_flag.provider.name': 'Vane',
      'feature_flag.result.reason': d.reason.toLowerCase(),
    }
    if (d.variant !== undefined) attributes['feature_flag.result.variant'] = d.variant
    if (typeof context.targetingKey === 'string') attributes['feature_flag.context.id'] = context.targetingKey
    if (options.environment !== undefined) attributes['feature_flag.set.id'] = options.environment
    if (d.flagVersion !== undefined) attributes['feature_flag.version'] = String(d.flagVersion)
    if (d.errorCode !== undefined) attributes['error.type'] = d.errorCode.toLowerCase()
    if (options.includeValue && d.errorCode === undefined)
      attributes['feature_flag.result.value'] =
        typeof d.value === 'object' ? JSON.stringify(d.value) : (d.value as string | number | boolean)
    logger?.emit({ eventName: 'feature_flag.evaluation', attributes })
    if (span !== undefined) {
      span.addEvent('feature_flag.evaluation', attributes)
      if (d.variant !== undefined) span.setAttribute(`vane.flag.${d.flagKey}`, d.variant)
    }
  }
}
