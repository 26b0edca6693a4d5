import { describe, expect, it } from 'vitest'
import { affectedFlags } from './dependents.js'
import type { Flag, Snapshot } from './types.js'

const flag = (key: string, extra: Partial<Flag> = {}): Flag => ({
  key,
  type: 'boolean',
  variants: { on: true, off: false },
  version: 1,
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'on' },
  ...extra,
})

const snapshot: Snapshot = {
  environment: 'test',
  version: 1,
  cohorts: {
    staff: { key: 'staff', include: ['a'] },
    beta: { key: 'beta', clauses: [{ op: 'inCohort', values: ['staff'] }] },
    other: { key: 'other', include: ['b'] },
  },
  flags: {
    direct: flag('direct', { rules: [{ id: 'r', cohorts: ['staff'], serve: { variant: 'on' } }] }),
    nested: flag('nested', {
      rules: [{ id: 'r', clauses: [{ op: 'inCohort', values: ['beta'] }], serve: { variant: 'on' } }],
    }),
    child: flag('child', { prerequisites: [{ flag: 'nested', variants: ['on'] }] }),
    grandchild: flag('grandchild', { prerequisites: [{ flag: 'child', variants: ['on'] }] }),
    unrelated: flag('unrelated', { rules: [{ id: 'r', cohorts: ['other'], serve: { variant: 'on' } }] }),
  },
}

describe('affectedFlags', () => {
  it('follows a cohort through other cohorts and prerequisites', () => {
    expect([...affectedFlags(snapshot, 'cohort', 'staff')].sort()).toEqual(['child', 'direct', 'grandchild', 'nested'])
  })

  it('names a changed flag and its dependants only', () => {
    expect([...affectedFlags(snapshot, 'flag', 'child')].sort()).toEqual(['child', 'grandchild'])
    expect([...affectedFlags(snapshot, 'flag', 'unrelated')]).toEqual(['unrelated'])
  })
})
