import type { Clause, CohortRollout, FlagType, JsonValue, Prerequisite, Rule, Serve } from '@vane/engine'
import { sql } from 'drizzle-orm'
import { check, customType, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'
import { isoTimestamp } from './iso-timestamp.js'
import type { ChangeEntity, ChangeOp, KeyKind, KillRecord, MemberList } from './repository.js'

// Mirror of schema.pg.ts: same tables and column names (schema.test.ts checks).

const json = <T>(name: string) => text(name, { mode: 'json' }).$type<T>()
const bool = (name: string) => integer(name, { mode: 'boolean' })

/**
 * ISO-8601 text, always written as `Date#toISOString()` gives it: so that text order is time order, and a
 * timestamp with an offset comes back as PostgreSQL's timestamptz gives it back.
 */
const timestamp = customType<{ data: string; driverData: string }>({
  dataType: () => 'text',
  toDriver: isoTimestamp,
})

export const environments = sqliteTable('environments', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  version: integer('version').notNull().default(0),
  createdAt: timestamp('created_at').notNull(),
})

export const flags = sqliteTable('flags', {
  key: text('key').primaryKey(),
  type: text('type').$type<FlagType>().notNull(),
  variants: json<Record<string, JsonValue>>('variants').notNull(),
  description: text('description'),
  tags: json<string[]>('tags').notNull(),
  owner: text('owner'),
  archived: bool('archived').notNull().default(false),
  version: integer('version').notNull(),
  createdAt: timestamp('created_at').notNull(),
  updatedAt: timestamp('updated_at').notNull(),
})

export const flagConfigs = sqliteTable(
  'flag_configs',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    flagKey: text('flag_key')
      .notNull()
      .references(() => flags.key),
    enabled: bool('enabled').notNull(),
    killed: bool('killed').notNull(),
    killReason: text('kill_reason'),
    // the active kills; `killed` above is true exactly while this is not empty
    kills: json<KillRecord[]>('kills').notNull().default([]),
    offVariant: text('off_variant').notNull(),
    fallthrough: json<Serve>('fallthrough').notNull(),
    rules: json<Rule[]>('rules').notNull(),
    targets: json<Record<string, string[]>>('targets').notNull(),
    prerequisites: json<Prerequisite[]>('prerequisites').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environment, t.flagKey] })],
)

export const cohorts = sqliteTable('cohorts', {
  key: text('key').primaryKey(),
  description: text('description'),
  clauses: json<Clause[]>('clauses').notNull(),
  rollout: json<CohortRollout>('rollout'),
  version: integer('version').notNull(),
  createdAt: timestamp('created_at').notNull(),
  updatedAt: timestamp('updated_at').notNull(),
})

// No foreign key to cohorts: checking it row by row slows down adding a million members. addCohortMembers
// checks the cohort once instead, and deleteCohort removes the members itself.
export const cohortMembers = sqliteTable(
  'cohort_members',
  {
    cohortKey: text('cohort_key').notNull(),
    list: text('list').$type<MemberList>().notNull(),
    memberKey: text('member_key').notNull(),
  },
  (t) => [primaryKey({ columns: [t.cohortKey, t.list, t.memberKey] })],
)

export const changeLog = sqliteTable(
  'change_log',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    version: integer('version').notNull(),
    entity: text('entity').$type<ChangeEntity>().notNull(),
    key: text('key').notNull(),
    op: text('op').$type<ChangeOp>().notNull(),
    payload: json<JsonValue>('payload'),
    createdAt: timestamp('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environment, t.version] })],
)

export const auditLog = sqliteTable(
  'audit_log',
  {
    // AUTOINCREMENT: ids are never reused, so a paging cursor stays valid after deletions.
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: timestamp('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    entityType: text('entity_type').notNull(),
    entityKey: text('entity_key').notNull(),
    environment: text('environment'),
    before: json<JsonValue>('before'),
    after: json<JsonValue>('after'),
    reason: text('reason'),
  },
  (t) => [index('audit_log_entity_idx').on(t.entityType, t.entityKey, t.id), index('audit_log_at_idx').on(t.at)],
)

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    kind: text('kind').$type<KeyKind>().notNull(),
    environment: text('environment').references(() => environments.key),
    hash: text('hash').notNull(),
    prefix: text('prefix').notNull(),
    allowedOrigins: json<string[]>('allowed_origins').notNull(),
    secureModeSecret: text('secure_mode_secret'),
    createdAt: timestamp('created_at').notNull(),
    revokedAt: timestamp('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_idx').on(t.hash)],
)

export const killTriggers = sqliteTable(
  'kill_triggers',
  {
    id: text('id').primaryKey(),
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    // exactly one of flag_key and tag: a trigger kills one flag, or every flag carrying the tag
    flagKey: text('flag_key').references(() => flags.key),
    tag: text('tag'),
    name: text('name').notNull(),
    hash: text('hash').notNull(),
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at').notNull(),
    revokedAt: timestamp('revoked_at'),
  },
  (t) => [
    uniqueIndex('kill_triggers_hash_idx').on(t.hash),
    index('kill_triggers_flag_idx').on(t.environment, t.flagKey),
    index('kill_triggers_tag_idx').on(t.environment, t.tag),
    check('kill_triggers_one_target', sql`(flag_key IS NULL) <> (tag IS NULL)`),
  ],
)

/** A blob, handed over as a plain Uint8Array (better-sqlite3 reads it as a Buffer). */
const bytes = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => 'blob',
  toDriver: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  fromDriver: (value) => new Uint8Array(value),
})

// Per-variant outcomes of SDK reports, one row per flag × variant × minute. No foreign key to flags: a report
// may race a flag's archiving, and the rows of an archived flag are history like its audit entries.
export const outcomes = sqliteTable(
  'outcomes',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    flagKey: text('flag_key').notNull(),
    variant: text('variant').notNull(),
    windowStart: timestamp('window_start').notNull(),
    count: integer('count').notNull(),
    errors: integer('errors').notNull(),
    sketch: bytes('sketch').notNull(),
  },
  // the index serves pruning by age, which would otherwise read the whole table
  (t) => [
    primaryKey({ columns: [t.environment, t.flagKey, t.variant, t.windowStart] }),
    index('outcomes_window_start').on(t.windowStart),
  ],
)
