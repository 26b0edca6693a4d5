/**
 * The evaluator: `compileSnapshot` and the object it returns. The work is done
 * in `evaluator/`: compiling (`compile.ts`) into the data of `compiled.ts`,
 * deciding a flag (`evaluate.ts`), and applying patches (`patch.ts`).
 */
import { affectedFlags } from './dependents.js'
import { SnapshotValidationError } from './errors.js'
import { Compiler } from './evaluator/compile.js'
import {
  type CompiledFlag,
  type Ctx,
  createTables,
  type Result,
  type Tables,
  targetingKey,
} from './evaluator/compiled.js'
import { checkContext, describe, errorText, failure, keyError, run } from './evaluator/evaluate.js'
import { applyOne, prepareMembers } from './evaluator/patch.js'
import type { SliceOptions } from './members.js'
import { parseSnapshot } from './schema.js'
import {
  type Cohort,
  ErrorCode,
  type EvaluationResult,
  type Flag,
  type JsonValue,
  type Snapshot,
  type SnapshotPatch,
} from './types.js'

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
  /**
   * {@link apply} for hosts that must keep serving meanwhile: member lists are
   * built in slices with `options.pause` between them, so a million-key change
   * never holds the caller's event loop for long. The same large change applied
   * to another evaluator holding the same list reuses the result.
   * @example
   * const next = await evaluator.applyInSlices(patch, { pause: () => new Promise((r) => setImmediate(r)) })
   */
  applyInSlices(patch: SnapshotPatch | readonly SnapshotPatch[], options: SliceOptions): Promise<Evaluator>
  has(flagKey: string): boolean
  flagKeys(): string[]
  flag(flagKey: string): Flag | undefined
  cohort(cohortKey: string): Cohort | undefined
  cohortKeys(): string[]
  /** A cohort without its member lists: cheap, where `cohort()` builds the lists of a million-key cohort. */
  cohortDefinition(cohortKey: string): Cohort | undefined
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

  async applyInSlices(patch: SnapshotPatch | readonly SnapshotPatch[], options: SliceOptions): Promise<Evaluator> {
    const patches = (Array.isArray(patch) ? patch : [patch]) as readonly SnapshotPatch[]
    const tables = createTables(new Map(this.tables.flags), new Map(this.tables.cohorts))
    let version = this.version
    for (const [i, p] of patches.entries()) {
      applyOne(tables, p, patches.length === 1 ? [] : [i], await prepareMembers(tables, p, options))
      if (p.version !== undefined) version = p.version
    }
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

  cohortKeys(): string[] {
    return [...this.tables.cohorts.keys()]
  }

  cohortDefinition(cohortKey: string): Cohort | undefined {
    return this.tables.cohorts.get(cohortKey)?.definition
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

/** Flags and cohorts without member lists: what dependants read. */
function definitions(tables: Tables): Snapshot {
  return {
    environment: '',
    version: 0,
    flags: Object.fromEntries([...tables.flags].map(([k, f]) => [k, f.source])),
    cohorts: Object.fromEntries([...tables.cohorts].map(([k, c]) => [k, c.definition])),
  }
}
