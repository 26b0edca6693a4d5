import type { Database } from 'better-sqlite3'
import { and, asc, desc, eq, gt, gte, inArray, lt, min, sql } from 'drizzle-orm'
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { missingParent } from './errors.js'
import { stringifyInSlices } from './json-slices.js'
import { auditWhere, chunks, keepFirst, mergeOutcomes, outcomeWindow, sortOutcomes } from './query-helpers.js'
import type { MemberList, StoreTx } from './repository.js'
import * as t from './schema.sqlite.js'
import { inTimeSlices } from './time-slices.js'

export type SqliteDb = BetterSQLite3Database & { $client: Database }

/**
 * StoreTx over one better-sqlite3 connection. Queries are synchronous; the methods are async only to fit
 * the interface. Transactions are the caller's business (sqlite.ts).
 */
export function sqliteOps(db: SqliteDb): StoreTx {
  const client = db.$client
  // one statement per chunk, the keys as one JSON parameter: three times faster than a statement per key,
  // and sorted keys fill the primary key index page after page (five times faster for random keys)
  const addMembers = client.prepare(
    'INSERT OR IGNORE INTO cohort_members (cohort_key, list, member_key) SELECT ?, ?, value FROM json_each(?) ORDER BY value',
  )
  const removeMembers = client.prepare(
    'DELETE FROM cohort_members WHERE cohort_key = ? AND list = ? AND member_key IN (SELECT value FROM json_each(?))',
  )
  const cohortExists = client.prepare('SELECT 1 FROM cohorts WHERE key = ?')
  const members = client
    .prepare('SELECT list, member_key FROM cohort_members WHERE cohort_key = ? ORDER BY list, member_key')
    .raw()

  // in slices of about 10 ms with the event loop free in between, so that a million keys never stall the
  // server; the caller's transaction (BEGIN IMMEDIATE, held across the yields) keeps the change atomic
  const eachSlice = (stmt: typeof addMembers, key: string, list: MemberList, keys: string[]) =>
    inTimeSlices(keys, (slice) => stmt.run(key, list, JSON.stringify(slice)).changes)

  return {
    // BEGIN IMMEDIATE already made this connection the only writer
    lockEnvironments: async () => {},
    lockEnvironmentSet: async () => {},

    listEnvironments: async () => db.select().from(t.environments).orderBy(asc(t.environments.key)).all(),
    getEnvironment: async (key) => db.select().from(t.environments).where(eq(t.environments.key, key)).get(),
    insertEnvironment: async (record) => {
      db.insert(t.environments).values(record).run()
    },
    bumpEnvironmentVersion: async (key) => {
      const row = db
        .update(t.environments)
        .set({ version: sql`${t.environments.version} + 1` })
        .where(eq(t.environments.key, key))
        .returning({ version: t.environments.version })
        .get()
      if (!row) throw missingParent('environment', key)
      return row.version
    },

    listFlags: async (options) =>
      db
        .select()
        .from(t.flags)
        .where(options?.includeArchived ? undefined : eq(t.flags.archived, false))
        .orderBy(asc(t.flags.key))
        .all(),
    getFlag: async (key) => db.select().from(t.flags).where(eq(t.flags.key, key)).get(),
    upsertFlag: async ({ key, ...rest }) => {
      db.insert(t.flags)
        .values({ key, ...rest })
        .onConflictDoUpdate({ target: t.flags.key, set: rest })
        .run()
    },

    listFlagConfigs: async (environment) =>
      db
        .select()
        .from(t.flagConfigs)
        .where(eq(t.flagConfigs.environment, environment))
        .orderBy(asc(t.flagConfigs.flagKey))
        .all(),
    getFlagConfig: async (environment, flagKey) =>
      db
        .select()
        .from(t.flagConfigs)
        .where(and(eq(t.flagConfigs.environment, environment), eq(t.flagConfigs.flagKey, flagKey)))
        .get(),
    upsertFlagConfig: async ({ environment, flagKey, ...rest }) => {
      db.insert(t.flagConfigs)
        .values({ environment, flagKey, ...rest })
        .onConflictDoUpdate({ target: [t.flagConfigs.environment, t.flagConfigs.flagKey], set: rest })
        .run()
    },

    listCohorts: async () => db.select().from(t.cohorts).orderBy(asc(t.cohorts.key)).all(),
    getCohort: async (key) => db.select().from(t.cohorts).where(eq(t.cohorts.key, key)).get(),
    upsertCohort: async ({ key, ...rest }) => {
      db.insert(t.cohorts)
        .values({ key, ...rest })
        .onConflictDoUpdate({ target: t.cohorts.key, set: rest })
        .run()
    },
    deleteCohort: async (key) => {
      db.delete(t.cohortMembers).where(eq(t.cohortMembers.cohortKey, key)).run()
      db.delete(t.cohorts).where(eq(t.cohorts.key, key)).run()
    },
    getCohortMembers: async (key) => {
      const result = { include: [] as string[], exclude: [] as string[] }
      for (const [list, member] of members.iterate(key) as Iterable<[MemberList, string]>) result[list].push(member)
      return result
    },
    countCohortMembers: async (key) => {
      const rows = db
        .select({ list: t.cohortMembers.list, n: sql<number>`count(*)` })
        .from(t.cohortMembers)
        .where(eq(t.cohortMembers.cohortKey, key))
        .groupBy(t.cohortMembers.list)
        .all()
      return { include: 0, exclude: 0, ...Object.fromEntries(rows.map((r) => [r.list, r.n])) }
    },
    addCohortMembers: async (key, list, keys) => {
      if (!cohortExists.get(key)) throw missingParent('cohort', key)
      return eachSlice(addMembers, key, list, keys)
    },
    removeCohortMembers: (key, list, keys) => eachSlice(removeMembers, key, list, keys),

    appendChange: async (record) => {
      // a members change may carry a million keys: its JSON is written in slices, then stored as it is
      const payload = await stringifyInSlices(record.payload)
      db.insert(t.changeLog)
        .values({ ...record, payload: sql`${payload}` })
        .run()
    },
    changesSince: async (environment, after, limit) =>
      db
        .select()
        .from(t.changeLog)
        .where(and(eq(t.changeLog.environment, environment), gt(t.changeLog.version, after)))
        .orderBy(asc(t.changeLog.version))
        .limit(limit)
        .all(),
    oldestChange: async (environment) =>
      db
        .select({ version: min(t.changeLog.version) })
        .from(t.changeLog)
        .where(eq(t.changeLog.environment, environment))
        .get()?.version ?? undefined,

    appendAudit: async (record) => db.insert(t.auditLog).values(record).returning({ id: t.auditLog.id }).get().id,
    listAudit: async (query) =>
      db
        .select()
        .from(t.auditLog)
        .where(auditWhere(t.auditLog, query))
        .orderBy(desc(t.auditLog.id))
        .limit(query.limit)
        .all(),

    insertApiKey: async (record) => {
      db.insert(t.apiKeys).values(record).run()
    },
    listApiKeys: async () => db.select().from(t.apiKeys).orderBy(asc(t.apiKeys.createdAt), asc(t.apiKeys.id)).all(),
    getApiKeyByHash: async (hash) => db.select().from(t.apiKeys).where(eq(t.apiKeys.hash, hash)).get(),
    getApiKey: async (id) => db.select().from(t.apiKeys).where(eq(t.apiKeys.id, id)).get(),
    revokeApiKey: async (id, at) =>
      db
        .update(t.apiKeys)
        .set({ revokedAt: keepFirst(t.apiKeys.revokedAt, at) })
        .where(eq(t.apiKeys.id, id))
        .run().changes > 0,

    insertTrigger: async (record) => {
      db.insert(t.killTriggers).values(record).run()
    },
    listTriggers: async (environment, target) =>
      db
        .select()
        .from(t.killTriggers)
        .where(
          and(
            eq(t.killTriggers.environment, environment),
            'tag' in target ? eq(t.killTriggers.tag, target.tag) : eq(t.killTriggers.flagKey, target.flagKey),
          ),
        )
        .orderBy(asc(t.killTriggers.createdAt), asc(t.killTriggers.id))
        .all(),
    getTriggerByHash: async (hash) => db.select().from(t.killTriggers).where(eq(t.killTriggers.hash, hash)).get(),
    revokeTrigger: async (id, at) =>
      db
        .update(t.killTriggers)
        .set({ revokedAt: keepFirst(t.killTriggers.revokedAt, at) })
        .where(eq(t.killTriggers.id, id))
        .run().changes > 0,

    // BEGIN IMMEDIATE makes this the only writer: nothing can change the rows between reading and writing
    recordOutcomes: async (environment, windowStart, series) => {
      const start = outcomeWindow(windowStart)
      if (series.length === 0) return
      const stored = []
      for (const flagKeys of chunks([...new Set(series.map((s) => s.flagKey))], 500))
        stored.push(
          ...db
            .select()
            .from(t.outcomes)
            .where(
              and(
                eq(t.outcomes.environment, environment),
                eq(t.outcomes.windowStart, start),
                inArray(t.outcomes.flagKey, flagKeys),
              ),
            )
            .all(),
        )
      for (const rows of chunks(mergeOutcomes(environment, start, series, stored), 500))
        db.insert(t.outcomes)
          .values(rows)
          .onConflictDoUpdate({
            target: [t.outcomes.environment, t.outcomes.flagKey, t.outcomes.variant, t.outcomes.windowStart],
            set: { count: sql`excluded.count`, errors: sql`excluded.errors`, sketch: sql`excluded.sketch` },
          })
          .run()
    },
    readOutcomes: async (environment, flagKey, from, to) =>
      sortOutcomes(
        db
          .select()
          .from(t.outcomes)
          .where(
            and(
              eq(t.outcomes.environment, environment),
              eq(t.outcomes.flagKey, flagKey),
              gte(t.outcomes.windowStart, from),
              lt(t.outcomes.windowStart, to),
            ),
          )
          .all(),
      ),
    pruneOutcomes: async (before, limit) => {
      const old = db.select({ id: sql`rowid` }).from(t.outcomes).where(lt(t.outcomes.windowStart, before)).limit(limit)
      return db.delete(t.outcomes).where(inArray(sql`rowid`, old)).run().changes
    },
  }
}
