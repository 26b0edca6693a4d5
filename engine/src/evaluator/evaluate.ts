/**
 * The evaluation hot path: one monomorphic interpreter ({@link run}) over every
 * compiled flag, and the checks of the caller's input that surround it.
 */
import { testCondition } from '../operators.js'
import { type ErrorCode, type EvaluationResult, Reason } from '../types.js'
import { type CompiledFlag, type Ctx, MAX_DEPTH, type Result, Rollout, type Served, type Tables } from './compiled.js'

export const EMPTY_CONTEXT: Ctx = Object.freeze({}) as Ctx

export function serve(served: Served, ctx: Ctx, key: string | undefined): Result | undefined {
  return served instanceof Rollout ? served.decide(ctx, key) : served
}

/**
 * Decides a flag for a context whose `targetingKey` (`key`) was read and checked
 * once by the caller; `undefined` when a rollout lacks its bucketing attribute.
 */
export function run(
  flag: CompiledFlag,
  ctx: Ctx,
  key: string | undefined,
  tables: Tables,
  depth: number,
): Result | undefined {
  const fixed = flag.fixed
  if (fixed !== undefined) return fixed
  const prerequisites = flag.prerequisites
  if (prerequisites !== undefined) {
    for (let i = 0; i < prerequisites.length; i++) {
      const p = prerequisites[i]!
      const dependency = tables.flags.get(p.key)
      const missing = dependency === undefined || dependency.archived || depth >= MAX_DEPTH
      const outcome = missing ? undefined : run(dependency, ctx, key, tables, depth + 1)
      if (outcome?.variant === undefined || !p.variants.has(outcome.variant)) return flag.prerequisiteFailed
    }
  }
  const targets = flag.targets
  if (targets !== undefined && key !== undefined) {
    const hit = targets.get(key)
    if (hit !== undefined) return hit
  }
  const conditions = flag.conditions
  if (conditions !== undefined) {
    const ends = flag.ruleEnds!
    const inCohort = tables.inCohort
    let i = 0
    for (let r = 0; r < ends.length; r++) {
      const end = ends[r]!
      while (i < end && testCondition(conditions[i]!, ctx, inCohort, depth)) i++
      if (i === end) return serve(flag.ruleServes![r]!, ctx, key)
      i = end
    }
  }
  return serve(flag.fallthrough!, ctx, key)
}

export function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? `"${value.length > 200 ? `${value.slice(0, 200)}…` : value}"` : typeof value
  } catch {
    return 'value'
  }
}

export function failure<T>(
  value: T,
  errorCode: ErrorCode,
  errorMessage: string,
  flagVersion?: number,
): EvaluationResult<T> {
  const r: { -readonly [K in keyof EvaluationResult<T>]: EvaluationResult<T>[K] } = {
    value,
    reason: Reason.ERROR,
    errorCode,
    errorMessage,
  }
  if (flagVersion !== undefined) r.flagVersion = flagVersion
  return Object.freeze(r)
}

/** Checks the context's shape once per call; returns the context or an error message. */
export function checkContext(context: unknown): Ctx | string {
  if (context === undefined || context === null) return EMPTY_CONTEXT
  if (typeof context !== 'object' || Array.isArray(context))
    return `context must be an object, got ${describe(context)}`
  return context as Ctx
}

export function keyError(key: unknown): string {
  return `targetingKey must be a string, got ${describe(key)}`
}

export function errorText(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error)
  } catch {
    return 'unknown error'
  }
}
