/** Dates in contexts and clauses: ISO 8601 / RFC 3339 text or epoch milliseconds. */

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$/

/**
 * Epoch milliseconds of an ISO 8601 / RFC 3339 date or date-time, or of a
 * finite number; undefined otherwise. Impossible dates (2024-02-30) are
 * rejected rather than rolled over as `Date.parse` would.
 */
export function parseDate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string' || value.length > 40) return undefined
  const m = ISO_DATE.exec(value)
  if (m === null) return undefined
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const calendar = new Date(Date.UTC(year, month - 1, day))
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined
  if (Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 59) return undefined
  // a date-time without an offset is read as UTC, the same on every machine
  const text = m[4] !== undefined && !/[Zz]|[+-]\d{2}:\d{2}$/.test(value) ? `${value}Z` : value
  const ms = Date.parse(m[4] === undefined ? `${value}T00:00:00Z` : text.replace(' ', 'T'))
  return Number.isNaN(ms) ? undefined : ms
}
