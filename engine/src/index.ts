/**
 * @module @vane/engine
 * Vane's rule engine, shared by the server and the Node SDK: compile a snapshot
 * once, then evaluate flags in well under a microsecond without allocating.
 *
 * @example
 * import { compileSnapshot } from '@vane/engine'
 * const evaluator = compileSnapshot(snapshot)
 * evaluator.evaluate('new-checkout', { targetingKey: 'user-1', country: 'NL' }, false)
 */
export { affectedFlags } from './dependents.js'
export { type SnapshotIssue, SnapshotValidationError } from './errors.js'
export { compileSnapshot, type Evaluator } from './evaluator.js'
export type { SliceOptions } from './members.js'
export { BUCKETS, bucketOf, murmur3, murmur3Finish, murmur3Round } from './murmur3.js'
export type { ParseSnapshotResult } from './schema.js'
export { compareSemver, parseSemver, type SemVer } from './semver.js'
export {
  type Clause,
  type Cohort,
  type CohortRollout,
  ErrorCode,
  type EvaluationContext,
  type EvaluationResult,
  FLAG_TYPES,
  type Flag,
  type FlagType,
  type JsonObject,
  type JsonValue,
  type MemberDelta,
  OPERATORS,
  type Operator,
  type Prerequisite,
  Reason,
  type Rollout,
  type Rule,
  type Serve,
  type Snapshot,
  type SnapshotPatch,
} from './types.js'
