import type { Clause, CohortRollout, FlagType, JsonValue, Prerequisite, Rule, Serve } from '@vane/engine'

/** An environment (`production`, `staging`, …) with the version of its flag state. */
export interface EnvironmentRecord {
  key: string
  name: string
  /** Increases by exactly one per change that affects this environment. */
  version: number
  createdAt: string
}

/** A flag's definition, shared by every environment. */
export interface FlagRecord {
  key: string
  type: FlagType
  variants: Record<string, JsonValue>
  description: string | null
  tags: string[]
  owner: string | null
  archived: boolean
  version: number
  createdAt: string
  updatedAt: string
}

/** Where a kill came from: a kill of the flag itself, a kill by tag, or a kill trigger's firing. */
export type KillSource = 'direct' | 'tag' | 'trigger'

/**
 * One active kill of a flag in one environment. A kill is lifted only by the unkill that matches it: the direct
 * unkill, the unkill of the same tag, or the same trigger's "resolved".
 */
export interface KillRecord {
  source: KillSource
  /** `tag`: the tag that was killed; `trigger` on a tag: the trigger's tag. */
  tag?: string
  /** `trigger`: the trigger's id. */
  trigger?: string
  reason: string
  /** Name of the key, or `trigger:<name>`. */
  actor: string
  at: string
}

/** A flag's targeting in one environment. */
export interface FlagConfigRecord {
  environment: string
  flagKey: string
  enabled: boolean
  /** True while any kill is active (`kills` is not empty): what the engine reads. */
  killed: boolean
  /** The reason of the latest active kill, null when none is. */
  killReason: string | null
  /** The active kills, oldest first. */
  kills: KillRecord[]
  offVariant: string
  fallthrough: Serve
  rules: Rule[]
  targets: Record<string, string[]>
  prerequisites: Prerequisite[]
  version: number
  updatedAt: string
}

/** A cohort's definition; its member lists live apart so a million keys stay cheap to change. */
export interface CohortRecord {
  key: string
  description: string | null
  clauses: Clause[]
  rollout: CohortRollout | null
  version: number
  createdAt: string
  updatedAt: string
}

export type MemberList = 'include' | 'exclude'

export interface CohortMembers {
  include: string[]
  exclude: string[]
}

export type ChangeEntity = 'flag' | 'cohort'
/** `define`: a cohort's definition alone, its member lists unchanged (a `put` with `keepMembers` on the streams). */
export type ChangeOp = 'put' | 'delete' | 'members' | 'define'

/** One entry of an environment's change log: the source of the change feed. */
export interface ChangeRecord {
  environment: string
  version: number
  entity: ChangeEntity
  key: string
  op: ChangeOp
  /** What the streams send: for `put` the whole merged entity, for `members` the delta. */
  payload: JsonValue
  createdAt: string
}

export interface AuditRecord {
  id: number
  at: string
  /** Name of the key (or trigger) that acted. */
  actor: string
  action: string
  entityType: string
  entityKey: string
  environment: string | null
  before: JsonValue
  after: JsonValue
  reason: string | null
}

export interface AuditQuery {
  /** `type:key`, e.g. `flag:new-checkout`, or just a type (`flag`). */
  entity?: string
  /** ISO timestamp: only entries at or after it. */
  since?: string
  /** Cursor: only entries with an id below it (newest first). */
  before?: number
  limit: number
}

export type KeyKind = 'admin' | 'server' | 'client'

export interface ApiKeyRecord {
  id: string
  name: string
  kind: KeyKind
  environment: string | null
  /** SHA-256 of the secret, hex; the secret itself is never stored. */
  hash: string
  /** First characters of the secret, to recognise a key in listings. */
  prefix: string
  allowedOrigins: string[]
  /**
   * Client keys in secure mode: the secret that signs context keys (HMAC-SHA256), stored as it is because
   * verifying a signature needs it; null for every other key.
   */
  secureModeSecret: string | null
  createdAt: string
  revokedAt: string | null
}

/** What one report adds to one flag × variant (`recordOutcomes`). */
export interface OutcomeSeries {
  flagKey: string
  variant: string
  /** Requests (root spans) that ran under the variant. */
  count: number
  /** Of those, the ones that failed. */
  errors: number
  /** Their latencies in milliseconds: a protobuf DDSketch (1 % relative accuracy), see `sketch.ts`. */
  sketch: Uint8Array
}

/** Outcomes of one flag × variant in one minute of one environment, merged over every report. */
export interface OutcomeRecord extends OutcomeSeries {
  environment: string
  /** Start of the minute (ISO-8601, seconds and milliseconds zero). */
  windowStart: string
}

/** A secret URL that kills or unkills one flag, or every flag carrying a tag, without an admin key. */
export interface TriggerRecord {
  id: string
  environment: string
  /** Exactly one of `flagKey` and `tag` is set. */
  flagKey: string | null
  tag: string | null
  name: string
  hash: string
  prefix: string
  createdAt: string
  revokedAt: string | null
}

/** What a trigger acts on. */
export type TriggerTarget = { flagKey: string } | { tag: string }

/**
 * `code` of the errors (`name: 'StoreError'`) a store throws, the same on both dialects:
 * `DUPLICATE_KEY` when an insert meets an existing key, `MISSING_REFERENCE` when a row refers to an
 * environment, flag or cohort that does not exist (or a version bump or member change names one).
 */
export type StoreErrorCode = 'DUPLICATE_KEY' | 'MISSING_REFERENCE'

/**
 * Storage primitives inside one transaction. Business rules (validation,
 * versions, audit) live in the service layer, once for both dialects.
 */
export interface StoreTx {
  /**
   * Serialises writers of these environments until the transaction ends
   * (row locks on PostgreSQL; SQLite already runs one writer at a time).
   */
  lockEnvironments(keys: string[]): Promise<void>
  /**
   * Makes writes to every environment and the creation of an environment take turns, until the transaction
   * ends: a write listing the environments before a new one committed, and the new one reading the flags
   * before that write committed, would each miss the other. Take it before `lockEnvironments`.
   */
  lockEnvironmentSet(): Promise<void>

  listEnvironments(): Promise<EnvironmentRecord[]>
  getEnvironment(key: string): Promise<EnvironmentRecord | undefined>
  insertEnvironment(record: EnvironmentRecord): Promise<void>
  /** Adds one to the environment's version and returns the new version. */
  bumpEnvironmentVersion(key: string): Promise<number>

  listFlags(options?: { includeArchived?: boolean }): Promise<FlagRecord[]>
  getFlag(key: string): Promise<FlagRecord | undefined>
  upsertFlag(record: FlagRecord): Promise<void>

  listFlagConfigs(environment: string): Promise<FlagConfigRecord[]>
  getFlagConfig(environment: string, flagKey: string): Promise<FlagConfigRecord | undefined>
  upsertFlagConfig(record: FlagConfigRecord): Promise<void>

  listCohorts(): Promise<CohortRecord[]>
  getCohort(key: string): Promise<CohortRecord | undefined>
  upsertCohort(record: CohortRecord): Promise<void>
  /** Deletes the cohort and its members. */
  deleteCohort(key: string): Promise<void>
  getCohortMembers(key: string): Promise<CohortMembers>
  countCohortMembers(key: string): Promise<{ include: number; exclude: number }>
  /** Adds keys (duplicates ignored); returns how many were new. Must take 1,000,000 keys in seconds. */
  addCohortMembers(key: string, list: MemberList, members: string[]): Promise<number>
  /** Removes keys; returns how many were present. */
  removeCohortMembers(key: string, list: MemberList, members: string[]): Promise<number>

  appendChange(record: ChangeRecord): Promise<void>
  /** Changes with version > `after`, ascending, at most `limit`. */
  changesSince(environment: string, after: number, limit: number): Promise<ChangeRecord[]>
  /** Lowest version still in the log, or undefined when it is empty. */
  oldestChange(environment: string): Promise<number | undefined>

  /** Appends and returns the new entry's id (ids increase). */
  appendAudit(record: Omit<AuditRecord, 'id'>): Promise<number>
  /** Newest first. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>

  insertApiKey(record: ApiKeyRecord): Promise<void>
  listApiKeys(): Promise<ApiKeyRecord[]>
  getApiKeyByHash(hash: string): Promise<ApiKeyRecord | undefined>
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>
  /** False when there is no such key; revoking again keeps the first `revokedAt`. */
  revokeApiKey(id: string, at: string): Promise<boolean>

  insertTrigger(record: TriggerRecord): Promise<void>
  /** The triggers of one flag, or of one tag, in an environment; oldest first. */
  listTriggers(environment: string, target: TriggerTarget): Promise<TriggerRecord[]>
  getTriggerByHash(hash: string): Promise<TriggerRecord | undefined>
  /** False when there is no such trigger; revoking again keeps the first `revokedAt`. */
  revokeTrigger(id: string, at: string): Promise<boolean>

  /**
   * Merges series into the environment's minute window starting at `windowStart` (minute-aligned ISO):
   * counts and errors are added and sketches merged into the stored row of each flag × variant, which is
   * created when missing. Series naming the same flag × variant are merged too. Concurrent calls for the
   * same window are serialised, so none of their additions is lost.
   */
  recordOutcomes(environment: string, windowStart: string, series: OutcomeSeries[]): Promise<void>
  /** The flag's rows with `from <= windowStart < to`, by variant, then window. */
  readOutcomes(environment: string, flagKey: string, from: string, to: string): Promise<OutcomeRecord[]>
  /** Deletes up to `limit` rows (any environment) with `windowStart < before`; resolves with how many went. */
  pruneOutcomes(before: string, limit: number): Promise<number>
}

/** A store: the primitives outside a transaction (each call its own), and transactions. */
export interface Store extends StoreTx {
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. Called (or any Store
   * method called) from inside `fn`, it joins the running transaction instead of starting another.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>
  close(): Promise<void>
}
