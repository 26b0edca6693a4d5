import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { expect, it, vi } from 'vitest'
import { repositoryContract } from './contract.js'
import { environment } from './contract-fixtures.js'
import { killSetMigrationContract, migrationsUpTo } from './contract-migrations.js'
import { openSqliteStore } from './sqlite.js'

const root = mkdtempSync(join(tmpdir(), 'vane-sqlite-'))
let runs = 0

repositoryContract(
  'sqlite',
  () => openSqliteStore({ dataDir: join(root, `run-${++runs}`) }),
  async () => rmSync(root, { recursive: true, force: true }),
)

it('keeps committed data across reopening, in WAL mode', async () => {
  const dataDir = join(root, 'reopen')
  mkdirSync(dataDir, { recursive: true })
  const first = await openSqliteStore({ dataDir, file: 'custom.db' })
  await first.insertEnvironment(environment('production'))
  await first.close()
  const second = await openSqliteStore({ dataDir, file: 'custom.db' })
  expect(await second.getEnvironment('production')).toEqual(environment('production'))
  await second.close()
})

it('checkpoints the WAL on a worker thread, not at the end of a commit', async () => {
  const dataDir = join(root, 'checkpoints')
  mkdirSync(dataDir, { recursive: true })
  const store = await openSqliteStore({ dataDir })
  try {
    await store.insertEnvironment(environment('checkpointed'))
    // the database file alone (a copy without its WAL) holds the write once a checkpoint copied it there;
    // SQLite's own checkpoint waits for a thousand pages, so one small write would stay in the WAL
    await vi.waitFor(
      () => {
        const copy = join(dataDir, `copy-${Date.now()}.db`)
        copyFileSync(join(dataDir, 'vane.db'), copy)
        const db = new Database(copy, { readonly: true })
        try {
          expect(db.prepare('SELECT count(*) FROM environments WHERE key = ?').pluck().get('checkpointed')).toBe(1)
        } finally {
          db.close()
        }
      },
      { timeout: 10_000, interval: 200 },
    )
  } finally {
    await store.close()
  }
})

killSetMigrationContract('sqlite', async () => {
  const dataDir = join(root, `older-${++runs}`)
  mkdirSync(dataDir, { recursive: true })
  const client = new Database(join(dataDir, 'vane.db'))
  migrate(drizzle({ client }), { migrationsFolder: migrationsUpTo('sqlite', '0002_outcomes_window_start') })
  return {
    exec: async (sql) => {
      client.exec(sql)
    },
    open: async () => {
      client.close()
      return openSqliteStore({ dataDir })
    },
  }
})
