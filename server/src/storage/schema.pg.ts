import type { Clause, CohortRollout, FlagType, JsonValue, Prerequisite, Rule, Serve } from '@vane/engine'
import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  check,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from 'drizzle-orm/pg-core'
import type { ChangeEntity, ChangeOp, KeyKind, KillRecord, MemberList } from './repository.js'

// Mirror of schema.sqlite.ts: same tables and column names (schema.test.ts checks). Tables carry no schema
// of their own; the connection's search_path decides where they live.

/**
 * `json`, not `jsonb`: jsonb reorders object keys, and the order of rollout weights and variants decides
 * bucketing. pg already parses json results, so reading must not parse again (drizzle's own `json` would
 * turn the stored string "42" into the number 42).
 */
const json = <T>(name: string) =>
  customType<{ data: T; driverData: unknown }>({
    dataType: () => 'json',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => value as T,
  })(name)

/** timestamptz, handed back as `Date#toISOString()` text whatever the session's time zone. */
const timestamp = customType<{ data: string; driverData: string }>({
  dataType: () => 'timestamp with time zone',
  fromDriver: (value) => new Date(value).toISOString(),
})

export const environments = pgTable('environments', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  version: integer('version').notNull().default(0),
  createdAt: timestamp('created_at').notNull(),
})

export const flags = pgTable('flags', {
  key: text('key').primaryKey(),
  type: text('type').$type<FlagType>().notNull(),
  variants: json<Record<string, JsonValue>>('variants').notNull(),
  description: text('description'),
  tags: json<string[]>('tags').notNull(),
  owner: text('owner'),
  archived: boolean('archived').notNull().default(false),
  version: integer('version').notNull(),
  createdAt: timestamp('created_at').notNull(),
  updatedAt: timestamp('updated_at').notNull(),
})

export const flagConfigs = pgTable(
  'flag_configs',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    flagKey: text('flag_key')
      .notNull()
      .references(() => flags.key),
    enabled: boolean('enabled').notNull(),
    killed: boolean('killed').notNull(),
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

export const cohorts = pgTable('cohorts', {
  key: text('key').primaryKey(),
  description: text('description'),
  clauses: json<Clause[]>('clauses').notNull(),
  rollout: json<CohortRollout>('rollout'),
  version: integer('version').notNull(),
  createdAt: timestamp('created_at').notNull(),
  updatedAt: timestamp('updated_at').notNull(),
})

/**
 * Byte-wise text: the members' primary key is only ever probed for equality, and a locale-aware collation
 * (the database default, e.g. C.UTF-8 before PostgreSQL 17) makes a million-row insert about twice as slow.
 */
const bytewiseText = customType<{ data: string }>({ dataType: () => 'text COLLATE "C"' })

// No foreign key to cohorts: checking it row by row would double the cost of adding a million members.
// addCohortMembers checks the cohort once instead, and deleteCohort removes the members itself.
export const cohortMembers = pgTable(
  'cohort_members',
  {
    cohortKey: bytewiseText('cohort_key').notNull(),
    list: bytewiseText('list').$type<MemberList>().notNull(),
    memberKey: bytewiseText('member_key').notNull(),
  },
  (t) => [primaryKey({ columns: [t.cohortKey, t.list, t.memberKey] })],
)

export const changeLog = pgTable(
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

export const auditLog = pgTable(
  'audit_log',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
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

export const apiKeys = pgTable(
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

export const killTriggers = pgTable(
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

/** bytea, handed over as a plain Uint8Array (node-postgres reads it as a Buffer). */
const bytes = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => 'bytea',
  toDriver: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  fromDriver: (value) => new Uint8Array(value),
})

// Per-variant outcomes of SDK reports, one row per flag × variant × minute. No foreign key to flags: a report
// may race a flag's archiving, and the rows of an archived flag are history like its audit entries.
export const outcomes = pgTable(
  'outcomes',
  {
    environment: text('environment')
      .notNull()
      .references(() => environments.key),
    flagKey: text('flag_key').notNull(),
    variant: text('variant').notNull(),
    windowStart: timestamp('window_start').notNull(),
    count: bigint('count', { mode: 'number' }).notNull(),
    errors: bigint('errors', { mode: 'number' }).notNull(),
    sketch: bytes('sketch').notNull(),
  },
  // the index serves pruning by age, which would otherwise read the whole table
  (t) => [
    primaryKey({ columns: [t.environment, t.flagKey, t.variant, t.windowStart] }),
    index('outcomes_window_start').on(t.windowStart),
  ],
)
