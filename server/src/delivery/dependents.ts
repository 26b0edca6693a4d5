import type { Clause, Evaluator } from '@vane/engine'
import type { ChangeRecord } from '../storage/repository.js'

const cohortsIn = (clauses: Clause[] | undefined): string[] =>
  (clauses ?? []).flatMap((c) => (c.op === 'inCohort' ? (c.values as string[]) : []))

/**
 * Flags whose value may differ for some context after `change`: the changed
 * flag, flags using a changed cohort (directly or through other cohorts), and
 * everything that has any of those as a prerequisite. Computed once per
 * change and shared by every client stream, each of which then re-evaluates
 * only these flags for its own context.
 */
export function affectedFlags(evaluator: Evaluator, change: ChangeRecord): Set<string> {
  const snapshot = evaluator.snapshot()
  const flags = Object.values(snapshot.flags)
  const affected = new Set<string>()
  if (change.entity === 'flag') affected.add(change.key)
  else {
    const cohorts = new Set([change.key])
    // cohorts that use a changed cohort through inCohort change too
    for (let grew = true; grew; ) {
      grew = false
      for (const cohort of Object.values(snapshot.cohorts))
        if (!cohorts.has(cohort.key) && cohortsIn(cohort.clauses).some((k) => cohorts.has(k))) {
          cohorts.add(cohort.key)
          grew = true
        }
    }
    for (const flag of flags)
      if (flag.rules?.some((r) => r.cohorts?.some((c) => cohorts.has(c)) || cohortsIn(r.clauses).some((c) => cohorts.has(c))))
        affected.add(flag.key)
  }
  for (let grew = true; grew; ) {
    grew = false
    for (const flag of flags)
      if (!affected.has(flag.key) && flag.prerequisites?.some((p) => affected.has(p.flag))) {
        affected.add(flag.key)
        grew = true
      }
  }
  return affected
}
