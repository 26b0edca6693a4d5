import { attributeReader } from './context.js'
import { affectedFlags } from './dependents.js'
import { SnapshotValidationError } from './errors.js'
import { MemberSet } from './members.js'
import { bucketer } from './murmur3.js'
import { type CohortLookup, compileClause, type Predicate } from './operators.js'
import { checkReferences, cohortSchema, flagSchema, parseSnapshot, type SnapshotIssue, toPointer } from './schema.js'
import {
  type Clause,
  type Cohort,
  ErrorCode,
  type EvaluationResult,
  type Flag,
  type JsonValue,
  Reason,
  type Serve,
  type Snapshot,
  type SnapshotPatch,
} from './types.js'

type Ctx = Record<string, unknown>
type Result = EvaluationResult<JsonValue>

/** Prerequisite chains deeper than this are treated as broken (cycles are rejected on compile). */
const MAX_DEPTH = 64
const EMPTY_CONTEXT: Ctx = Object.freeze({}) as Ctx

/** The tables a compiled flag reads at evaluation time; swapped whole by `apply`. */
interface Tables {
  flags: Map<string, CompiledFlag>
  cohorts: Map<string, CompiledCohort>
  /** Cohort membership for `inCohort` clauses, bound to these tables. */
  inCohort: CohortLookup
}

function createTables(flags: Map<string, CompiledFlag>, cohorts: Map<string, CompiledCohort>): Tables {
  const tables: Tables = {
    flags,
    cohorts,
    inCohort: (key, ctx, depth) => {
      const cohort = cohorts.get(key)
      return cohort !== undefined && depth < MAX_DEPTH && cohort.matches(ctx, tables, depth + 1)
    },
  }
  return tables
}

interface CompiledFlag {
  readonly source: Flag
  /** `typeof` a default must have (`object` also excludes null), checked without a table lookup. */
  readonly defaultType: 'boolean' | 'string' | 'number' | 'object'
  /** Decides for a context; `undefined` when a rollout lacks its bucketing attribute. */
  readonly run: (ctx: Ctx, tables: Tables, depth: number) => Result | undefined
}

interface CompiledCohort {
  /** Built on demand from the definition and the sets, so a million-key list is not held twice. */
  readonly source: Cohort
  /** The cohort without its member lists: all that references and dependants need. */
  readonly definition: Cohort
  readonly include: MemberSet
  readonly exclude: MemberSet
  readonly matches: (ctx: Ctx, tables: Tables, depth: number) => boolean
}

/** Read-only view over a compiled snapshot. */
export interface Evaluator {
  readonly environment: string
  /** Environment version of the snapshot (the last applied patch's, when it had one). */
  readonly version: number
  /**
   * Evaluates one flag; never throws. With a `defaultValue`, a missing flag, an
   * error, or a default of the wrong type returns that default with `errorCode`.
   *
   * @example
   * const { value, variant, reason } = evaluator.evaluate('new-checkout', { targetingKey: 'user-1' }, false)
   */
  evaluate<T extends JsonValue>(flagKey: string, context?: unknown, defaultValue?: T): EvaluationResult<T>
  /** Every flag for one context, keyed by flag key; never throws. */
  evaluateAll(context?: unknown): Record<string, EvaluationResult>
  /**
   * Applies one change (or several, in order) and returns a new evaluator;
   * this one is left untouched and keeps working. Throws `SnapshotValidationError`
   * when the change would leave the snapshot invalid.
   */
  apply(patch: SnapshotPatch | readonly SnapshotPatch[]): Evaluator
  has(flagKey: string): boolean
  flagKeys(): string[]
  flag(flagKey: string): Flag | undefined
  cohort(cohortKey: string): Cohort | undefined
  /** The snapshot this evaluator was built from, with patches applied. */
  snapshot(): Snapshot
  /** Flags whose value may change when `entity` `key` changes (see {@link affectedFlags}); reads no member lists. */
  affectedFlags(entity: 'flag' | 'cohort', key: string): Set<string>
}

/**
 * Validates and compiles a snapshot into an evaluator.
 *
 * @throws SnapshotValidationError listing every invalid path.
 * @example
 * const evaluator = compileSnapshot(snapshot)
 * evaluator.evaluate('dark-mode', { targetingKey: 'user-1', plan: 'pro' }, false)
 */
export function compileSnapshot(snapshot: unknown): Evaluator {
  const parsed = parseSnapshot(snapshot)
  if (!parsed.success) throw new SnapshotValidationError(parsed.issues)
  const { data } = parsed
  const tables = createTables(new Map(), new Map())
  for (const [key, flag] of Object.entries(data.flags)) tables.flags.set(key, compileFlag(flag))
  for (const [key, cohort] of Object.entries(data.cohorts)) tables.cohorts.set(key, compileCohort(cohort))
  return new CompiledEvaluator(data.environment, data.version, tables)
}

function freezeDeep<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) freezeDeep(v)
    Object.freeze(value)
  }
  return value
}

function result(flag: Flag, variant: string, reason: Reason, extra?: { ruleId?: string; killed?: boolean }): Result {
  const r: { -readonly [K in keyof Result]: Result[K] } = {
    value: freezeDeep(flag.variants[variant] as JsonValue),
    variant,
    reason,
    flagVersion: flag.version,
  }
  if (extra?.ruleId !== undefined) r.ruleId = extra.ruleId
  if (extra?.killed) r.killed = true
  return Object.freeze(r)
}

/** A serve compiled to a decision: fixed, or a rollout over precomputed results. */
type Decide = (ctx: Ctx) => Result | undefined

function compileServe(flag: Flag, serve: Serve, ruleId: string | undefined): Decide {
  const extra = ruleId === undefined ? undefined : { ruleId }
  if ('variant' in serve) {
    const fixed = result(flag, serve.variant, ruleId === undefined ? Reason.DEFAULT : Reason.TARGETING_MATCH, extra)
    return () => fixed
  }
  const { weights } = serve.rollout
  // buckets are laid out in the flag's variant order, so reordering `weights` moves nobody
  const bounds: number[] = []
  const results: Result[] = []
  let upper = 0
  for (const variant of Object.keys(flag.variants)) {
    const weight = Object.hasOwn(weights, variant) ? (weights[variant] ?? 0) : 0
    if (weight === 0) continue
    upper += weight
    bounds.push(upper)
    results.push(result(flag, variant, Reason.SPLIT, extra))
  }
  const bucketFor = bucketer(serve.rollout.salt ?? flag.key)
  const read = attributeReader(serve.rollout.bucketBy ?? 'targetingKey')
  if (results.length === 1) {
    // still needs the attribute: moving from 99.999 % to 100 % must not change who gets an error
    const only = results[0]!
    return (ctx) => (bucketValue(read(ctx)) === undefined ? undefined : only)
  }
  return (ctx) => {
    const by = bucketValue(read(ctx))
    if (by === undefined) return undefined
    const bucket = bucketFor(by)
    for (let i = 0; i < bounds.length; i++) if (bucket < bounds[i]!) return results[i]
    return results[results.length - 1]
  }
}

/** Strings hash as they are; finite numbers as their decimal string; anything else cannot be bucketed. */
function bucketValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

// Compiled clauses are pure functions of the clause, so flags that repeat a
// clause (the same country list, the same email domain) share one compiled
// predicate, its Set and its RE2 program.
const clauseCache = new Map<string, Predicate>()
const CLAUSE_CACHE_LIMIT = 10_000

function sharedClause(clause: Clause): Predicate {
  const key = JSON.stringify(clause)
  let predicate = clauseCache.get(key)
  if (predicate === undefined) {
    predicate = compileClause(clause)
    if (clauseCache.size >= CLAUSE_CACHE_LIMIT) clauseCache.clear()
    clauseCache.set(key, predicate)
  }
  return predicate
}

function compileFlag(flag: Flag): CompiledFlag {
  return { source: flag, defaultType: flag.type, run: compileRun(flag) }
}

function compileRun(flag: Flag): CompiledFlag['run'] {
  if (flag.killed) {
    const killed = result(flag, flag.offVariant, Reason.DISABLED, { killed: true })
    return () => killed
  }
  if (!flag.enabled) {
    const disabled = result(flag, flag.offVariant, Reason.DISABLED)
    return () => disabled
  }

  const prerequisites = (flag.prerequisites ?? []).map((p) => ({ key: p.flag, variants: new Set(p.variants) }))
  const prerequisiteFailed =
    prerequisites.length > 0 ? result(flag, flag.offVariant, Reason.PREREQUISITE_FAILED) : undefined

  const targets = new Map<string, Result>()
  for (const [variant, keys] of Object.entries(flag.targets ?? {})) {
    const hit = result(flag, variant, Reason.TARGETING_MATCH)
    for (const key of keys) targets.set(key, hit)
  }

  // a rule's cohorts and clauses become one list of predicates, tried in order
  const rules = (flag.rules ?? [])
    .filter((rule) => rule.enabled !== false)
    .map((rule) => ({
      conditions: [...(rule.cohorts ?? []).map(cohortCondition), ...(rule.clauses ?? []).map(sharedClause)],
      decide: compileServe(flag, rule.serve, rule.id),
    }))
  const fallthrough = compileServe(flag, flag.fallthrough, undefined)

  if (prerequisites.length === 0 && targets.size === 0 && rules.length === 0) return fallthrough

  return (ctx, tables, depth) => {
    for (const p of prerequisites) {
      const dependency = tables.flags.get(p.key)
      const missing = dependency === undefined || dependency.source.archived === true || depth >= MAX_DEPTH
      const outcome = missing ? undefined : dependency.run(ctx, tables, depth + 1)
      if (outcome?.variant === undefined || !p.variants.has(outcome.variant)) return prerequisiteFailed!
    }
    if (targets.size > 0) {
      const key = targetingKey(ctx)
      if (typeof key === 'string') {
        const hit = targets.get(key)
        if (hit !== undefined) return hit
      }
    }
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!
      if (matchesRule(rule.conditions, ctx, tables, depth)) return rule.decide(ctx)
    }
    return fallthrough(ctx)
  }
}

function matchesRule(conditions: Predicate[], ctx: Ctx, tables: Tables, depth: number): boolean {
  for (let i = 0; i < conditions.length; i++) if (!conditions[i]!(ctx, tables.inCohort, depth)) return false
  return true
}

/** Membership of one cohort as a predicate, so a rule's cohorts and clauses are one list. */
function cohortCondition(key: string): Predicate {
  return (ctx, inCohort, depth) => inCohort(key, ctx, depth)
}

function compileCohort(
  cohort: Cohort,
  include: MemberSet = MemberSet.of(cohort.include),
  exclude: MemberSet = MemberSet.of(cohort.exclude),
): CompiledCohort {
  const { include: _include, exclude: _exclude, ...definition } = cohort
  let source: Cohort | undefined
  const clauses = (cohort.clauses ?? []).map(sharedClause)
  const rollout = cohort.rollout
  // a cohort with neither clauses nor a rollout is just its include list
  const openToAll = clauses.length > 0 || rollout !== undefined
  const bucket = bucketer(rollout?.salt ?? cohort.key)
  const readBucket = attributeReader(rollout?.bucketBy ?? 'targetingKey')
  return {
    include,
    exclude,
    definition,
    get source() {
      source ??= {
        ...definition,
        ...(include.size > 0 && { include: [...include] }),
        ...(exclude.size > 0 && { exclude: [...exclude] }),
      }
      return source
    },
    matches: (ctx, tables, depth) => {
      const key = targetingKey(ctx)
      if (typeof key === 'string') {
        if (exclude.has(key)) return false
        if (include.has(key)) return true
      }
      if (!openToAll) return false
      for (const clause of clauses) if (!clause(ctx, tables.inCohort, depth)) return false
      if (rollout === undefined) return true
      const by = bucketValue(readBucket(ctx))
      return by !== undefined && bucket(by) < rollout.weight
    },
  }
}

/** Like every attribute, the context key is read from the context's own properties only. */
function targetingKey(ctx: Ctx): unknown {
  return Object.hasOwn(ctx, 'targetingKey') ? ctx.targetingKey : undefined
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string' ? `"${value.length > 200 ? `${value.slice(0, 200)}…` : value}"` : typeof value
  } catch {
    return 'value'
  }
}

function failure<T>(value: T, errorCode: ErrorCode, errorMessage: string, flagVersion?: number): EvaluationResult<T> {
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
function checkContext(context: unknown): Ctx | string {
  if (context === undefined || context === null) return EMPTY_CONTEXT
  if (typeof context !== 'object' || Array.isArray(context))
    return `context must be an object, got ${describe(context)}`
  const key = targetingKey(context as Ctx)
  if (key !== undefined && typeof key !== 'string') return `targetingKey must be a string, got ${describe(key)}`
  return context as Ctx
}

class CompiledEvaluator implements Evaluator {
  constructor(
    readonly environment: string,
    readonly version: number,
    private readonly tables: Tables,
  ) {}

  evaluate<T extends JsonValue>(flagKey: string, context?: unknown, defaultValue?: T): EvaluationResult<T> {
    try {
      const compiled = this.tables.flags.get(flagKey)
      if (compiled === undefined || compiled.source.archived)
        return failure(defaultValue as T, ErrorCode.FLAG_NOT_FOUND, `flag ${describe(flagKey)} not found`)
      const flag = compiled.source
      if (
        defaultValue !== undefined &&
        (typeof defaultValue !== compiled.defaultType ||
          (defaultValue === null && compiled.defaultType === 'object') ||
          (compiled.defaultType === 'number' && !Number.isFinite(defaultValue)))
      )
        return failure(
          defaultValue,
          ErrorCode.TYPE_MISMATCH,
          `flag "${flag.key}" is of type ${flag.type}, the default is ${describe(defaultValue)}`,
          flag.version,
        )
      const ctx = checkContext(context)
      if (typeof ctx === 'string') return failure(defaultValue as T, ErrorCode.INVALID_CONTEXT, ctx, flag.version)
      return this.decide(compiled, ctx, defaultValue) as EvaluationResult<T>
    } catch (error) {
      // only the caller's context can throw here (a getter, a proxy)
      return failure(defaultValue as T, ErrorCode.INVALID_CONTEXT, `reading the context threw: ${errorText(error)}`)
    }
  }

  evaluateAll(context?: unknown): Record<string, EvaluationResult> {
    let ctx: Ctx | string
    try {
      ctx = checkContext(context)
    } catch (error) {
      ctx = `unreadable context: ${errorText(error)}`
    }
    const live = this.liveFlags()
    const out: Record<string, EvaluationResult> = {}
    if (typeof ctx !== 'string') {
      try {
        for (let i = 0; i < live.length; i++) {
          const compiled = live[i]!
          out[compiled.source.key] = this.decide(compiled, ctx, undefined)
        }
        return out
      } catch {
        // a context that throws when read: answer flag by flag below, each with its error
      }
    }
    for (const compiled of live) {
      const version = compiled.source.version
      try {
        out[compiled.source.key] =
          typeof ctx === 'string'
            ? failure(undefined as unknown as JsonValue, ErrorCode.INVALID_CONTEXT, ctx, version)
            : this.decide(compiled, ctx, undefined)
      } catch (error) {
        const message = `reading the context threw: ${errorText(error)}`
        out[compiled.source.key] = failure(
          undefined as unknown as JsonValue,
          ErrorCode.INVALID_CONTEXT,
          message,
          version,
        )
      }
    }
    return out
  }

  private live: CompiledFlag[] | undefined

  /** The flags evaluateAll answers for, in table order; built once per evaluator. */
  private liveFlags(): CompiledFlag[] {
    this.live ??= [...this.tables.flags.values()].filter((f) => !f.source.archived)
    return this.live
  }

  private decide(compiled: CompiledFlag, ctx: Ctx, defaultValue: JsonValue | undefined): Result {
    const decided = compiled.run(ctx, this.tables, 0)
    if (decided !== undefined) return decided
    return failure(
      defaultValue as JsonValue,
      ErrorCode.TARGETING_KEY_MISSING,
      `flag "${compiled.source.key}" splits traffic by an attribute the context lacks`,
      compiled.source.version,
    )
  }

  apply(patch: SnapshotPatch | readonly SnapshotPatch[]): Evaluator {
    const patches = (Array.isArray(patch) ? patch : [patch]) as readonly SnapshotPatch[]
    const tables = createTables(new Map(this.tables.flags), new Map(this.tables.cohorts))
    let version = this.version
    patches.forEach((p, i) => {
      const prefix = patches.length === 1 ? [] : [i]
      applyOne(tables, p, prefix)
      if (p.version !== undefined) version = p.version
    })
    return new CompiledEvaluator(this.environment, version, tables)
  }

  has(flagKey: string): boolean {
    return this.tables.flags.has(flagKey)
  }

  flagKeys(): string[] {
    return [...this.tables.flags.keys()]
  }

  flag(flagKey: string): Flag | undefined {
    return this.tables.flags.get(flagKey)?.source
  }

  cohort(cohortKey: string): Cohort | undefined {
    return this.tables.cohorts.get(cohortKey)?.source
  }

  affectedFlags(entity: 'flag' | 'cohort', key: string): Set<string> {
    return affectedFlags(definitions(this.tables), entity, key)
  }

  snapshot(): Snapshot {
    const flags: Record<string, Flag> = {}
    const cohorts: Record<string, Cohort> = {}
    for (const [key, f] of this.tables.flags) flags[key] = f.source
    for (const [key, c] of this.tables.cohorts) cohorts[key] = c.source
    return { environment: this.environment, version: this.version, flags, cohorts }
  }
}

function errorText(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error)
  } catch {
    return 'unknown error'
  }
}

function issuesOf(path: (string | number)[], error: { issues: { path: PropertyKey[]; message: string }[] }) {
  return error.issues.map((i) => {
    const full = [...path, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))]
    return { path: full, pointer: toPointer(full), message: i.message }
  })
}

/** Flags and cohorts without member lists: what reference checks and dependants read. */
function definitions(tables: Tables): Snapshot {
  return {
    environment: '',
    version: 0,
    flags: Object.fromEntries([...tables.flags].map(([k, f]) => [k, f.source])),
    cohorts: Object.fromEntries([...tables.cohorts].map(([k, c]) => [k, c.definition])),
  }
}

/**
 * Validates and applies one patch to copied tables. Only the changed entity is
 * compiled; references are checked against the tables, not by recompiling.
 */
function applyOne(tables: Tables, patch: SnapshotPatch, prefix: (string | number)[]): void {
  const issues: SnapshotIssue[] = []
  const at = (...path: (string | number)[]) => [...prefix, ...path]
  const add = (path: (string | number)[], message: string) => issues.push({ path, pointer: toPointer(path), message })
  const sources = () => definitions(tables)

  if (patch.op === 'delete') {
    const map = patch.kind === 'flag' ? tables.flags : tables.cohorts
    if (!map.has(patch.key)) return // deleting what is absent is a no-op, so replays are harmless
    map.delete(patch.key)
    const { flags, cohorts } = sources()
    for (const i of checkReferences(flags, cohorts))
      add(at(...i.path), `${i.message} (still referenced after deleting ${patch.kind} "${patch.key}")`)
    if (issues.length > 0) throw new SnapshotValidationError(issues)
    return
  }

  if (patch.op === 'members') {
    const current = tables.cohorts.get(patch.key)
    if (current === undefined) {
      add(at('key'), `unknown cohort "${patch.key}"`)
      throw new SnapshotValidationError(issues)
    }
    // the delta becomes an overlay on the compiled set, so the change costs what changed
    const next = (list: 'include' | 'exclude'): MemberSet => {
      const added = patch.add?.[list] ?? []
      const removed = patch.remove?.[list] ?? []
      return added.length === 0 && removed.length === 0 ? current[list] : current[list].with(added, removed)
    }
    tables.cohorts.set(patch.key, compileCohort(current.definition, next('include'), next('exclude')))
    return
  }

  const parsed = patch.kind === 'flag' ? flagSchema.safeParse(patch.value) : cohortSchema.safeParse(patch.value)
  if (!parsed.success) throw new SnapshotValidationError(issuesOf(at('value'), parsed.error))
  if (parsed.data.key !== patch.key)
    add(at('key'), `patch key "${patch.key}" differs from value key "${parsed.data.key}"`)
  if (patch.kind === 'flag') tables.flags.set(patch.key, compileFlag(parsed.data as Flag))
  else tables.cohorts.set(patch.key, compileCohort(parsed.data as Cohort))
  const { flags, cohorts } = sources()
  for (const i of checkReferences(flags, cohorts)) add(at(...i.path), i.message)
  if (issues.length > 0) throw new SnapshotValidationError(issues)
}
