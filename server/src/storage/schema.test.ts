import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  generateDrizzleJson,
  generateMigration,
  generateSQLiteDrizzleJson,
  generateSQLiteMigration,
} from 'drizzle-kit/api'
import { getTableName, is, type Table } from 'drizzle-orm'
import { PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core'
import { SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core'
import { describe, expect, it } from 'vitest'
import { migrationsFolder } from './migrations.js'
import * as pg from './schema.pg.js'
import * as sqlite from './schema.sqlite.js'

type Config = ReturnType<typeof pgTableConfig> | ReturnType<typeof sqliteTableConfig>
interface Named {
  name: string
}

// what must agree between the dialects; types differ by design (jsonb/json text, timestamptz/ISO text)
function shape(config: Config) {
  const names = (columns: readonly Partial<Named>[]) => columns.map((c) => c.name)
  return {
    name: config.name,
    columns: config.columns.map((c) => ({ name: c.name, notNull: c.notNull, primary: c.primary })),
    primaryKeys: config.primaryKeys.map((pk) => names(pk.columns)),
    indexes: config.indexes
      .map((i) => ({ name: i.config.name, unique: i.config.unique, on: names(i.config.columns as Partial<Named>[]) }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name))),
    foreignKeys: config.foreignKeys.map((fk) => {
      const ref = fk.reference()
      return {
        columns: names(ref.columns),
        table: getTableName(ref.foreignTable as Table),
        to: names(ref.foreignColumns),
      }
    }),
  }
}

const tables = (schema: Record<string, unknown>, kind: typeof PgTable | typeof SQLiteTable) =>
  Object.values(schema).filter((value) => is(value, kind))

describe('storage schemas', () => {
  it('declare the same tables, columns, keys and indexes on SQLite and PostgreSQL', () => {
    const pgShapes = tables(pg, PgTable).map((t) => shape(pgTableConfig(t as PgTable)))
    const sqliteShapes = tables(sqlite, SQLiteTable).map((t) => shape(sqliteTableConfig(t as SQLiteTable)))
    expect(pgShapes.map((t) => t.name).sort()).toEqual([
      'api_keys',
      'audit_log',
      'change_log',
      'cohort_members',
      'cohorts',
      'environments',
      'flag_configs',
      'flags',
      'kill_triggers',
      'outcomes',
    ])
    expect(pgShapes).toEqual(sqliteShapes)
  })

  it('has committed migrations that are up to date with the schemas', async () => {
    const pgPrev = lastSnapshot('pg')
    expect(await generateMigration(pgPrev as never, generateDrizzleJson(pg, pgPrev.id))).toEqual([])
    const sqlitePrev = lastSnapshot('sqlite')
    const sqliteNow = await generateSQLiteDrizzleJson(sqlite, sqlitePrev.id)
    expect(await generateSQLiteMigration(sqlitePrev as never, sqliteNow)).toEqual([])
  })

  it('keeps PostgreSQL migrations free of a hard-coded schema (run `pnpm db:generate`)', () => {
    const folder = migrationsFolder('pg')
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.sql'))) {
      expect(readFileSync(join(folder, file), 'utf8'), file).not.toMatch(/"public"\./)
    }
  })
})

function lastSnapshot(dialect: 'pg' | 'sqlite'): { id: string } {
  const folder = migrationsFolder(dialect)
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as {
    entries: { idx: number }[]
  }
  const last = journal.entries.at(-1)!
  return JSON.parse(readFileSync(join(folder, 'meta', `${String(last.idx).padStart(4, '0')}_snapshot.json`), 'utf8'))
}
