import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { composeStore } from './compose.js'
import { migrationsFolder } from './migrations.js'
import { Mutex } from './mutex.js'
import { postgresOps } from './postgres-tx.js'
import type { Store, StoreTx } from './repository.js'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` */
  url: string
  /**
   * PostgreSQL schema that holds every table (and the migrations table), created when missing. Lets several
   * deployments or test runs share one database. Default: the connection's search_path (usually `public`).
   */
  schema?: string
  /** Connections in the pool. Default 10. */
  poolSize?: number
}

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * Opens the shared PostgreSQL store and brings its tables up to date.
 *
 * @example
 * const store = await openPostgresStore({ url: process.env.DATABASE_URL!, schema: 'vane' })
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { schema } = options
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`Schema name "${schema}" must match ${SCHEMA_NAME}: lower-case letters, digits and underscores.`)
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // every connection resolves the unqualified table names of the queries and migrations in this schema.
    // Set after connecting, not as a startup option: a DATABASE_URL with `?options=…` replaces those.
    // The pool hands the connection out only once this has completed.
    ...(schema !== undefined && {
      onConnect: async (client: pg.ClientBase) => {
        await client.query(`SET search_path TO "${schema}"`)
      },
    }),
  })
  // an idle connection that dies (server restart, network) is dropped by the pool; the next query reconnects
  pool.on('error', () => {})
  // a checked-out connection has no pool listener: one that dies between two queries of a transaction would
  // throw an unhandled 'error' and end the process. Its next query fails instead (503), and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}))

  try {
    await migrateUnderLock(pool, schema)
    await checkTablesInPlace(pool, schema)
  } catch (error) {
    await pool.end()
    throw error
  }

  const db = drizzle({ client: pool })
  return composeStore({
    dialect: 'postgres',
    reads: postgresOps(db),
    begin: (fn) => db.transaction((tx) => fn(oneQueryAtATime(postgresOps(tx)))),
    ping: async () => {
      try {
        await pool.query('SELECT 1')
        return true
      } catch {
        return false
      }
    },
    close: () => pool.end(),
  })
}

/**
 * A transaction is one connection, and one connection runs one query at a time: callers that start several
 * (`Promise.all` over reads) would otherwise pile them up on it, which pg deprecates. They take turns instead.
 */
function oneQueryAtATime(tx: StoreTx): StoreTx {
  const turns = new Mutex()
  const serial: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(tx) as [string, (...args: unknown[]) => Promise<unknown>][])
    serial[name] = (...args: unknown[]) => turns.run(() => method.apply(tx, args))
  return serial as unknown as StoreTx
}

/**
 * Refuses to run on tables other than the ones the migrations just brought up to date: with a search_path
 * that does not lead to them, this instance would read another deployment's tables, and accept its keys.
 */
async function checkTablesInPlace(pool: pg.Pool, schema: string | undefined): Promise<void> {
  const { rows } = await pool.query<{ current: string | null; table: string; found: string | null }>(
    `SELECT current_schema() AS current, t.name AS table, n.nspname AS found
     FROM unnest(ARRAY['environments', 'api_keys']) AS t(name)
     LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
     LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`,
  )
  for (const row of rows) {
    const expected = schema ?? row.current
    if (expected !== null && row.found === expected) continue
    throw new Error(
      `The table "${row.table}" resolves to ${row.found === null ? 'nothing' : `schema "${row.found}"`}, ` +
        `not to the migrated schema "${expected ?? '(none)'}": check the search_path that DATABASE_URL or the ` +
        `database role sets, and VANE_PG_SCHEMA.`,
    )
  }
}

/** Instances starting together take turns, so that each migration runs once. */
async function migrateUnderLock(pool: pg.Pool, schema: string | undefined): Promise<void> {
  const client = await pool.connect()
  const lock = `vane:migrate:${schema ?? ''}`
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lock])
    try {
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
      await migrate(drizzle({ client }), {
        migrationsFolder: migrationsFolder('pg'),
        ...(schema === undefined ? {} : { migrationsSchema: schema }),
      })
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock])
    }
  } finally {
    client.release()
  }
}
