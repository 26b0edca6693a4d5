/** Compiling flags and cohorts into the data of `compiled.ts`: precomputed results, shared parts, conditions. */
import { MemberSet } from '../members.js'
import { Bucketer } from '../murmur3.js'
import { attributePath, type Condition, compileCondition, readAttribute, testCondition } from '../operators.js'
import { type Clause, type Cohort, type Flag, type JsonValue, Reason, type Serve } from '../types.js'
import {
  bucketValue,
  type CompiledCohort,
  CompiledFlag,
  type Result,
  Rollout,
  type Served,
  targetingKey,
} from './compiled.js'

/** A flag whose answer does not depend on the context: killed, disabled, or with nothing to decide. */
export function fixedFlag(flag: Flag, result: Result): CompiledFlag {
  const none = undefined
  return new CompiledFlag(flag, flag.type, flag.archived === true, result, none, none, none, none, none, none, none)
}

function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) freezeDeep(v)
    Object.freeze(value)
  }
  return value
}

/** A precomputed result; built as one literal per shape, so its fields sit inside the object. */
function result(flag: Flag, variant: string, reason: Reason, ruleId?: string, killed?: true): Result {
  const value = freezeDeep(flag.variants[variant] as JsonValue)
  const flagVersion = flag.version
  if (killed) return Object.freeze({ value, variant, reason, flagVersion, killed })
  if (ruleId !== undefined) return Object.freeze({ value, variant, reason, flagVersion, ruleId })
  return Object.freeze({ value, variant, reason, flagVersion })
}

/** Deep equality by `Object.is` on every leaf, keys in the same order. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!
    if (k !== kb[i] || !sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/** Arrays built by `push` keep spare capacity; compiled tables live long, so they keep none. */
function exact<T>(items: T[]): readonly T[] {
  return items.slice()
}

/**
 * Compiles the flags and cohorts of one snapshot (or one patch). Definitions
 * repeat themselves — the same variants, clauses, country lists and serves in
 * flag after flag — so equal parts of the sources are stored once, frozen, and
 * equal clauses compile to one shared condition: memory grows with what is
 * distinct, not with the number of flags. The table of parts lives for one
 * compile only (its keys are the parts' JSON), so a patch shares nothing with
 * the flags already loaded.
 */
export class Compiler {
  private readonly parts = new Map<string, unknown>()
  private readonly conditionsByClause = new Map<unknown, Condition>()

  /** The one stored, frozen copy equal to `value`; its own parts are shared the same way. */
  private share<T>(value: T): T {
    if (typeof value !== 'object' || value === null) return value
    const key = JSON.stringify(value)
    const stored = this.parts.get(key)
    // JSON text conflates what JSON cannot tell apart (-0 and 0): a match must be the same value
    if (stored !== undefined && sameValue(stored, value)) return stored as T
    const copy: unknown = Array.isArray(value)
      ? value.map((v) => this.share(v))
      : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.share(v)]))
    this.parts.set(key, Object.freeze(copy))
    return copy as T
  }

  /** Membership of one cohort as a condition, so a rule's cohorts and clauses are one list. */
  private inCohort(key: string): Condition {
    let condition = this.conditionsByClause.get(key)
    if (condition === undefined) {
      condition = compileCondition({ op: 'inCohort', values: [key] })
      this.conditionsByClause.set(key, condition)
    }
    return condition
  }

  private condition(clause: Clause): Condition {
    let condition = this.conditionsByClause.get(clause)
    if (condition === undefined) {
      condition = compileCondition(clause)
      this.conditionsByClause.set(clause, condition)
    }
    return condition
  }

  /** Compiles a flag fresh from the schema, which it takes over: its parts are swapped for shared ones, then frozen. */
  flag(flag: Flag): CompiledFlag {
    // the flag object itself is unique (its key); everything inside it may be shared
    const fields = flag as unknown as Record<string, unknown>
    for (const key of Object.keys(fields)) fields[key] = this.share(fields[key])
    Object.freeze(flag)
    const type = flag.type
    const archived = flag.archived === true
    if (flag.killed) return fixedFlag(flag, result(flag, flag.offVariant, Reason.DISABLED, undefined, true))
    if (!flag.enabled) return fixedFlag(flag, result(flag, flag.offVariant, Reason.DISABLED))

    const prerequisites =
      flag.prerequisites !== undefined && flag.prerequisites.length > 0
        ? flag.prerequisites.map((p) => ({ key: p.flag, variants: new Set(p.variants) }))
        : undefined
    const prerequisiteFailed =
      prerequisites !== undefined ? result(flag, flag.offVariant, Reason.PREREQUISITE_FAILED) : undefined

    let targets: Map<string, Result> | undefined
    for (const [variant, keys] of Object.entries(flag.targets ?? {})) {
      if (keys.length === 0) continue
      const hit = result(flag, variant, Reason.TARGETING_MATCH)
      targets ??= new Map()
      for (const key of keys) if (!targets.has(key)) targets.set(key, hit)
    }

    // rules become one flat list of conditions, with where each rule ends and what it serves
    const conditions: Condition[] = []
    const ruleEnds: number[] = []
    const ruleServes: Served[] = []
    for (const rule of flag.rules ?? []) {
      if (rule.enabled === false) continue
      for (const key of rule.cohorts ?? []) conditions.push(this.inCohort(key))
      for (const clause of rule.clauses ?? []) conditions.push(this.condition(clause))
      ruleEnds.push(conditions.length)
      ruleServes.push(this.serve(flag, rule.serve, rule.id))
    }
    const fallthrough = this.serve(flag, flag.fallthrough, undefined)
    const decides = prerequisites !== undefined || targets !== undefined || ruleEnds.length > 0
    if (!decides && !(fallthrough instanceof Rollout)) return fixedFlag(flag, fallthrough)
    const hasRules = ruleEnds.length > 0
    return new CompiledFlag(
      flag,
      type,
      archived,
      undefined,
      prerequisites,
      prerequisiteFailed,
      targets,
      hasRules ? exact(conditions) : undefined,
      hasRules ? exact(ruleEnds) : undefined,
      hasRules ? exact(ruleServes) : undefined,
      fallthrough,
    )
  }

  private serve(flag: Flag, served: Serve, ruleId: string | undefined): Served {
    if ('variant' in served)
      return result(flag, served.variant, ruleId === undefined ? Reason.DEFAULT : Reason.TARGETING_MATCH, ruleId)
    const { weights } = served.rollout
    const bounds: number[] = []
    const results: Result[] = []
    let upper = 0
    for (const variant of Object.keys(flag.variants)) {
      const weight = Object.hasOwn(weights, variant) ? (weights[variant] ?? 0) : 0
      if (weight === 0) continue
      upper += weight
      bounds.push(upper)
      results.push(result(flag, variant, Reason.SPLIT, ruleId))
    }
    return new Rollout(
      exact(results),
      exact(bounds),
      served.rollout.bucketBy ?? 'targetingKey',
      new Bucketer(served.rollout.salt ?? flag.key),
    )
  }

  cohort(
    cohort: Cohort,
    include: MemberSet = MemberSet.of(cohort.include),
    exclude: MemberSet = MemberSet.of(cohort.exclude),
  ): CompiledCohort {
    const { include: _include, exclude: _exclude, ...rest } = cohort
    const definition = this.share(rest) as Cohort
    const conditions = (definition.clauses ?? []).map((c) => this.condition(c))
    return compiledCohort(definition, conditions, include, exclude)
  }
}

/** Apart from the compiler: the cohort's closures must not keep it (and all it interned) alive. */
function compiledCohort(
  definition: Cohort,
  conditions: readonly Condition[],
  include: MemberSet,
  exclude: MemberSet,
): CompiledCohort {
  let source: Cohort | undefined
  const rollout = definition.rollout
  // a cohort with neither clauses nor a rollout is just its include list
  const openToAll = conditions.length > 0 || rollout !== undefined
  const bucketer = new Bucketer(rollout?.salt ?? definition.key)
  const bucketBy = rollout?.bucketBy ?? 'targetingKey'
  const bucketPath = attributePath(bucketBy)
  return {
    include,
    exclude,
    definition,
    get source() {
      source ??= Object.freeze({
        ...definition,
        ...(include.size > 0 && { include: Object.freeze([...include]) as string[] }),
        ...(exclude.size > 0 && { exclude: Object.freeze([...exclude]) as string[] }),
      }) as Cohort
      return source
    },
    matches: (ctx, tables, depth) => {
      const key = targetingKey(ctx)
      if (typeof key === 'string') {
        if (exclude.has(key)) return false
        if (include.has(key)) return true
      }
      if (!openToAll) return false
      for (const condition of conditions) if (!testCondition(condition, ctx, tables.inCohort, depth)) return false
      if (rollout === undefined) return true
      const by = bucketValue(readAttribute(ctx, bucketBy, bucketPath))
      return by !== undefined && bucketer.bucket(by) < rollout.weight
    },
  }
}
