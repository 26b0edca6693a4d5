/**
 * What a compiled snapshot is made of: the tables that flags and cohorts are
 * looked up in, and the plain data each flag compiles to. Built by `compile.ts`,
 * read by `evaluate.ts`, replaced entry by entry by `patch.ts`.
 */
import type { MemberSet } from '../members.js'
import type { Bucketer } from '../murmur3.js'
import { attributePath, type CohortLookup, type Condition, readAttribute } from '../operators.js'
import type { Cohort, EvaluationResult, Flag, JsonValue } from '../types.js'

export type Ctx = Record<string, unknown>
export type Result = EvaluationResult<JsonValue>

/** Prerequisite chains deeper than this are treated as broken (cycles are rejected on compile). */
export const MAX_DEPTH = 64

/** The tables a compiled flag reads at evaluation time; swapped whole by `apply`. */
export interface Tables {
  flags: Map<string, CompiledFlag>
  cohorts: Map<string, CompiledCohort>
  /** Cohort membership for `inCohort` clauses, bound to these tables. */
  inCohort: CohortLookup
}

export function createTables(flags: Map<string, CompiledFlag>, cohorts: Map<string, CompiledCohort>): Tables {
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
export class Rollout {
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
export type Served = Result | Rollout

export interface Prerequisite {
  readonly key: string
  readonly variants: ReadonlySet<string>
}

/**
 * A flag compiled to plain data that one function (`run`, in evaluate.ts) interprets, so
 * that every flag goes through the same monomorphic code. Absent parts are
 * undefined rather than empty collections: a plain flag is one small object.
 */
export class CompiledFlag {
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

export interface CompiledCohort {
  /** Built on demand from the definition and the sets, so a million-key list is not held twice. */
  readonly source: Cohort
  /** The cohort without its member lists: all that references and dependants need. */
  readonly definition: Cohort
  readonly include: MemberSet
  readonly exclude: MemberSet
  readonly matches: (ctx: Ctx, tables: Tables, depth: number) => boolean
}

/** Strings hash as they are; finite numbers as their decimal string; anything else cannot be bucketed. */
export function bucketValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** Like every attribute, the context key is read from the context's own properties only. */
export function targetingKey(ctx: Ctx): unknown {
  return Object.hasOwn(ctx, 'targetingKey') ? ctx.targetingKey : undefined
}
