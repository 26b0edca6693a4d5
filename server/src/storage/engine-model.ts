import type { Cohort, Flag } from '@vane/engine'
import type { CohortMembers, CohortRecord, FlagConfigRecord, FlagRecord } from './repository.js'

/** Targeting of a flag in an environment that was never configured: off, serving its off variant. */
export function defaultConfig(flag: FlagRecord, environment: string): FlagConfigRecord {
  const names = Object.keys(flag.variants)
  const offVariant = 'off' in flag.variants ? 'off' : (names[0] ?? 'off')
  return {
    environment,
    flagKey: flag.key,
    enabled: false,
    killed: false,
    killReason: null,
    kills: [],
    offVariant,
    fallthrough: { variant: offVariant },
    rules: [],
    targets: {},
    prerequisites: [],
    version: 0,
    updatedAt: flag.updatedAt,
  }
}

/**
 * The flag as the engine and SDKs see it in one environment. Its version is the
 * sum of the definition's and the targeting's, so it rises on a change to either.
 */
export function toEngineFlag(flag: FlagRecord, config: FlagConfigRecord | undefined): Flag {
  const c = config ?? defaultConfig(flag, '')
  const out: Flag = {
    key: flag.key,
    type: flag.type,
    variants: flag.variants,
    version: flag.version + c.version,
    enabled: c.enabled,
    offVariant: c.offVariant,
    fallthrough: c.fallthrough,
  }
  if (c.killed) out.killed = true
  if (c.prerequisites.length > 0) out.prerequisites = c.prerequisites
  if (Object.keys(c.targets).length > 0) out.targets = c.targets
  if (c.rules.length > 0) out.rules = c.rules
  if (flag.tags.length > 0) out.tags = flag.tags
  return out
}

export function toEngineCohort(cohort: CohortRecord, members: CohortMembers): Cohort {
  const out: Cohort = { key: cohort.key, version: cohort.version }
  if (members.include.length > 0) out.include = members.include
  if (members.exclude.length > 0) out.exclude = members.exclude
  if (cohort.clauses.length > 0) out.clauses = cohort.clauses
  if (cohort.rollout !== null) out.rollout = cohort.rollout
  return out
}
