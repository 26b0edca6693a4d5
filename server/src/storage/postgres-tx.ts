import { and, asc, desc, eq, gt, gte, inArray, lt, min, sql } from 'drizzle-orm'
import { missingParent } from './errors.js'
import { stringifyInSlices } from './json-slices.js'
import { addMembers, type PgDb, removeMembers } from './postgres-members.js'
import { auditWhere, chunks, keepFirst, mergeOutcomes, outcomeWindow, sortOutcomes } from './query-helpers.js'
import type { StoreTx } from './repository.js'
import * as t from './schema.pg.js'

/** StoreTx over a drizzle node-postgres database (the pool) or one of its transactions. */
export function postgresOps(db: PgDb): StoreTx {
  return {
    lockEnvironments: async (keys) => {
      if (keys.length === 0) return
      // sorted, so that two writers locking overlapping sets cannot deadlock
      await db
        .select({ key: t.environments.key })
        .from(t.environments)
        .where(inArray(t.environments.key, [...new Set(keys)].sort()))
        .orderBy(asc(t.environments.key))
        .for('update')
    },

    // per schema: deployments sharing a database do not wait on each other
    lockEnvironmentSet: async () => {
      await db.execute(sql`SELECT pg_advisory_xact_lock(hashtext('vane:environment-set'), hashtext(current_schema()))`)
    },

    listEnvironments: async () => db.select().from(t.environments).orderBy(asc(t.environments.key)),
    getEnvironment: async (key) => (await db.select().from(t.environments).where(eq(t.environments.key, key)))[0],
    insertEnvironment: async (record) => {
      await db.insert(t.environments).values(record)
    },
    bumpEnvironmentVersion: async (key) => {
      const [row] = await db
        .update(t.environments)
        .set({ version: sql`${t.environments.version} + 1` })
        .where(eq(t.environments.key, key))
        .returning({ version: t.environments.version })
      if (!row) throw missingParent('environment', key)
      return row.version
    },

    listFlags: async (options) =>
      db
        .select()
        .from(t.flags)
        .where(options?.includeArchived ? undefined : eq(t.flags.archived, false))
        .orderBy(asc(t.flags.key)),
    getFlag: async (key) => (await db.select().from(t.flags).where(eq(t.flags.key, key)))[0],
    upsertFlag: async ({ key, ...rest }) => {
      await db
        .insert(t.flags)
        .values({ key, ...rest })
        .onConflictDoUpdate({ target: t.flags.key, set: rest })
    },

    listFlagConfigs: async (environment) =>
      db
        .select()
        .from(t.flagConfigs)
        .where(eq(t.flagConfigs.environment, environment))
        .orderBy(asc(t.flagConfigs.flagKey)),
    getFlagConfig: async (environment, flagKey) =>
      (
        await db
          .select()
          .from(t.flagConfigs)
          .where(and(eq(t.flagConfigs.environment, environment), eq(t.flagConfigs.flagKey, flagKey)))
      )[0],
    upsertFlagConfig: async ({ environment, flagKey, ...rest }) => {
      await db
        .insert(t.flagConfigs)
        .values({ environment, flagKey, ...rest })
        .onConflictDoUpdate({ target: [t.flagConfigs.environment, t.flagConfigs.flagKey], set: rest })
    },

    listCohorts: async () => db.select().from(t.cohorts).orderBy(asc(t.cohorts.key)),
    getCohort: async (key) => (await db.select().from(t.cohorts).where(eq(t.cohorts.key, key)))[0],
    upsertCohort: async ({ key, ...rest }) => {
      await db
        .insert(t.cohorts)
        .values({ key, ...rest })
        .onConflictDoUpdate({ target: t.cohorts.key, set: rest })
    },
    deleteCohort: async (key) => {
      await db.delete(t.cohortMembers).where(eq(t.cohortMembers.cohortKey, key))
      await db.delete(t.cohorts).where(eq(t.cohorts.key, key))
    },
    getCohortMembers: async (key) => {
      const rows = await db
        .select({ list: t.cohortMembers.list, member: t.cohortMembers.memberKey })
        .from(t.cohortMembers)
        .where(eq(t.cohortMembers.cohortKey, key))
        .orderBy(asc(t.cohortMembers.list), asc(t.cohortMembers.memberKey))
      const result = { include: [] as string[], exclude: [] as string[] }
      for (const row of rows) result[row.list].push(row.member)
      return result
    },
    countCohortMembers: async (key) => {
      const rows = await db
        .select({ list: t.cohortMembers.list, n: sql<number>`count(*)::int` })
        .from(t.cohortMembers)
        .where(eq(t.cohortMembers.cohortKey, key))
        .groupBy(t.cohortMembers.list)
      return { include: 0, exclude: 0, ...Object.fromEntries(rows.map((r) => [r.list, r.n])) }
    },
    addCohortMembers: async (key, list, keys) => {
      const [cohort] = await db.select({ key: t.cohorts.key }).from(t.cohorts).where(eq(t.cohorts.key, key))
      if (!cohort) throw missingParent('cohort', key)
      return addMembers(db, key, list, keys)
    },
    removeCohortMembers: (key, list, keys) => removeMembers(db, key, list, keys),

    appendChange: async (record) => {
      // a members change may carry a million keys: its JSON is written in slices, then sent as it is
      const payload = await stringifyInSlices(record.payload)
      await db.insert(t.changeLog).values({ ...record, payload: sql`${payload}::json` })
    },
    changesSince: async (environment, after, limit) =>
      db
        .select()
        .from(t.changeLog)
        .where(and(eq(t.changeLog.environment, environment), gt(t.changeLog.version, after)))
        .orderBy(asc(t.changeLog.version))
        .limit(limit),
    oldestChange: async (environment) => {
      const [row] = await db
        .select({ version: min(t.changeLog.version) })
        .from(t.changeLog)
        .where(eq(t.changeLog.environment, environment))
      return row?.version ?? undefined
    },

    appendAudit: async (record) => {
      const [row] = await db.insert(t.auditLog).values(record).returning({ id: t.auditLog.id })
      return row!.id
    },
    listAudit: async (query) =>
      db.select().from(t.auditLog).where(auditWhere(t.auditLog, query)).orderBy(desc(t.auditLog.id)).limit(query.limit),

    insertApiKey: async (record) => {
      await db.insert(t.apiKeys).values(record)
    },
    listApiKeys: async () => db.select().from(t.apiKeys).orderBy(asc(t.apiKeys.createdAt), asc(t.apiKeys.id)),
    getApiKeyByHash: async (hash) => (await db.select().from(t.apiKeys).where(eq(t.apiKeys.hash, hash)))[0],
    getApiKey: async (id) => (await db.select().from(t.apiKeys).where(eq(t.apiKeys.id, id)))[0],
    revokeApiKey: async (id, at) =>
      ((
        await db
          .update(t.apiKeys)
          .set({ revokedAt: keepFirst(t.apiKeys.revokedAt, at) })
          .where(eq(t.apiKeys.id, id))
      ).rowCount ?? 0) > 0,

    insertTrigger: async (record) => {
      await db.insert(t.killTriggers).values(record)
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
        .orderBy(asc(t.killTriggers.createdAt), asc(t.killTriggers.id)),
    getTriggerByHash: async (hash) => (await db.select().from(t.killTriggers).where(eq(t.killTriggers.hash, hash)))[0],
    revokeTrigger: async (id, at) =>
      ((
        await db
          .update(t.killTriggers)
          .set({ revokedAt: keepFirst(t.killTriggers.revokedAt, at) })
          .where(eq(t.killTriggers.id, id))
      ).rowCount ?? 0) > 0,

    recordOutcomes: async (environment, windowStart, series) => {
      const start = outcomeWindow(windowStart)
      if (series.length === 0) return
      // one writer per environment and minute until commit, on every instance: rows that do not exist yet
      // cannot be locked, and a read-merge-write must not lose a concurrent report's additions
      await db.execute(
        sql`SELECT pg_advisory_xact_lock(hashtext(${`vane:outcomes:${environment}`}), hashtext(${start}))`,
      )
      const stored = []
      for (const flagKeys of chunks([...new Set(series.map((s) => s.flagKey))], 1000))
        stored.push(
          ...(await db
            .select()
            .from(t.outcomes)
            .where(
              and(
                eq(t.outcomes.environment, environment),
                eq(t.outcomes.windowStart, start),
                inArray(t.outcomes.flagKey, flagKeys),
              ),
            )),
        )
      for (const rows of chunks(mergeOutcomes(environment, start, series, stored), 1000))
        await db
          .insert(t.outcomes)
          .values(rows)
          .onConflictDoUpdate({
            target: [t.outcomes.environment, t.outcomes.flagKey, t.outcomes.variant, t.outcomes.windowStart],
            set: { count: sql`excluded.count`, errors: sql`excluded.errors`, sketch: sql`excluded.sketch` },
          })
    },
    readOutcomes: async (environment, flagKey, from, to) =>
      sortOutcomes(
        await db
          .select()
          .from(t.outcomes)
          .where(
            and(
              eq(t.outcomes.environment, environment),
              eq(t.outcomes.flagKey, flagKey),
              gte(t.outcomes.windowStart, from),
              lt(t.outcomes.windowStart, to),
            ),
          ),
      ),
    pruneOutcomes: async (before, limit) => {
      const old = db.select({ id: sql`ctid` }).from(t.outcomes).where(lt(t.outcomes.windowStart, before)).limit(limit)
      return (await db.delete(t.outcomes).where(inArray(sql`ctid`, old))).rowCount ?? 0
    },
  }
}
