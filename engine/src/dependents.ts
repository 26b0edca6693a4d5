import type { Clause, Snapshot } from './types.js'

const cohortsIn = (clauses: Clause[] | undefined): string[] =>
  (clauses ?? []).flatMap((c) => (c.op === 'inCohort' ? (c.values as string[]) : []))

/**
 * The flags whose value may differ for some context after `entity` `key`
 * changed: the flag itself; for a cohort, every flag using it (directly, or
 * through other cohorts' `inCohort` clauses); and, transitively, every flag
 * that has one of those as a prerequisite. Streams and SDKs use it to
 * re-evaluate, or report, only what a change can touch.
 */
export function affectedFlags(snapshot: Snapshot, entity: 'flag' | 'cohort', key: string): Set<string> {
  const flags = Object.values(snapshot.flags)
  const affected = new Set<string>()
  if (entity === 'flag') affected.add(key)
  else {
    const cohorts = new Set([key])
    for (let grew = true; grew; ) {
      grew = false
      for (const cohort of Object.values(snapshot.cohorts))
        if (!cohorts.has(cohort.key) && cohortsIn(cohort.clauses).some((k) => cohorts.has(k))) {
          cohorts.add(cohort.key)
          grew = true
        }
    }
    for (const flag of flags)
      if (
        flag.rules?.some(
          (r) => r.cohorts?.some((c) => cohorts.has(c)) || cohortsIn(r.clauses).some((c) => cohorts.has(c)),
        )
      )
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
