import {
  type Cohort,
  compileSnapshot,
  type Evaluator,
  type Flag,
  type Snapshot,
  type SnapshotPatch,
} from '@vane/engine'
import { describe, expect, it } from 'vitest'
import { patchToChange } from '../live/patches.js'
import { CohortShipping, cohortPut, type SdkExpansion, shippedSnapshot } from './shipping.js'

const flag = (key: string, cohorts: string[][], version = 1): Flag => ({
  key,
  type: 'boolean',
  variants: { on: true, off: false },
  version,
  enabled: true,
  offVariant: 'off',
  rules: cohorts.map((c, i) => ({ id: `r${i}`, cohorts: c, serve: { variant: 'on' } })),
  fallthrough: { variant: 'off' },
})
const cohort = (key: string, refs: string[] = [], include: string[] = []): Cohort => ({
  key,
  version: 1,
  ...(refs.length > 0 && { clauses: [{ op: 'inCohort', values: refs }] }),
  ...(include.length > 0 && { include }),
})

/** A client's copy: applies what the server sends, as the Node SDK does (id-less cohort events keep its version). */
function send(client: Evaluator, expansion: SdkExpansion, server: Evaluator): Evaluator {
  let next = client
  for (const d of expansion.puts) next = next.apply({ ...cohortPut(d, server), version: next.version })
  next = next.apply(expansion.main)
  for (const key of expansion.deletes) next = next.apply({ op: 'delete', kind: 'cohort', key, version: next.version })
  return next
}

/** Member lists are sets: sorted, they compare as state. */
const normalised = (s: Snapshot) =>
  JSON.parse(
    JSON.stringify(s, (k, v) => ((k === 'include' || k === 'exclude') && Array.isArray(v) ? [...v].sort() : v)),
  ) as Snapshot

describe('shippedSnapshot', () => {
  it('keeps every flag and only the cohorts they reach: rules, inCohort clauses, cohorts through cohorts', () => {
    const evaluator = compileSnapshot({
      environment: 'staging',
      version: 7,
      flags: {
        a: flag('a', [['c1']]),
        b: {
          ...flag('b', []),
          rules: [{ id: 'x', clauses: [{ op: 'inCohort', values: ['c3'] }], serve: { variant: 'on' } }],
        },
        p: { ...flag('p', []), prerequisites: [{ flag: 'a', variants: ['on'] }] },
      },
      cohorts: {
        c1: cohort('c1', ['c2']),
        c2: cohort('c2', [], ['u1']),
        c3: cohort('c3'),
        unused: cohort('unused', ['c2'], ['vip-1', 'vip-2']),
      },
    })
    const shipped = shippedSnapshot(evaluator)
    expect(Object.keys(shipped.flags)).toEqual(['a', 'b', 'p'])
    expect(Object.keys(shipped.cohorts)).toEqual(['c1', 'c2', 'c3'])
    expect(shipped.cohorts.c2?.include).toEqual(['u1'])
    expect(JSON.stringify(shipped)).not.toContain('vip-1')
    // the evaluator itself keeps every cohort
    expect(evaluator.cohort('unused')?.include).toEqual(['vip-1', 'vip-2'])
  })
})

describe('CohortShipping', () => {
  it('a change to an unused cohort becomes its no-op delete; a change that uses it brings it, dependencies first', () => {
    let server = compileSnapshot({
      environment: 'staging',
      version: 1,
      flags: { f: flag('f', []) },
      cohorts: { vip: cohort('vip', [], ['v1']), eu: cohort('eu', ['vip']) },
    })
    const state = CohortShipping.from(server)
    const step = (patch: SnapshotPatch) => {
      server = server.apply(patch)
      return state.advance(patchToChange('staging', patch.version!, patch, ''), patch, server)
    }
    const members = step({ op: 'members', kind: 'cohort', key: 'vip', version: 2, add: { include: ['v2'] } })
    expect(members).toEqual({
      puts: [],
      main: { op: 'delete', kind: 'cohort', key: 'vip', version: 2 },
      deletes: [],
    })
    const uses = step({ op: 'put', kind: 'flag', key: 'f', version: 3, value: flag('f', [['eu']], 2) })
    expect(uses.puts.map((c) => c.key)).toEqual(['vip', 'eu'])
    expect(uses.puts[0]).not.toHaveProperty('include')
    expect(cohortPut(uses.puts[0]!, server)).toMatchObject({ value: { key: 'vip', include: ['v1', 'v2'] } })
    expect(uses.main).toMatchObject({ op: 'put', kind: 'flag', key: 'f' })
    expect(state.ships('vip')).toBe(true)
    const drops = step({ op: 'delete', kind: 'flag', key: 'f', version: 4 })
    expect(drops.deletes).toEqual(['eu', 'vip'])
  })

  it('a client following the sent events always holds exactly the shipped snapshot (random changes)', () => {
    let seed = 42
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const cohortKeys = ['c0', 'c1', 'c2', 'c3', 'c4']
    const flagKeys = ['f0', 'f1', 'f2']
    // a cohort references only lower-numbered ones: no cycles
    const lower = (key: string) => cohortKeys.slice(0, cohortKeys.indexOf(key))
    let server = compileSnapshot({
      environment: 'e',
      version: 0,
      flags: { f0: flag('f0', [['c4']]) },
      cohorts: Object.fromEntries(cohortKeys.map((k) => [k, cohort(k, lower(k).slice(-1), [`${k}-m`])])),
    })
    let client = compileSnapshot(shippedSnapshot(server))
    const state = CohortShipping.from(server)
    let applied = 0
    for (let i = 0; i < 600; i++) {
      const version = server.version + 1
      const key = pick(cohortKeys)
      const roll = random()
      let patch: SnapshotPatch
      if (roll < 0.35) {
        const refs = [[pick(cohortKeys)], ...(random() < 0.3 ? [[pick(cohortKeys)]] : [])].slice(
          0,
          random() < 0.3 ? 0 : 2,
        )
        const k = pick(flagKeys)
        patch = { op: 'put', kind: 'flag', key: k, version, value: flag(k, refs, version) }
      } else if (roll < 0.45) patch = { op: 'delete', kind: 'flag', key: pick(flagKeys), version }
      else if (roll < 0.65) {
        const refs = lower(key).filter(() => random() < 0.3)
        const definition: Cohort = { ...cohort(key, refs), version }
        patch = { op: 'put', kind: 'cohort', key, version, value: definition, keepMembers: true }
      } else if (roll < 0.75)
        patch = { op: 'put', kind: 'cohort', key, version, value: cohort(key, [], [`${key}-${i}`]) }
      else if (roll < 0.85) patch = { op: 'delete', kind: 'cohort', key, version }
      else
        patch = {
          op: 'members',
          kind: 'cohort',
          key,
          version,
          add: { include: [`m${i}`] },
          remove: { include: [`m${i - 7}`] },
        }
      try {
        server = server.apply(patch)
      } catch {
        continue // refused by the engine (a referenced cohort, a missing one): never stored, never sent
      }
      applied++
      const expansion = state.advance(patchToChange('e', version, patch, ''), patch, server)
      client = send(client, expansion, server)
      expect(normalised(client.snapshot()), `after change ${version}`).toEqual(normalised(shippedSnapshot(server)))
    }
    expect(applied).toBeGreaterThan(200)
  })
})
