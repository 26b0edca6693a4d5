import { DDSketch } from '@datadog/sketches-js'
import type { z } from 'zod'
import { type ProblemIssue, VaneError } from '../http/errors.js'
import type { EvaluatorHub } from '../live/hub.js'
import type { OutcomeSeries, Store } from '../storage/repository.js'
import {
  decodeSketch,
  encodeSketch,
  latencyQuantiles,
  mergeInto,
  SKETCH_RELATIVE_ACCURACY,
  SketchError,
} from '../storage/sketch.js'
import { requireEnvironment, requireFlag } from './flags.js'
import {
  IMPACT_WINDOWS,
  type impactQuery,
  MAX_IMPACT_MINUTES,
  MAX_SKETCH_BYTES,
  type OutcomeReportInput,
} from './schemas.js'

const MINUTE = 60_000
/** How far ahead of the server's clock a report's `end` may be (clock skew), in ms. */
export const MAX_CLOCK_SKEW_MS = 5 * MINUTE
/** How old a report's `end` may be: older data would fall outside every preset window. */
export const MAX_REPORT_AGE_MS = MAX_IMPACT_MINUTES * MINUTE

export interface OutcomeDeps {
  store: Store
  hub: EvaluatorHub
  now?: () => Date
}

/** What `POST /sdk/v1/outcomes` answers. */
export interface OutcomesAccepted {
  /** The minute window the report was stored in: the one containing its `end`. */
  windowStart: string
  accepted: number
  /** Series of flags or variants the environment does not have (unknown, archived, renamed). */
  ignored: number
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/**
 * Stores one outcome report of an SDK in the minute window that contains its `end`: a report covers the
 * SDK's last ~10 s, so its requests ended at most that long before `end`, and a window query that ends
 * now sees the freshest reports. Series for flags or variants the environment does not have are ignored
 * (counted in the answer), so that a key cannot fill the table with made-up names.
 *
 * @throws VaneError `validation` (422) for an undecodable sketch (pointer `/series/<i>/sketch`) or an `end`
 *   too far in the future or the past (`/end`).
 */
export async function recordReport(
  deps: OutcomeDeps,
  environment: string,
  report: OutcomeReportInput,
): Promise<OutcomesAccepted> {
  const now = (deps.now?.() ?? new Date()).getTime()
  if (report.end > now + MAX_CLOCK_SKEW_MS)
    throw new VaneError('validation', 'the report ends in the future: check the clock of the reporting host', [
      { pointer: '/end', message: `is more than ${MAX_CLOCK_SKEW_MS / MINUTE} minutes ahead of the server's clock` },
    ])
  if (report.end < now - MAX_REPORT_AGE_MS)
    throw new VaneError('validation', 'the report is too old to be stored', [
      { pointer: '/end', message: `is more than ${MAX_REPORT_AGE_MS / MINUTE / 60} hours in the past` },
    ])

  const issues: ProblemIssue[] = []
  const series: OutcomeSeries[] = []
  const evaluator = deps.hub.get(environment)
  let ignored = 0
  report.series.forEach((s, i) => {
    const pointer = `/series/${i}/sketch`
    let bytes: Uint8Array
    try {
      bytes = decodeBase64(s.sketch)
    } catch {
      issues.push({ pointer, message: 'is not base64' })
      return
    }
    if (bytes.length > MAX_SKETCH_BYTES) {
      issues.push({ pointer, message: `is larger than ${MAX_SKETCH_BYTES} bytes` })
      return
    }
    let sketch: DDSketch
    try {
      sketch = decodeSketch(bytes)
    } catch (error) {
      if (!(error instanceof SketchError)) throw error
      issues.push({ pointer, message: error.message })
      return
    }
    const flag = evaluator?.flag(s.flag)
    if (flag === undefined || !Object.hasOwn(flag.variants, s.variant)) {
      ignored++
      return
    }
    // stored as rebuilt from its bins: well formed and no larger than its values need
    series.push({ flagKey: s.flag, variant: s.variant, count: s.count, errors: s.errors, sketch: encodeSketch(sketch) })
  })
  if (issues.length > 0) throw new VaneError('validation', `${issues.length} sketch(es) could not be decoded`, issues)

  const windowStart = new Date(Math.floor(report.end / MINUTE) * MINUTE).toISOString()
  if (series.length > 0) await deps.store.recordOutcomes(environment, windowStart, series)
  return { windowStart, accepted: series.length, ignored }
}

export interface VariantImpact {
  variant: string
  requests: number
  errors: number
  /** errors / requests; null without requests. */
  errorRate: number | null
  /** Within 1 % of the true quantiles; null without requests. */
  latencyMs: { p50: number; p95: number; p99: number } | null
}

export interface FlagImpact {
  environment: string
  flag: string
  /** Start of the first minute window included (the requested start, rounded down to the minute). */
  from: string
  /** End of the range, exclusive: windows that start before it are included. */
  to: string
  variants: VariantImpact[]
}

/** The range of an impact query: a preset `window` ending now (15 minutes by default), or `from` … `to`/now. */
export function impactRange(query: z.infer<typeof impactQuery>, now: Date): { from: Date; to: Date } {
  if (query.from === undefined) {
    const minutes = IMPACT_WINDOWS[query.window ?? '15m']
    return { from: new Date(now.getTime() - minutes * MINUTE), to: now }
  }
  const from = new Date(query.from)
  const to = query.to === undefined ? now : new Date(query.to)
  if (query.to === undefined) {
    const span = to.getTime() - from.getTime()
    if (span <= 0 || span > MAX_IMPACT_MINUTES * MINUTE)
      throw new VaneError('validation', 'the query is invalid (1 problem(s))', [
        {
          pointer: '/from',
          message: `must lie within the last ${MAX_IMPACT_MINUTES / 60} hours when "to" is left out (it is now)`,
        },
      ])
  }
  return { from, to }
}

/**
 * Requests, errors and latency quantiles per variant of one flag, merged over the minute windows that
 * overlap `range`. Every variant of the flag is listed (in definition order, so the control and the canary
 * sit side by side), then any variant seen in reports that the flag no longer has.
 */
export async function flagImpact(
  store: Store,
  environment: string,
  flagKey: string,
  range: { from: Date; to: Date },
): Promise<FlagImpact> {
  await requireEnvironment(store, environment)
  const flag = await requireFlag(store, flagKey)
  const from = new Date(Math.floor(range.from.getTime() / MINUTE) * MINUTE).toISOString()
  const to = range.to.toISOString()
  const rows = await store.readOutcomes(environment, flagKey, from, to)
  const totals = new Map<string, { requests: number; errors: number; sketch: DDSketch }>()
  const total = (variant: string) => {
    let entry = totals.get(variant)
    if (entry === undefined) {
      entry = { requests: 0, errors: 0, sketch: new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY }) }
      totals.set(variant, entry)
    }
    return entry
  }
  for (const name of Object.keys(flag.variants)) total(name)
  for (const row of rows) {
    const entry = total(row.variant)
    entry.requests += row.count
    entry.errors += row.errors
    mergeInto(entry.sketch, decodeSketch(row.sketch))
  }
  const variants = [...totals].map(([variant, t]) => ({
    variant,
    requests: t.requests,
    errors: t.errors,
    errorRate: t.requests > 0 ? t.errors / t.requests : null,
    latencyMs: latencyQuantiles(t.sketch),
  }))
  return { environment, flag: flagKey, from, to, variants }
}

export interface OutcomePruningOptions {
  store: Pick<Store, 'pruneOutcomes'>
  /** Outcome windows older than this many days are deleted. */
  retentionDays: number
  /** How often to prune (an hour by default). */
  everyMs?: number
  /** When to prune first (a minute by default): never in the way of start-up. */
  firstAfterMs?: number
  /** Rows deleted per statement; the event loop runs between statements. */
  batch?: number
  now?: () => number
  onPruned?: (rows: number) => void
  onError?: (error: unknown) => void
}

/**
 * Deletes outcome rows past their retention, a minute after start and then every `everyMs`: reports arrive every
 * 10 s from every SDK, so the table would otherwise only grow. Deletes go in batches with the event loop free in
 * between, so that a first prune of millions of rows does not stall streams and evaluations (on SQLite a
 * statement runs on the main thread). Several instances sharing a database may all prune: deleting what
 * another already deleted is a no-op. Returns a function that stops it, also between batches.
 */
export function startOutcomePruning(options: OutcomePruningOptions): () => void {
  const now = options.now ?? Date.now
  const batch = options.batch ?? 5_000
  let running = false
  let stopped = false
  const prune = async () => {
    if (running || stopped) return
    running = true
    try {
      const before = new Date(now() - options.retentionDays * 24 * 60 * MINUTE).toISOString()
      let total = 0
      for (;;) {
        const rows = await options.store.pruneOutcomes(before, batch)
        total += rows
        if (rows < batch || stopped) break
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      options.onPruned?.(total)
    } catch (error) {
      if (!stopped) options.onError?.(error)
    } finally {
      running = false
    }
  }
  let timer: ReturnType<typeof setInterval> | undefined
  const first = setTimeout(() => {
    void prune()
    timer = setInterval(() => void prune(), options.everyMs ?? 60 * MINUTE)
    timer.unref?.()
  }, options.firstAfterMs ?? MINUTE)
  first.unref?.()
  return () => {
    stopped = true
    clearTimeout(first)
    if (timer !== undefined) clearInterval(timer)
  }
}
