import { closeSync, mkdirSync, openSync } from 'node:fs'
import { resolve } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { composeStore } from './compose.js'
import { migrationsFolder } from './migrations.js'
import { Mutex } from './mutex.js'
import type { Store, StoreTx } from './repository.js'
import { WalCheckpointer } from './sqlite-checkpoints.js'
import { type SqliteDb, sqliteOps } from './sqlite-tx.js'

export interface SqliteStoreOptions {
  /** Directory of the database, created when missing. Default `./data`. */
  dataDir?: string
  /** File name inside `dataDir` (or an absolute path). Default `vane.db`. */
  file?: string
}

/**
 * Opens (creating and migrating when needed) the embedded SQLite store.
 *
 * Two connections: a writer that runs every transaction, one at a time, and a reader for reads outside
 * transactions, which in WAL mode sees only committed data and never waits for the writer.
 *
 * @example
 * const store = await openSqliteStore({ dataDir: './data' })
 */
export async function openSqliteStore(options: SqliteStoreOptions = {}): Promise<Store> {
  const dataDir = resolve(options.dataDir ?? './data')
  // the database holds secrets (secure-mode secrets, cohort members): private to the owner, whatever the umask
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = resolve(dataDir, options.file ?? 'vane.db')
  createPrivate(path)

  const writerClient = new Database(path)
  // WAL + NORMAL: a commit survives the process being killed; only a power loss may drop the last ones
  writerClient.pragma('journal_mode = WAL')
  writerClient.pragma('synchronous = NORMAL')
  writerClient.pragma('busy_timeout = 5000')
  writerClient.pragma('foreign_keys = ON')
  // checkpoints run on a worker thread (WalCheckpointer), not at the end of whichever commit fills the WAL
  writerClient.pragma('wal_autocheckpoint = 0')
  // once checkpointed, a WAL grown by a large write is cut back to this size
  writerClient.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
  const writer: SqliteDb = drizzle({ client: writerClient })
  migrate(writer, { migrationsFolder: migrationsFolder('sqlite') })

  const checkpointer = new WalCheckpointer(path)
  const readerClient = new Database(path, { readonly: true })
  readerClient.pragma('busy_timeout = 5000')
  const reader: SqliteDb = drizzle({ client: readerClient })

  const mutex = new Mutex()
  const writes = sqliteOps(writer)
  let closed = false

  // better-sqlite3 cannot keep its own transaction open across an await, so BEGIN/COMMIT are issued by hand
  // and the mutex keeps other async callers off the connection meanwhile
  const begin = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> =>
    mutex.run(async () => {
      if (closed) throw new Error('The SQLite store is closed.')
      writerClient.exec('BEGIN IMMEDIATE')
      try {
        const result = await fn(writes)
        writerClient.exec('COMMIT')
        return result
      } catch (error) {
        if (writerClient.inTransaction) writerClient.exec('ROLLBACK')
        throw error
      }
    })

  return composeStore({
    dialect: 'sqlite',
    reads: sqliteOps(reader),
    begin,
    ping: async () => {
      try {
        return readerClient.prepare('SELECT 1').pluck().get() === 1
      } catch {
        return false
      }
    },
    close: () =>
      // waits for the transaction in flight, if any
      mutex.run(async () => {
        if (closed) return
        closed = true
        await checkpointer.close()
        readerClient.close()
        writerClient.close()
      }),
  })
}

/** Creates the database file as 0600 unless it exists; SQLite gives its -wal and -shm files the same mode. */
function createPrivate(path: string): void {
  try {
    closeSync(openSync(path, 'wx', 0o600))
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EEXIST') throw error
  }
}
