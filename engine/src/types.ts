/** Any value that survives a JSON round trip. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

export const FLAG_TYPES = ['boolean', 'string', 'number', 'object'] as const
export type FlagType = (typeof FLAG_TYPES)[number]

export const OPERATORS = [
  'eq',
  'in',
  'contains',
  'startsWith',
  'endsWith',
  'matches',
  'lt',
  'lte',
  'gt',
  'gte',
  'before',
  'after',
  'semverEq',
  'semverLt',
  'semverLte',
  'semverGt',
  'semverGte',
  'exists',
  'inCohort',
] as const
export type Operator = (typeof OPERATORS)[number]

/**
 * One condition on the context. A missing attribute, or one of the wrong kind for
 * the operator, never matches — negated or not — except for `exists`.
 */
export interface Clause {
  /** Context attribute; a dot path (`user.address.country`) reaches nested fields. Ignored by `inCohort`. */
  attribute?: string | undefined
  op: Operator
  values: JsonValue[]
  negate?: boolean | undefined
}

/** A weighted split; weights are thousandths of a percent and sum to 100000. */
export interface Rollout {
  weights: Record<string, number>
  /** Attribute hashed for bucketing; defaults to `targetingKey`. */
  bucketBy?: string | undefined
  /** Hash salt; defaults to the flag key. */
  salt?: string | undefined
}

export type Serve = { variant: string } | { rollout: Rollout }

export interface Rule {
  id: string
  /** A disabled rule is skipped: this is how a cohort is switched off for one flag. Default true. */
  enabled?: boolean | undefined
  description?: string | undefined
  /** Cohort keys the context must belong to (all of them). */
  cohorts?: string[] | undefined
  /** Clauses that must all hold. */
  clauses?: Clause[] | undefined
  serve: Serve
}

export interface Prerequisite {
  flag: string
  /** The prerequisite must evaluate to one of these variants. */
  variants: string[]
}

/** A flag as an environment sees it: its definition merged with that environment's targeting. */
export interface Flag {
  key: string
  type: FlagType
  variants: Record<string, JsonValue>
  version: number
  enabled: boolean
  /** The kill switch: serves `offVariant` whatever else is configured, keeping targeting intact. */
  killed?: boolean | undefined
  offVariant: string
  prerequisites?: Prerequisite[] | undefined
  /** Variant name → context keys that get it. */
  targets?: Record<string, string[]> | undefined
  rules?: Rule[] | undefined
  fallthrough: Serve
  description?: string | undefined
  tags?: string[] | undefined
  owner?: string | undefined
  archived?: boolean | undefined
}

/** A sticky share of the contexts that match a cohort. */
export interface CohortRollout {
  /** Thousandths of a percent (5000 = 5 %). */
  weight: number
  bucketBy?: string | undefined
  /** Defaults to the cohort key. */
  salt?: string | undefined
}

/** A reusable segment of contexts. */
export interface Cohort {
  key: string
  version?: number | undefined
  description?: string | undefined
  /** Context keys (targetingKey) always in the cohort, unless excluded. */
  include?: string[] | undefined
  /** Context keys never in the cohort. */
  exclude?: string[] | undefined
  /** Clauses that must all hold for a context that is not listed. */
  clauses?: Clause[] | undefined
  rollout?: CohortRollout | undefined
}

/** Everything an evaluator needs for one environment. */
export interface Snapshot {
  environment: string
  version: number
  flags: Record<string, Flag>
  cohorts: Record<string, Cohort>
}

/** One change to a snapshot; `version` is the environment version after it. */
export type SnapshotPatch =
  | { op: 'put'; kind: 'flag'; key: string; value: Flag; version?: number }
  | {
      op: 'put'
      kind: 'cohort'
      key: string
      value: Cohort
      version?: number
      /**
       * The cohort's definition only (description, clauses, rollout): its member lists stay as
       * they are, so editing a cohort of a million keys does not resend them. `value` then
       * carries no `include` or `exclude`.
       */
      keepMembers?: boolean
    }
  | { op: 'delete'; kind: 'flag' | 'cohort'; key: string; version?: number }
  | { op: 'members'; kind: 'cohort'; key: string; add?: MemberDelta; remove?: MemberDelta; version?: number }

/** Keys added to or removed from a cohort's lists: cheap to send for a cohort of millions. */
export interface MemberDelta {
  include?: string[] | undefined
  exclude?: string[] | undefined
}

/** The evaluation context: OpenFeature's `targetingKey` plus attributes. */
export interface EvaluationContext {
  targetingKey?: string | undefined
  [attribute: string]: unknown
}

/** OpenFeature's resolution reasons, plus Vane's `PREREQUISITE_FAILED`. */
export const Reason = {
  STATIC: 'STATIC',
  DEFAULT: 'DEFAULT',
  TARGETING_MATCH: 'TARGETING_MATCH',
  SPLIT: 'SPLIT',
  DISABLED: 'DISABLED',
  PREREQUISITE_FAILED: 'PREREQUISITE_FAILED',
  UNKNOWN: 'UNKNOWN',
  ERROR: 'ERROR',
} as const
export type Reason = (typeof Reason)[keyof typeof Reason]

/** OpenFeature's error codes. */
export const ErrorCode = {
  PROVIDER_NOT_READY: 'PROVIDER_NOT_READY',
  FLAG_NOT_FOUND: 'FLAG_NOT_FOUND',
  PARSE_ERROR: 'PARSE_ERROR',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  TARGETING_KEY_MISSING: 'TARGETING_KEY_MISSING',
  INVALID_CONTEXT: 'INVALID_CONTEXT',
  PROVIDER_FATAL: 'PROVIDER_FATAL',
  GENERAL: 'GENERAL',
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/**
 * The outcome of one evaluation. Results are frozen and may be shared between
 * calls: treat them as read-only.
 */
export interface EvaluationResult<T = JsonValue> {
  readonly value: T
  readonly variant?: string
  readonly reason: Reason
  readonly errorCode?: ErrorCode
  readonly errorMessage?: string
  readonly ruleId?: string
  /** Version of the flag that decided; absent when the flag was not found. */
  readonly flagVersion?: number
  /** True when the kill switch decided. */
  readonly killed?: boolean
}
