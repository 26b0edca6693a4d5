/**
 * Analysis across entries of a snapshot: references to flags, variants and
 * cohorts that must exist, and prerequisite and cohort cycles. Used on a whole
 * snapshot by `parseSnapshot` and on one changed entry by `Evaluator.apply`.
 */
import { type SnapshotIssue, toPointer } from './errors.js'
import type { Clause, Cohort, Flag } from './types.js'

/** Keys that exist in the snapshot, valid or not, so that one bad entry does not also fail every reference to it. */
export interface KnownKeys {
  flags: { has(key: string): boolean }
  cohorts: { has(key: string): boolean }
}

export const keysOf = (record: Record<string, unknown>) => ({ has: (key: string) => Object.hasOwn(record, key) })

/**
 * Cross-entity checks over entries that passed their own schema: referenced
 * flags, variants and cohorts exist, and prerequisites and cohorts form no cycle.
 */
export function checkReferences(
  flags: Record<string, Flag>,
  cohorts: Record<string, Cohort>,
  known: KnownKeys = { flags: keysOf(flags), cohorts: keysOf(cohorts) },
): SnapshotIssue[] {
  return [...referenceIssues(flags, cohorts, known), ...cycleIssues(flags, cohorts)]
}

/**
 * References from `flags` and `cohorts` to entries that do not exist in `known`, and
 * prerequisites on variants the prerequisite flag (when it is among `flags`) lacks.
 */
export function referenceIssues(
  flags: Record<string, Flag>,
  cohorts: Record<string, Cohort>,
  known: KnownKeys,
): SnapshotIssue[] {
  const issues: SnapshotIssue[] = []
  const add = (path: (string | number)[], message: string) => issues.push({ path, pointer: toPointer(path), message })
  const checkClauses = (clauses: Clause[] | undefined, path: (string | number)[]) =>
    clauses?.forEach((clause, i) => {
      if (clause.op !== 'inCohort') return
      clause.values.forEach((v, j) => {
        if (typeof v === 'string' && !known.cohorts.has(v)) add([...path, i, 'values', j], `unknown cohort "${v}"`)
      })
    })

  for (const [key, flag] of Object.entries(flags)) {
    flag.prerequisites?.forEach((p, i) => {
      const target = Object.hasOwn(flags, p.flag) ? flags[p.flag] : undefined
      if (!known.flags.has(p.flag)) add(['flags', key, 'prerequisites', i, 'flag'], `unknown flag "${p.flag}"`)
      else if (target !== undefined)
        p.variants.forEach((v, j) => {
          if (!Object.hasOwn(target.variants, v))
            add(['flags', key, 'prerequisites', i, 'variants', j], `flag "${p.flag}" has no variant "${v}"`)
        })
    })
    flag.rules?.forEach((rule, i) => {
      rule.cohorts?.forEach((c, j) => {
        if (!known.cohorts.has(c)) add(['flags', key, 'rules', i, 'cohorts', j], `unknown cohort "${c}"`)
      })
      checkClauses(rule.clauses, ['flags', key, 'rules', i, 'clauses'])
    })
  }
  for (const [key, cohort] of Object.entries(cohorts)) checkClauses(cohort.clauses, ['cohorts', key, 'clauses'])
  return issues
}

/** Prerequisite cycles among `flags` and `inCohort` cycles among `cohorts`, each once. */
export function cycleIssues(flags: Record<string, Flag>, cohorts: Record<string, Cohort>): SnapshotIssue[] {
  const issues: SnapshotIssue[] = []
  const add = (path: (string | number)[], message: string) => issues.push({ path, pointer: toPointer(path), message })
  const prereqEdges = (key: string) => flags[key]?.prerequisites?.map((p) => p.flag) ?? []
  for (const cycle of findCycles(Object.keys(flags), prereqEdges))
    add(['flags', cycle[0]!, 'prerequisites'], `prerequisite cycle: ${cycle.join(' → ')}`)
  const cohortEdges = (key: string) =>
    cohorts[key]?.clauses?.flatMap((c) => (c.op === 'inCohort' ? c.values.filter((v) => typeof v === 'string') : [])) ??
    []
  for (const cycle of findCycles(Object.keys(cohorts), cohortEdges))
    add(['cohorts', cycle[0]!, 'clauses'], `cohort cycle: ${cycle.join(' → ')}`)
  return issues
}

/** Each cycle once, as the path that closes it (`a → b → a`), by iterative DFS. */
export function findCycles(nodes: string[], edges: (node: string) => string[]): string[][] {
  const state = new Map<string, 1 | 2>() // 1: on the stack, 2: done
  const cycles: string[][] = []
  for (const root of nodes) {
    if (state.has(root)) continue
    const stack: { node: string; next: string[]; i: number }[] = [{ node: root, next: edges(root), i: 0 }]
    state.set(root, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (top.i >= top.next.length) {
        state.set(top.node, 2)
        stack.pop()
        continue
      }
      const child = top.next[top.i++]!
      const s = state.get(child)
      if (s === 1) {
        const from = stack.findIndex((f) => f.node === child)
        cycles.push([...stack.slice(from).map((f) => f.node), child])
      } else if (s === undefined) {
        state.set(child, 1)
        stack.push({ node: child, next: edges(child), i: 0 })
      }
    }
  }
  return cycles
}
