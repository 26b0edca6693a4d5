import type { Clause, Cohort, Evaluator, Flag, Snapshot, SnapshotPatch } from '@vane/engine'
import type { ChangeRecord } from '../storage/repository.js'

/**
 * Which cohorts an environment's server SDKs receive: only those its flags reference, directly (a rule's `cohorts`,
 * an `inCohort` clause) or through other cohorts' `inCohort` clauses. Flags are all shipped, so a prerequisite's
 * cohorts are covered by its own flag. The server's evaluators keep every cohort; only what is sent is filtered.
 */

const NONE: readonly string[] = Object.freeze([])
const NO_RULES: readonly NonNullable<Flag['rules']>[number][] = []

/** Appends the cohorts `inCohort` clauses name; plain loops: this runs for every flag of every put and change. */
function addClauseRefs(clauses: readonly Clause[] | undefined, out: string[] | undefined): string[] | undefined {
  if (clauses === undefined) return out
  for (const clause of clauses) {
    if (clause.op !== 'inCohort') continue
    for (const v of clause.values) {
      if (typeof v !== 'string') continue
      out ??= []
      out.push(v)
    }
  }
  return out
}

/** Cohorts a flag names itself. */
export function flagCohortRefs(flag: Flag): readonly string[] {
  let out: string[] | undefined
  for (const rule of flag.rules ?? NO_RULES) {
    if (rule.cohorts !== undefined && rule.cohorts.length > 0) {
      out ??= []
      out.push(...rule.cohorts)
    }
    out = addClauseRefs(rule.clauses, out)
  }
  return out ?? NONE
}

/** Cohorts a cohort names in its clauses. */
export const cohortCohortRefs = (cohort: Pick<Cohort, 'clauses'>): readonly string[] =>
  addClauseRefs(cohort.clauses, undefined) ?? NONE

/** The cohorts reachable from `roots` through `refs`, in an order where each comes after those it references. */
export function closure(roots: Iterable<string>, refs: (cohort: string) => readonly string[]): string[] {
  const done = new Set<string>()
  const order: string[] = []
  const visit = (key: string) => {
    if (done.has(key)) return
    done.add(key) // before the children: cycles are rejected on write, this only keeps a bad input finite
    for (const next of refs(key)) visit(next)
    order.push(key)
  }
  for (const root of roots) visit(root)
  return order
}

/**
 * The snapshot server SDKs receive: every flag, and only the cohorts they reference. Member lists are built only for
 * those: an unused million-key cohort costs nothing here.
 */
export function shippedSnapshot(evaluator: Evaluator): Snapshot {
  const flags: Record<string, Flag> = {}
  const roots: string[] = []
  for (const key of evaluator.flagKeys()) {
    const flag = evaluator.flag(key)!
    flags[key] = flag
    for (const r of flagCohortRefs(flag)) roots.push(r)
  }
  const kept = new Set(
    closure(roots, (key) => {
      const definition = evaluator.cohortDefinition(key)
      return definition === undefined ? [] : cohortCohortRefs(definition)
    }),
  )
  const cohorts: Record<string, Cohort> = {}
  // in the evaluator's own order, so the output does not depend on how references were found
  for (const key of evaluator.cohortKeys()) if (kept.has(key)) cohorts[key] = evaluator.cohort(key)!
  return { environment: evaluator.environment, version: evaluator.version, flags, cohorts }
}

/**
 * What a change becomes on server-SDK streams: cohorts that become referenced are sent whole first (without an
 * id), then the change itself (with the id), then deletes of cohorts no longer referenced (without an id). A change
 * to a cohort the environment does not use is sent as that cohort's `delete`: a no-op that carries no definition
 * and no members, and keeps ids contiguous for relays.
 */
export interface SdkExpansion {
  /** Definitions (no member lists) of cohorts to send whole before the change; members are read when encoding. */
  puts: Cohort[]
  main: SnapshotPatch
  deletes: string[]
}

function definitionOf(cohort: Cohort): Cohort {
  const { include: _include, exclude: _exclude, ...definition } = cohort
  return definition
}

const sameRefs = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Follows one environment's changes in order and keeps what its server-SDK streams hold: each flag's and cohort's
 * references, taken from the changes themselves, so the set of shipped cohorts at a version does not depend on
 * when this instance loaded it (every instance and relay sends the same at the same id).
 */
export class CohortShipping {
  private readonly flagRefs = new Map<string, readonly string[]>()
  private readonly cohortDefs = new Map<string, Cohort>()
  private shipped = new Set<string>()

  private constructor(public version: number) {}

  /** The state an evaluator's snapshot stands for. */
  static from(evaluator: Evaluator): CohortShipping {
    const state = new CohortShipping(evaluator.version)
    for (const key of evaluator.flagKeys()) state.flagRefs.set(key, flagCohortRefs(evaluator.flag(key)!))
    for (const key of evaluator.cohortKeys()) state.cohortDefs.set(key, evaluator.cohortDefinition(key)!)
    state.shipped = new Set(state.reachable())
    return state
  }

  /** Whether `cohort` is sent to this environment's server SDKs. */
  ships(cohort: string): boolean {
    return this.shipped.has(cohort)
  }

  private *roots(): Iterable<string> {
    for (const refs of this.flagRefs.values()) yield* refs
  }

  private reachable(): string[] {
    return closure(this.roots(), (key) => (this.cohortDefs.has(key) ? cohortCohortRefs(this.cohortDefs.get(key)!) : []))
  }

  /**
   * Advances by `change` (which must be the next version) and says how to send it. `latest` (the environment's
   * newest evaluator) supplies definitions of cohorts this state never saw (a relay receives them without an id).
   */
  advance(change: ChangeRecord, patch: SnapshotPatch, latest: Evaluator | undefined): SdkExpansion {
    this.version = change.version
    let refsChanged = false
    if (patch.op === 'put' && patch.kind === 'flag') {
      const refs = flagCohortRefs(patch.value)
      refsChanged = !sameRefs(this.flagRefs.get(patch.key), refs)
      this.flagRefs.set(patch.key, refs)
    } else if (patch.op === 'put') {
      const definition = definitionOf(patch.value)
      refsChanged =
        this.shipped.has(patch.key) && !sameRefs(this.cohortRefsOf(patch.key, latest), cohortCohortRefs(definition))
      this.cohortDefs.set(patch.key, definition)
    } else if (patch.op === 'delete' && patch.kind === 'flag') refsChanged = this.flagRefs.delete(patch.key)
    else if (patch.op === 'delete') refsChanged = this.cohortDefs.delete(patch.key) && this.shipped.has(patch.key)
    const puts: Cohort[] = []
    const deletes: string[] = []
    if (refsChanged) {
      // dependencies first, so each put's own references are already there when a client checks them
      const next = closure(this.roots(), (key) => this.cohortRefsOf(key, latest))
      const nextSet = new Set(next)
      for (const key of next) {
        if (this.shipped.has(key) || (patch.kind === 'cohort' && key === patch.key)) continue
        const definition = this.definition(key, latest)
        if (definition !== undefined) puts.push(definition)
      }
      // referrers before what they reference: a client refuses to delete a cohort something still names
      const gone = [...this.shipped].filter(
        (key) => !nextSet.has(key) && !(patch.kind === 'cohort' && key === patch.key),
      )
      const order = closure(gone, (key) => (this.shipped.has(key) ? this.cohortRefsOf(key, latest) : []))
      const goneSet = new Set(gone)
      for (const key of order.reverse()) if (goneSet.has(key)) deletes.push(key)
      this.shipped = nextSet
    }
    const main: SnapshotPatch =
      patch.kind === 'cohort' && !this.shipped.has(patch.key) && patch.op !== 'delete'
        ? { op: 'delete', kind: 'cohort', key: patch.key, version: change.version }
        : patch
    return { puts, main, deletes }
  }

  private definition(key: string, latest: Evaluator | undefined): Cohort | undefined {
    const known = this.cohortDefs.get(key)
    if (known !== undefined) return known
    const definition = latest?.cohortDefinition(key)
    if (definition === undefined) return undefined
    this.cohortDefs.set(key, definition)
    return definition
  }

  private cohortRefsOf(key: string, latest: Evaluator | undefined): readonly string[] {
    const definition = this.definition(key, latest)
    return definition === undefined ? [] : cohortCohortRefs(definition)
  }
}

/** A shipped cohort whole: its definition as of the change, its member lists as the newest evaluator holds them. */
export function cohortPut(definition: Cohort, latest: Evaluator | undefined): SnapshotPatch {
  const source = latest?.cohort(definition.key)
  const value: Cohort = { ...definition }
  if (source?.include !== undefined && source.include.length > 0) value.include = source.include
  if (source?.exclude !== undefined && source.exclude.length > 0) value.exclude = source.exclude
  return { op: 'put', kind: 'cohort', key: definition.key, value }
}

/**
 * Changes read back from the change log, for a client whose cohorts at the first of them are not known here (this
 * instance loaded later). They can still be sent as they are when what the client holds is certain enough: no
 * cohort was defined, redefined or deleted meanwhile, every flag they change needs only cohorts that the flags they
 * leave alone keep shipped (so the client held them all along), and a member change of any other cohort comes only
 * when no flag changed at all (the cohort is then surely unused, and goes out as a no-op delete). Cohorts a change
 * leaves unused are not deleted: the client keeps them until its next put. Undefined: send a put instead.
 */
export function replayFromLog(missed: readonly ChangeRecord[], patches: readonly SnapshotPatch[], current: Evaluator) {
  const changedFlags = new Set<string>()
  for (const p of patches) {
    if (p.kind === 'flag') changedFlags.add(p.key)
    else if (p.op !== 'members') return undefined
  }
  const roots: string[] = []
  for (const key of current.flagKeys())
    if (!changedFlags.has(key)) for (const r of flagCohortRefs(current.flag(key)!)) roots.push(r)
  const held = new Set(
    closure(roots, (key) => {
      const definition = current.cohortDefinition(key)
      return definition === undefined ? NONE : cohortCohortRefs(definition)
    }),
  )
  const out: SnapshotPatch[] = []
  for (const [i, p] of patches.entries()) {
    const version = missed[i]!.version
    if (p.op === 'put' && p.kind === 'flag') {
      if (!flagCohortRefs(p.value).every((r) => held.has(r))) return undefined
      out.push(p)
    } else if (p.kind === 'flag' || held.has(p.key)) out.push(p)
    else if (changedFlags.size === 0) out.push({ op: 'delete', kind: 'cohort', key: p.key, version })
    else return undefined
  }
  return out
}
