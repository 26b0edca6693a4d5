import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { composeStore } from './compose.js'
import { migrationsFolder } from './migrations.js'
import { postgresOps } from './postgres-tx.js'
import type { Store } from './repository.js'

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

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

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
    // every connection resolves the unqualified table names of the queries and migrations in this schema
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  })
  // an idle connection that dies (server restart, network) is dropped by the pool; the next query reconnects
  pool.on('error', () => {})
  // a checked-out connection has no pool listener: one that dies between two queries of a transaction would
  // throw an unhandled 'error' and end the process. Its next query fails instead (503), and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => {}))

  try {
    await migrateUnderLock(pool, schema)
  } catch (error) {
    await pool.end()
    throw error
  }

  const db = drizzle({ client: pool })
  return composeStore({
    dialect: 'postgres',
    reads: postgresOps(db),
    begin: (fn) => db.transaction((tx) => fn(postgresOps(tx))),
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
