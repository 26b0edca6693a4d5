import { affectedFlags } from './dependents.js'
import { SnapshotValidationError } from './errors.js'
import { MemberSet } from './members.js'
import { Bucketer } from './murmur3.js'
import {
  attributePath,
  type CohortLookup,
  type Condition,
  compileCondition,
  readAttribute,
  testCondition,
} from './operators.js'
import {
  cohortSchema,
  findCycles,
  flagSchema,
  parseSnapshot,
  referenceIssues,
  type SnapshotIssue,
  toPointer,
} from './schema.js'
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

/**
 * A rollout compiled to its precomputed results and their upper bucket bounds,
 * laid out in the flag's variant order so that reordering `weights` moves nobody.
 */
class Rollout {
  private readonly path: readonly string[] | undefined
  private readonly byKey: boolean
  constructor(
    private readonly results: readonly Result[],
    private readonly bounds: readonly number[],
    private readonly attribute: string,
    private readonly bucketer: Bucketer,
  ) {
    this.path = attributePath(attribute)
    this.byKey = attribute === 'targetingKey'
  }

  /** The result for a context (`key`: its targetingKey); `undefined` when it lacks the bucketing attribute. */
  decide(ctx: Ctx, key: string | undefined): Result | undefined {
    const by = this.byKey ? key : bucketValue(readAttribute(ctx, this.attribute, this.path))
    if (by === undefined) return undefined
    const results = this.results
    // a single variant still needs the attribute: moving from 99.999 % to 100 % must not change who gets an error
    if (results.length === 1) return results[0]
    const bucket = this.bucketer.bucket(by)
    const bounds = this.bounds
    for (let i = 0; i < bounds.length; i++) if (bucket < bounds[i]!) return results[i]
    return results[results.length - 1]
  }
}

/** What a rule or the fallthrough serves: a fixed result, or a rollout. */
type Served = Result | Rollout

function serve(served: Served, ctx: Ctx, key: string | undefined): Result | undefined {
  return served instanceof Rollout ? served.decide(ctx, key) : served
}

interface Prerequisite {
  readonly key: string
  readonly variants: ReadonlySet<string>
}

/**
 * A flag compiled to plain data that one function ({@link run}) interprets, so
 * that every flag goes through the same monomorphic code. Absent parts are
 * undefined rather than empty collections: a plain flag is one small object.
 */
class CompiledFlag {
  constructor(
    readonly source: Flag,
    /** `typeof` a default must have (`object` also excludes null), checked without a table lookup. */
    readonly defaultType: 'boolean' | 'string' | 'number' | 'object',
    readonly archived: boolean,
    /** The result whatever the context: killed, disabled, or nothing to decide. */
    readonly fixed: Result | undefined,
    readonly prerequisites: readonly Prerequisite[] | undefined,
    readonly prerequisiteFailed: Result | undefined,
    readonly targets: ReadonlyMap<string, Result> | undefined,
    /** Every enabled rule's conditions (cohorts first, then clauses), rule after rule. */
    readonly conditions: readonly Condition[] | undefined,
    /** Index in `conditions` just past each rule's last condition. */
    readonly ruleEnds: readonly number[] | undefined,
    readonly ruleServes: readonly Served[] | undefined,
    readonly fallthrough: Served | undefined,
  ) {}
}

/** A flag whose answer does not depend on the context: killed, disabled, or with nothing to decide. */
function fixedFlag(flag: Flag, result: Result): CompiledFlag {
  const none = undefined
  return new CompiledFlag(flag, flag.type, flag.archived === true, result, none, none, none, none, none, none, none)
}

/**
 * Decides a flag for a context whose `targetingKey` (`key`) was read and checked
 * once by the caller; `undefined` when a rollout lacks its bucketing attribute.
 */
function run(flag: CompiledFlag, ctx: Ctx, key: string | undefined, tables: Tables, depth: number): Result | undefined {
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
   * `evaluateAll` without building the record: hands each live flag's result to
   * `visit`, in the snapshot's flag order. For callers that serialise or fold the
   * results at once (a bulk endpoint); a throwing `visit` propagates.
   */
  evaluateEach(context: unknown, visit: (flagKey: string, result: EvaluationResult) => void): void
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
  const compiler = new Compiler()
  const tables = createTables(new Map(), new Map())
  for (const [key, flag] of Object.entries(data.flags)) tables.flags.set(key, compiler.flag(flag))
  for (const [key, cohort] of Object.entries(data.cohorts)) tables.cohorts.set(key, compiler.cohort(cohort))
  return new CompiledEvaluator(data.environment, data.version, tables)
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

/** Strings hash as they are; finite numbers as their decimal string; anything else cannot be bucketed. */
function bucketValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
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
class Compiler {
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
  return context as Ctx
}

function keyError(key: unknown): string {
  return `targetingKey must be a string, got ${describe(key)}`
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
      if (compiled === undefined || compiled.archived)
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
      // read once here and handed down: targets and rollouts by key need no second read
      const key = targetingKey(ctx)
      if (key !== undefined && typeof key !== 'string')
        return failure(defaultValue as T, ErrorCode.INVALID_CONTEXT, keyError(key), flag.version)
      return this.decide(compiled, ctx, key, defaultValue) as EvaluationResult<T>
    } catch (error) {
      // only the caller's context can throw here (a getter, a proxy)
      return failure(defaultValue as T, ErrorCode.INVALID_CONTEXT, `reading the context threw: ${errorText(error)}`)
    }
  }

  evaluateAll(context?: unknown): Record<string, EvaluationResult> {
    const out: Record<string, EvaluationResult> = {}
    this.evaluateEach(context, (key, result) => {
      out[key] = result
    })
    return out
  }

  evaluateEach(context: unknown, visit: (flagKey: string, result: EvaluationResult) => void): void {
    let ctx: Ctx | string
    let key: string | undefined
    try {
      ctx = checkContext(context)
      if (typeof ctx !== 'string') {
        const k = targetingKey(ctx)
        if (k === undefined || typeof k === 'string') key = k
        else ctx = keyError(k)
      }
    } catch (error) {
      ctx = `unreadable context: ${errorText(error)}`
    }
    const live = this.liveFlags()
    for (let i = 0; i < live.length; i++) {
      const compiled = live[i]!
      let result: EvaluationResult
      if (typeof ctx === 'string')
        result = failure(undefined as unknown as JsonValue, ErrorCode.INVALID_CONTEXT, ctx, compiled.source.version)
      else
        try {
          result = this.decide(compiled, ctx, key, undefined)
        } catch (error) {
          // a context that throws when read: only the flags that read it get the error
          const message = `reading the context threw: ${errorText(error)}`
          result = failure(
            undefined as unknown as JsonValue,
            ErrorCode.INVALID_CONTEXT,
            message,
            compiled.source.version,
          )
        }
      visit(compiled.source.key, result)
    }
  }

  private live: CompiledFlag[] | undefined

  /** The flags evaluateAll answers for, in table order; built once per evaluator. */
  private liveFlags(): CompiledFlag[] {
    this.live ??= [...this.tables.flags.values()].filter((f) => !f.archived)
    return this.live
  }

  private decide(
    compiled: CompiledFlag,
    ctx: Ctx,
    key: string | undefined,
    defaultValue: JsonValue | undefined,
  ): Result {
    const decided = run(compiled, ctx, key, this.tables, 0)
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

/** Flags and cohorts without member lists: what dependants read. */
function definitions(tables: Tables): Snapshot {
  return {
    environment: '',
    version: 0,
    flags: Object.fromEntries([...tables.flags].map(([k, f]) => [k, f.source])),
    cohorts: Object.fromEntries([...tables.cohorts].map(([k, c]) => [k, c.definition])),
  }
}

function refersToCohort(clauses: readonly Clause[] | undefined, key: string): boolean {
  return clauses?.some((c) => c.op === 'inCohort' && c.values.includes(key)) === true
}

/**
 * What a change to one entry can have broken, checked against the patched tables:
 * its own references, the references of the entries that point at it (a deleted
 * flag, a removed variant), and a cycle through it — the tables held none before.
 * Costs a pass over the flags, not a check of the whole snapshot.
 */
function changeIssues(tables: Tables, kind: 'flag' | 'cohort', key: string): SnapshotIssue[] {
  const flags: Record<string, Flag> = {}
  const cohorts: Record<string, Cohort> = {}
  const flag = kind === 'flag' ? tables.flags.get(key)?.source : undefined
  const cohort = kind === 'cohort' ? tables.cohorts.get(key)?.definition : undefined
  if (flag !== undefined) {
    flags[key] = flag
    // prerequisite flags are needed to check the variants asked of them
    for (const p of flag.prerequisites ?? []) {
      const target = tables.flags.get(p.flag)
      if (target !== undefined) flags[p.flag] = target.source
    }
  }
  if (cohort !== undefined) cohorts[key] = cohort
  for (const [k, f] of tables.flags) {
    const source = f.source
    const refers =
      kind === 'flag'
        ? source.prerequisites?.some((p) => p.flag === key)
        : source.rules?.some((r) => r.cohorts?.includes(key) || refersToCohort(r.clauses, key))
    if (refers) flags[k] = source
  }
  if (kind === 'cohort')
    for (const [k, c] of tables.cohorts) if (refersToCohort(c.definition.clauses, key)) cohorts[k] = c.definition

  const issues = referenceIssues(flags, cohorts, { flags: tables.flags, cohorts: tables.cohorts })
  if (flag !== undefined) {
    const edges = (node: string) => tables.flags.get(node)?.source.prerequisites?.map((p) => p.flag) ?? []
    for (const cycle of findCycles([key], edges)) {
      const path = ['flags', cycle[0]!, 'prerequisites']
      issues.push({ path, pointer: toPointer(path), message: `prerequisite cycle: ${cycle.join(' → ')}` })
    }
  }
  if (cohort !== undefined) {
    const edges = (node: string) =>
      tables.cohorts
        .get(node)
        ?.definition.clauses?.flatMap((c) =>
          c.op === 'inCohort' ? c.values.filter((v) => typeof v === 'string') : [],
        ) ?? []
    for (const cycle of findCycles([key], edges)) {
      const path = ['cohorts', cycle[0]!, 'clauses']
      issues.push({ path, pointer: toPointer(path), message: `cohort cycle: ${cycle.join(' → ')}` })
    }
  }
  return issues
}

/**
 * Validates and applies one patch to copied tables. Only the changed entity is
 * compiled; references are checked against the tables, not by recompiling.
 */
function applyOne(tables: Tables, patch: SnapshotPatch, prefix: (string | number)[]): void {
  const issues: SnapshotIssue[] = []
  const at = (...path: (string | number)[]) => [...prefix, ...path]
  const add = (path: (string | number)[], message: string) => issues.push({ path, pointer: toPointer(path), message })

  if (patch.op === 'delete') {
    const map = patch.kind === 'flag' ? tables.flags : tables.cohorts
    if (!map.has(patch.key)) return // deleting what is absent is a no-op, so replays are harmless
    map.delete(patch.key)
    for (const i of changeIssues(tables, patch.kind, patch.key))
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
    tables.cohorts.set(patch.key, new Compiler().cohort(current.definition, next('include'), next('exclude')))
    return
  }

  const parsed = patch.kind === 'flag' ? flagSchema.safeParse(patch.value) : cohortSchema.safeParse(patch.value)
  if (!parsed.success) throw new SnapshotValidationError(issuesOf(at('value'), parsed.error))
  if (parsed.data.key !== patch.key)
    add(at('key'), `patch key "${patch.key}" differs from value key "${parsed.data.key}"`)
  if (patch.kind === 'flag') tables.flags.set(patch.key, new Compiler().flag(parsed.data as Flag))
  else if (patch.keepMembers === true) {
    const cohort = parsed.data as Cohort
    for (const list of ['include', 'exclude'] as const)
      if (cohort[list] !== undefined) add(at('value', list), 'a put that keeps the members carries no member lists')
    const current = tables.cohorts.get(patch.key)
    const none = MemberSet.of(undefined)
    tables.cohorts.set(patch.key, new Compiler().cohort(cohort, current?.include ?? none, current?.exclude ?? none))
  } else tables.cohorts.set(patch.key, new Compiler().cohort(parsed.data as Cohort))
  for (const i of changeIssues(tables, patch.kind, patch.key)) add(at(...i.path), i.message)
  if (issues.length > 0) throw new SnapshotValidationError(issues)
}
