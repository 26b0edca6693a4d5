/**
 * Normalises an ISO-8601 timestamp so that SQLite's text comparison and PostgreSQL's timestamptz agree
 * (`2024-05-01` and `2024-05-01T02:00:00+02:00` both become `…Z` text).
 */
export function isoTimestamp(value: string): string {
  const date = new Date(value)
  if (Number.isNaN(date.getTime())) throw new RangeError(`"${value}" is not an ISO-8601 timestamp.`)
  return date.toISOString()
}
