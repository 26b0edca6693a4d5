import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { audit, change, cohort, environment, flag } from './contract-fixtures.js'

export function transactionContract(store: CurrentStore): void {
  it('commits: everything written in a transaction is visible after it', async () => {
    const result = await store().transaction(async (tx) => {
      await tx.insertEnvironment(environment('production'))
      await tx.lockEnvironments(['production'])
      await tx.upsertFlag(flag('checkout'))
      const version = await tx.bumpEnvironmentVersion('production')
      await tx.appendChange(change('production', version))
      expect(await tx.getFlag('checkout')).toEqual(flag('checkout'))
      return version
    })
    expect(result).toBe(1)
    expect(await store().getFlag('checkout')).toEqual(flag('checkout'))
    expect(await store().changesSince('production', 0, 10)).toHaveLength(1)
  })

  it('rolls back: a transaction that throws leaves nothing behind', async () => {
    await store().insertEnvironment(environment('production'))
    const failure = store().transaction(async (tx) => {
      await tx.lockEnvironments(['production'])
      await tx.upsertFlag(flag('checkout'))
      await tx.bumpEnvironmentVersion('production')
      await tx.appendChange(change('production', 1))
      await tx.appendAudit(audit())
      await tx.upsertCohort(cohort('beta'))
      await tx.addCohortMembers('beta', 'include', ['u1', 'u2'])
      throw new Error('validation failed')
    })
    await expect(failure).rejects.toThrow('validation failed')
    expect(await store().getFlag('checkout')).toBeUndefined()
    expect((await store().getEnvironment('production'))?.version).toBe(0)
    expect(await store().changesSince('production', 0, 10)).toEqual([])
    expect(await store().listAudit({ limit: 10 })).toEqual([])
    expect(await store().countCohortMembers('beta')).toEqual({ include: 0, exclude: 0 })
    // and the store still works afterwards
    await store().upsertFlag(flag('checkout'))
    expect(await store().getFlag('checkout')).toEqual(flag('checkout'))
  })

  it('hides uncommitted writes from reads outside the transaction', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let written!: () => void
    const wrote = new Promise<void>((resolve) => {
      written = resolve
    })
    const pending = store().transaction(async (tx) => {
      await tx.upsertFlag(flag('checkout'))
      written()
      await gate
    })
    await wrote
    expect(await store().getFlag('checkout')).toBeUndefined()
    release()
    await pending
    expect(await store().getFlag('checkout')).toEqual(flag('checkout'))
  })

  it('joins a transaction started inside another instead of deadlocking', async () => {
    await store().insertEnvironment(environment('production'))
    const attempt = store().transaction(async (tx) => {
      await tx.lockEnvironments(['production'])
      await store().transaction((inner) => inner.upsertFlag(flag('inner')))
      // a Store method called inside a transaction joins it too
      await store().upsertFlag(flag('direct'))
      expect(await store().getFlag('inner')).toEqual(flag('inner'))
      throw new Error('abort')
    })
    await expect(attempt).rejects.toThrow('abort')
    expect(await store().listFlags({ includeArchived: true })).toEqual([])
  })

  it('serialises concurrent transactions that lock their environment', async () => {
    await store().insertEnvironment(environment('production'))
    await store().insertEnvironment(environment('staging'))
    const versions = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store().transaction(async (tx) => {
          await tx.lockEnvironments(i % 2 ? ['staging', 'production'] : ['production', 'staging'])
          const env = await tx.getEnvironment('production')
          const next = env!.version + 1
          await tx.appendChange(change('production', next, { key: `flag-${i}` }))
          expect(await tx.bumpEnvironmentVersion('production')).toBe(next)
          return next
        }),
      ),
    )
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect((await store().changesSince('production', 0, 100)).map((c) => c.version)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    )
    expect((await store().getEnvironment('production'))?.version).toBe(20)
  })

  it('accepts locks on no or unknown environments', async () => {
    await store().transaction(async (tx) => {
      await tx.lockEnvironments([])
      await tx.lockEnvironments(['nope'])
    })
    await store().lockEnvironments(['nope'])
  })
}
