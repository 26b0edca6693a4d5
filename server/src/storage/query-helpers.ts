import { and, type Column, eq, gte, lt, type SQL, sql } from 'drizzle-orm'
import { isoTimestamp } from './iso-timestamp.js'
import type { AuditQuery } from './repository.js'

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
