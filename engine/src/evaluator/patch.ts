/** Applying patches to copied tables: only the changed entry is compiled, and only what it touches is checked. */

import { type SnapshotIssue, SnapshotValidationError, toPointer } from '../errors.js'
import { MemberSet, type SliceOptions } from '../members.js'
import { findCycles, referenceIssues } from '../references.js'
import { checkedCohortSchema, flagSchema } from '../schema.js'
import type { Clause, Cohort, Flag, SnapshotPatch } from '../types.js'
import { Compiler } from './compile.js'
import type { Tables } from './compiled.js'

function issuesOf(path: (string | number)[], error: { issues: { path: PropertyKey[]; message: string }[] }) {
  return error.issues.map((i) => {
    const full = [...path, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))]
    return { path: full, pointer: toPointer(full), message: i.message }
  })
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

/** A members patch's new sets, built ahead (in slices) from the sets the tables hold. */
export interface PreparedMembers {
  include?: MemberSet
  exclude?: MemberSet
}

/**
 * The new sets of a members patch, built in slices that pause; what {@link applyOne} then installs at once.
 * Undefined when the cohort is unknown: applying the patch reports it.
 */
export async function prepareMembers(
  tables: Tables,
  patch: SnapshotPatch,
  options: SliceOptions,
): Promise<PreparedMembers | undefined> {
  if (patch.op !== 'members') return undefined
  const current = tables.cohorts.get(patch.key)
  if (current === undefined) return undefined
  const prepared: PreparedMembers = {}
  for (const list of ['include', 'exclude'] as const) {
    const added = patch.add?.[list] ?? []
    const removed = patch.remove?.[list] ?? []
    if (added.length > 0 || removed.length > 0)
      prepared[list] = await current[list].withInSlices(added, removed, options)
  }
  return prepared
}

/**
 * Validates and applies one patch to copied tables. Only the changed entity is
 * compiled; references are checked against the tables, not by recompiling.
 */
export function applyOne(
  tables: Tables,
  patch: SnapshotPatch,
  prefix: (string | number)[],
  prepared?: PreparedMembers,
): void {
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
      const ready = prepared?.[list]
      if (ready !== undefined) return ready
      const added = patch.add?.[list] ?? []
      const removed = patch.remove?.[list] ?? []
      return added.length === 0 && removed.length === 0 ? current[list] : current[list].with(added, removed)
    }
    tables.cohorts.set(patch.key, new Compiler().cohort(current.definition, next('include'), next('exclude')))
    return
  }

  const parsed = patch.kind === 'flag' ? flagSchema.safeParse(patch.value) : checkedCohortSchema.safeParse(patch.value)
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
