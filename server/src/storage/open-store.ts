import { openPostgresStore } from './postgres.js'
import type { Store } from './repository.js'
import { openSqliteStore } from './sqlite.js'

export interface StoreEnv {
  /** `postgres://…` or `postgresql://…` selects PostgreSQL; unset or empty selects SQLite. */
  DATABASE_URL?: string | undefined
  /** PostgreSQL schema for every table, created when missing. Default: the connection's search_path. */
  VANE_PG_SCHEMA?: string | undefined
  /** SQLite's directory. Default `./data`. */
  VANE_DATA_DIR?: string | undefined
}

/**
 * Opens the store the environment asks for: PostgreSQL when `DATABASE_URL` is a postgres URL, else the
 * embedded SQLite file under `VANE_DATA_DIR`.
 *
 * @example
 * const store = await openStore(process.env)
 */
export async function openStore(env: StoreEnv): Promise<Store> {
  const url = env.DATABASE_URL?.trim()
  if (url) {
    if (/^postgres(ql)?:\/\//i.test(url)) {
      const schema = env.VANE_PG_SCHEMA?.trim()
      return openPostgresStore({ url, ...(schema ? { schema } : {}) })
    }
    // a mistyped URL must not quietly start an empty SQLite database instead
    throw new Error('DATABASE_URL must start with postgres:// or postgresql://; unset it to use SQLite.')
  }
  return openSqliteStore({ dataDir: env.VANE_DATA_DIR || './data' })
}
