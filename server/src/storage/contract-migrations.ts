import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { T1, T2, T3 } from './contract-fixtures.js'
import { migrationsFolder } from './migrations.js'
import type { Store } from './repository.js'

/** A database brought up to an older migration, with the means to fill it and then open it as it is today. */
export interface OlderDatabase {
  /** Runs SQL written for both dialects on the older tables. */
  exec(sql: string): Promise<void>
  /** Opens the store over it: the newer migrations run then. */
  open(): Promise<Store>
}

/** A copy of the dialect's migrations that stops after `lastTag`, for a database as an older release left it. */
export function migrationsUpTo(dialect: 'sqlite' | 'pg', lastTag: string): string {
  const folder = mkdtempSync(join(tmpdir(), `vane-migrations-${dialect}-`))
  cpSync(migrationsFolder(dialect), folder, { recursive: true })
  const file = join(folder, 'meta', '_journal.json')
  const journal = JSON.parse(readFileSync(file, 'utf8')) as { entries: { tag: string }[] }
  const last = journal.entries.findIndex((e) => e.tag === lastTag)
  if (last < 0) throw new Error(`No migration "${lastTag}" in ${file}.`)
  journal.entries = journal.entries.slice(0, last + 1)
  writeFileSync(file, JSON.stringify(journal))
  return folder
}

// one statement per line: both dialects take these literals (TRUE, ISO text for timestamps, JSON as text)
const BEFORE_KILL_SETS = [
  `INSERT INTO environments (key, name, version, created_at) VALUES ('production', 'Production', 3, '${T1}')`,
  ...['checkout', 'search', 'profile'].map(
    (key) =>
      `INSERT INTO flags (key, type, variants, description, tags, owner, archived, version, created_at, updated_at)
       VALUES ('${key}', 'boolean', '{"on":true,"off":false}', NULL, '[]', NULL, FALSE, 1, '${T1}', '${T1}')`,
  ),
  ...[
    ['checkout', 'TRUE', `'INC-7: errors'`, T2],
    ['search', 'TRUE', 'NULL', T3],
    ['profile', 'FALSE', 'NULL', T1],
  ].map(
    ([key, killed, reason, at]) =>
      `INSERT INTO flag_configs (environment, flag_key, enabled, killed, kill_reason, off_variant, fallthrough, rules,
         targets, prerequisites, version, updated_at)
       VALUES ('production', '${key}', TRUE, ${killed}, ${reason}, 'off', '{"variant":"on"}', '[]', '{}', '[]', 2, '${at}')`,
  ),
  ...[
    ['ops-alice', 'flag.kill', T1],
    ['ops-alice', 'flag.unkill', T1],
    ['ops-bob', 'flag.kill', T2],
  ].map(
    ([actor, action, at]) =>
      `INSERT INTO audit_log (at, actor, action, entity_type, entity_key, environment, before, after, reason)
       VALUES ('${at}', '${actor}', '${action}', 'flag', 'checkout', 'production', NULL, NULL, 'INC-7: errors')`,
  ),
  `INSERT INTO kill_triggers (id, environment, flag_key, name, hash, prefix, created_at, revoked_at)
   VALUES ('t1', 'production', 'checkout', 'pagerduty', 'trigger-hash-t1', 'vt_t1', '${T1}', NULL)`,
]

/**
 * Registers the test of the migration to kill sets: a flag killed before them keeps exactly one active direct
 * kill, with its reason and the actor and time of its last kill in the audit log (or what stands in for them).
 */
export function killSetMigrationContract(name: string, older: () => Promise<OlderDatabase>): void {
  it(`${name}: a flag killed before kill sets existed keeps one direct kill; triggers keep their flag`, async () => {
    const db = await older()
    for (const statement of BEFORE_KILL_SETS) await db.exec(statement)
    const store = await db.open()
    try {
      expect(await store.getFlagConfig('production', 'checkout')).toMatchObject({
        killed: true,
        killReason: 'INC-7: errors',
        kills: [{ source: 'direct', reason: 'INC-7: errors', actor: 'ops-bob', at: T2 }],
      })
      expect(await store.getFlagConfig('production', 'search')).toMatchObject({
        killed: true,
        kills: [{ source: 'direct', reason: 'killed before kill sets existed', actor: 'unknown', at: T3 }],
      })
      expect(await store.getFlagConfig('production', 'profile')).toMatchObject({ killed: false, kills: [] })
      // the triggers of that time act on their flag, as before
      expect(await store.getTriggerByHash('trigger-hash-t1')).toEqual({
        id: 't1',
        environment: 'production',
        flagKey: 'checkout',
        tag: null,
        name: 'pagerduty',
        hash: 'trigger-hash-t1',
        prefix: 'vt_t1',
        createdAt: T1,
        revokedAt: null,
      })
    } finally {
      await store.close()
    }
  })
}
