import { and, type Column, eq, gte, lt, type SQL, sql } from 'drizzle-orm'
import { isoTimestamp } from './iso-timestamp.js'
import type { AuditQuery, OutcomeRecord, OutcomeSeries } from './repository.js'
import { encodeSketch, mergeSketches } from './sketch.js'

export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size)
}

/** Lets timers and I/O run between chunks of a long synchronous job. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

interface AuditColumns {
  id: Column
  at: Column
  entityType: Column
  entityKey: Column
}

/** The WHERE clause of AuditQuery, for either dialect's audit_log table. */
export function auditWhere(table: AuditColumns, query: AuditQuery): SQL | undefined {
  const conditions: SQL[] = []
  if (query.entity !== undefined) {
    const colon = query.entity.indexOf(':')
    if (colon < 0) conditions.push(eq(table.entityType, query.entity))
    else {
      conditions.push(eq(table.entityType, query.entity.slice(0, colon)))
      conditions.push(eq(table.entityKey, query.entity.slice(colon + 1)))
    }
  }
  if (query.since !== undefined) conditions.push(gte(table.at, isoTimestamp(query.since)))
  if (query.before !== undefined) conditions.push(lt(table.id, query.before))
  return and(...conditions)
}

/** `SET revoked_at = …` that keeps the first revocation time, so revoking twice changes nothing. */
export const keepFirst = (column: Column, at: string): SQL => sql`coalesce(${column}, ${isoTimestamp(at)})`

/** The ISO text of an outcome window's start; a time that is not a whole minute is a programming error. */
export function outcomeWindow(windowStart: string): string {
  const iso = isoTimestamp(windowStart)
  if (Date.parse(iso) % 60_000 !== 0) throw new RangeError(`An outcome window starts at a whole minute, not at ${iso}.`)
  return iso
}

const seriesId = (s: { flagKey: string; variant: string }) => `${s.flagKey}\u0000${s.variant}`

/**
 * The rows to write back for a report: its series (those naming the same flag × variant combined) added to
 * the stored rows of the same window. `stored` may hold more rows than the report touches; they are left out.
 */
export function mergeOutcomes(
  environment: string,
  windowStart: string,
  series: readonly OutcomeSeries[],
  stored: readonly OutcomeRecord[],
): OutcomeRecord[] {
  const merged = new Map<
    string,
    { flagKey: string; variant: string; count: number; errors: number; sketches: Uint8Array[] }
  >()
  for (const s of series) {
    const entry = merged.get(seriesId(s))
    if (entry === undefined)
      merged.set(seriesId(s), {
        flagKey: s.flagKey,
        variant: s.variant,
        count: s.count,
        errors: s.errors,
        sketches: [s.sketch],
      })
    else {
      entry.count += s.count
      entry.errors += s.errors
      entry.sketches.push(s.sketch)
    }
  }
  for (const row of stored) {
    const entry = merged.get(seriesId(row))
    if (entry === undefined) continue
    entry.count += row.count
    entry.errors += row.errors
    entry.sketches.push(row.sketch)
  }
  // one order for every writer of the window
  return sortOutcomes(
    [...merged.values()].map(({ sketches, ...rest }) => ({
      environment,
      windowStart,
      ...rest,
      sketch: encodeSketch(mergeSketches(sketches)),
    })),
  )
}

/** By flag, variant, then window, in code-unit order on both dialects (collations differ). */
export function sortOutcomes<T extends OutcomeRecord>(rows: T[]): T[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return rows.sort(
    (a, b) => cmp(a.flagKey, b.flagKey) || cmp(a.variant, b.variant) || cmp(a.windowStart, b.windowStart),
  )
}
