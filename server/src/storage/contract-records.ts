import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { cohort, DUPLICATE, environment, flag, flagConfig, MISSING, T1, T2 } from './contract-fixtures.js'

export function recordContract(store: CurrentStore): void {
  it('answers ping and names its dialect', async () => {
    expect(await store().ping()).toBe(true)
    expect(['sqlite', 'postgres']).toContain(store().dialect)
  })

  it('round-trips environments, ordered by key', async () => {
    await store().insertEnvironment(environment('staging'))
    await store().insertEnvironment(environment('production', { version: 7 }))
    expect(await store().getEnvironment('production')).toEqual(environment('production', { version: 7 }))
    expect(await store().getEnvironment('nope')).toBeUndefined()
    expect((await store().listEnvironments()).map((e) => e.key)).toEqual(['production', 'staging'])
    await expect(store().insertEnvironment(environment('staging'))).rejects.toMatchObject(DUPLICATE)
  })

  it('hands timestamps back as Date#toISOString() text, whatever offset they were given with', async () => {
    await store().insertEnvironment(environment('production', { createdAt: '2025-01-02T05:04:05.678+02:00' }))
    expect((await store().getEnvironment('production'))?.createdAt).toBe(T1)
  })

  it('bumps an environment version by exactly one', async () => {
    await store().insertEnvironment(environment('production'))
    expect(await store().bumpEnvironmentVersion('production')).toBe(1)
    expect(await store().bumpEnvironmentVersion('production')).toBe(2)
    expect((await store().getEnvironment('production'))?.version).toBe(2)
    await expect(store().bumpEnvironmentVersion('nope')).rejects.toMatchObject(MISSING)
  })

  it('round-trips flags with JSON fields, key order and nulls; upsert overwrites', async () => {
    const record = flag('checkout')
    await store().upsertFlag(record)
    const read = await store().getFlag('checkout')
    expect(read).toEqual(record)
    expect(Object.keys(read!.variants)).toEqual(['zeta', 'alpha', 'émoji-✓'])
    const changed = flag('checkout', { description: 'new', owner: 'ann', tags: [], version: 2, updatedAt: T2 })
    await store().upsertFlag(changed)
    expect(await store().getFlag('checkout')).toEqual(changed)
    expect(await store().getFlag('nope')).toBeUndefined()
  })

  it('lists flags by key, archived ones only on request', async () => {
    await store().upsertFlag(flag('b'))
    await store().upsertFlag(flag('a', { archived: true }))
    await store().upsertFlag(flag('c', { type: 'boolean', variants: { on: true, off: false } }))
    expect((await store().listFlags()).map((f) => f.key)).toEqual(['b', 'c'])
    expect((await store().listFlags({ includeArchived: false })).map((f) => f.key)).toEqual(['b', 'c'])
    const all = await store().listFlags({ includeArchived: true })
    expect(all.map((f) => [f.key, f.archived])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ])
    expect(all[2]?.variants).toEqual({ on: true, off: false })
  })

  it('round-trips flag configs per environment; upsert overwrites', async () => {
    for (const env of ['production', 'staging']) await store().insertEnvironment(environment(env))
    for (const key of ['b', 'a']) await store().upsertFlag(flag(key))
    const record = flagConfig('production', 'b')
    await store().upsertFlagConfig(record)
    await store().upsertFlagConfig(flagConfig('production', 'a'))
    await store().upsertFlagConfig(flagConfig('staging', 'b', { enabled: false }))

    const read = await store().getFlagConfig('production', 'b')
    expect(read).toEqual(record)
    const { fallthrough } = read!
    expect('rollout' in fallthrough && Object.keys(fallthrough.rollout.weights)).toEqual(['zeta', 'alpha'])

    const killed = flagConfig('production', 'b', {
      killed: true,
      killReason: 'incident #5',
      kills: [
        { source: 'direct', reason: 'incident #4', actor: 'ops-alice', at: T1 },
        { source: 'tag', tag: 'checkout', reason: 'incident #5', actor: 'ops-bob', at: T2 },
        { source: 'trigger', trigger: 't1', tag: 'payments', reason: 'alert', actor: 'trigger:pd', at: T2 },
      ],
      version: 2,
      updatedAt: T2,
    })
    await store().upsertFlagConfig(killed)
    expect(await store().getFlagConfig('production', 'b')).toEqual(killed)
    expect((await store().listFlagConfigs('production')).map((c) => c.flagKey)).toEqual(['a', 'b'])
    expect(await store().listFlagConfigs('staging')).toEqual([flagConfig('staging', 'b', { enabled: false })])
    expect(await store().getFlagConfig('staging', 'a')).toBeUndefined()
    await expect(store().upsertFlagConfig(flagConfig('production', 'nope'))).rejects.toMatchObject(MISSING)
    await expect(store().upsertFlagConfig(flagConfig('nope', 'a'))).rejects.toMatchObject(MISSING)
  })

  it('round-trips cohorts; upsert overwrites; delete removes the cohort and its members', async () => {
    const record = cohort('beta')
    await store().upsertCohort(record)
    await store().upsertCohort(cohort('alpha', { description: null, clauses: [] }))
    expect(await store().getCohort('beta')).toEqual(record)
    const canary = cohort('beta', { rollout: { weight: 5000, salt: 's' }, version: 2, updatedAt: T2 })
    await store().upsertCohort(canary)
    expect(await store().getCohort('beta')).toEqual(canary)
    expect((await store().listCohorts()).map((c) => c.key)).toEqual(['alpha', 'beta'])

    await store().addCohortMembers('beta', 'include', ['u1', 'u2'])
    await store().deleteCohort('beta')
    expect(await store().getCohort('beta')).toBeUndefined()
    expect(await store().countCohortMembers('beta')).toEqual({ include: 0, exclude: 0 })
    expect((await store().listCohorts()).map((c) => c.key)).toEqual(['alpha'])
  })
}
