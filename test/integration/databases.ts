/**
 * @module test/integration/databases
 * A running server's database, read directly (bypassing the server) on either dialect, and the test
 * PostgreSQL database the PostgreSQL variants create their schemas in.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'

/** PostgreSQL the PostgreSQL variants use; every run gets a schema of its own inside it. */
export const POSTGRES_URL = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A unique, valid PostgreSQL schema name such as `vane_test_3f9a0c12d4e5`. */
export const randomSchema = () => `vane_test_${randomBytes(6).toString('hex')}`

/** The database file of a SQLite data dir. */
export const sqliteFile = (dataDir: string) => join(dataDir, 'vane.db')

/** One `change_log` row, normalised across dialects. */
export interface ChangeRow {
  environment: string
  version: number
  entity: string
  key: string
  op: string
  payload: unknown
  createdAt: string
}

/** One `audit_log` row, normalised across dialects. */
export interface AuditRow {
  id: number
  at: string
  action: string
  entityType: string
  entityKey: string
  environment: string | null
  after: unknown
}

/** Direct, read-mostly access to a server's tables, bypassing the server. */
export interface DatabaseView {
  changes(environment: string): Promise<ChangeRow[]>
  audits(): Promise<AuditRow[]>
  environmentVersion(environment: string): Promise<number | undefined>
  /** Runs one SQL query (`?` placeholders on SQLite, `$1` on PostgreSQL) and returns its rows. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

const iso = (value: unknown) => new Date(value as string | Date).toISOString()
const parseJson = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value)

interface RawChange {
  environment: string
  version: number
  entity: string
  key: string
  op: string
  payload: unknown
  created_at: unknown
}
interface RawAudit {
  id: number
  at: unknown
  action: string
  entity_type: string
  entity_key: string
  environment: string | null
  after: unknown
}

function view(query: DatabaseView['query'], close: () => Promise<void>): DatabaseView {
  return {
    query,
    close,
    changes: async (environment) =>
      (
        await query<RawChange>(
          'SELECT environment, version, entity, key, op, payload, created_at FROM change_log WHERE environment = ? ORDER BY version',
          [environment],
        )
      ).map((r) => ({
        environment: r.environment,
        version: Number(r.version),
        entity: r.entity,
        key: r.key,
        op: r.op,
        payload: parseJson(r.payload),
        createdAt: iso(r.created_at),
      })),
    audits: async () =>
      (
        await query<RawAudit>(
          'SELECT id, at, action, entity_type, entity_key, environment, after FROM audit_log ORDER BY id',
        )
      ).map((r) => ({
        id: Number(r.id),
        at: iso(r.at),
        action: r.action,
        entityType: r.entity_type,
        entityKey: r.entity_key,
        environment: r.environment,
        after: parseJson(r.after),
      })),
    environmentVersion: async (environment) => {
      const rows = await query<{ version: number }>('SELECT version FROM environments WHERE key = ?', [environment])
      return rows[0] === undefined ? undefined : Number(rows[0].version)
    },
  }
}

/** Opens a SQLite database file (which must exist) with better-sqlite3. */
export function openSqliteView(file: string): DatabaseView & { db: Database.Database } {
  const db = new Database(file, { fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return {
    db,
    ...view(
      async <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
      async () => {
        db.close()
      },
    ),
  }
}

/** Connects to `schema` in the test PostgreSQL database. */
export async function openPostgresView(schema: string, url = POSTGRES_URL): Promise<DatabaseView> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
  await client.connect()
  return view(
    async <T>(sql: string, params: unknown[] = []) => {
      let n = 0
      const text = sql.replace(/\?/g, () => `$${++n}`)
      return (await client.query(text, params)).rows as T[]
    },
    () => client.end(),
  )
}

/** Runs `fn` with a plain PostgreSQL client on the test database (creating and dropping schemas). */
export async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>, url = POSTGRES_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}
