import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { cohort, MISSING } from './contract-fixtures.js'

const MILLION = 1_000_000

export function cohortMemberContract(store: CurrentStore, name: string): void {
  it('adds and removes cohort members per list, ignoring duplicates', async () => {
    await store().upsertCohort(cohort('beta'))
    await store().upsertCohort(cohort('other'))
    expect(await store().countCohortMembers('beta')).toEqual({ include: 0, exclude: 0 })
    expect(await store().getCohortMembers('beta')).toEqual({ include: [], exclude: [] })

    expect(await store().addCohortMembers('beta', 'include', ['u2', 'u1', 'u2'])).toBe(2)
    expect(await store().addCohortMembers('beta', 'include', ['u1', 'u3'])).toBe(1)
    expect(await store().addCohortMembers('beta', 'exclude', ['u1'])).toBe(1)
    expect(await store().addCohortMembers('other', 'include', ['x'])).toBe(1)
    expect(await store().addCohortMembers('beta', 'include', [])).toBe(0)
    await expect(store().addCohortMembers('nope', 'include', ['u1'])).rejects.toMatchObject(MISSING)

    // in byte order of the keys, on both dialects
    expect(await store().getCohortMembers('beta')).toEqual({ include: ['u1', 'u2', 'u3'], exclude: ['u1'] })
    expect(await store().countCohortMembers('beta')).toEqual({ include: 3, exclude: 1 })

    expect(await store().removeCohortMembers('beta', 'include', ['u1', 'u9', 'u1'])).toBe(1)
    expect(await store().removeCohortMembers('beta', 'include', [])).toBe(0)
    expect(await store().countCohortMembers('beta')).toEqual({ include: 2, exclude: 1 })
    expect(await store().getCohortMembers('other')).toEqual({ include: ['x'], exclude: [] })
  })

  it('keeps member keys exactly as given', async () => {
    await store().upsertCohort(cohort('beta'))
    const odd = ["o'brien", 'a,b', '{x}', 'quote"d', 'back\\slash', 'NULL', '', ' spaced ', 'ünï', '😀']
    expect(await store().addCohortMembers('beta', 'include', odd)).toBe(odd.length)
    const byteOrder = [...odd].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    expect((await store().getCohortMembers('beta')).include).toEqual(byteOrder)
    expect(await store().removeCohortMembers('beta', 'include', odd)).toBe(odd.length)
  })

  it('adds 1,000,000 members in one call within seconds', { timeout: 180_000 }, async () => {
    await store().upsertCohort(cohort('huge'))
    // distinct keys in scrambled order, like real user ids: multiplying by an odd number is a bijection mod 2^32
    const keys = Array.from({ length: MILLION }, (_, i) => `user-${Math.imul(i, 2654435761) >>> 0}`)

    let started = performance.now()
    expect(await store().addCohortMembers('huge', 'include', keys)).toBe(MILLION)
    const addMs = performance.now() - started
    expect(await store().countCohortMembers('huge')).toEqual({ include: MILLION, exclude: 0 })

    started = performance.now()
    const members = await store().getCohortMembers('huge')
    const readMs = performance.now() - started
    expect(members.include.length).toBe(MILLION)

    started = performance.now()
    expect(await store().addCohortMembers('huge', 'include', keys.slice(0, 1000).concat('new-one'))).toBe(1)
    expect(await store().removeCohortMembers('huge', 'include', keys.slice(0, 100_000))).toBe(100_000)
    const smallMs = performance.now() - started

    started = performance.now()
    await store().deleteCohort('huge')
    const deleteMs = performance.now() - started
    expect(await store().countCohortMembers('huge')).toEqual({ include: 0, exclude: 0 })

    const ms = (n: number) => `${Math.round(n)} ms`
    console.info(
      `[${name}] 1,000,000 members: add ${ms(addMs)}, read ${ms(readMs)}, ` +
        `add 1k + remove 100k ${ms(smallMs)}, delete cohort ${ms(deleteMs)}`,
    )
    // generous for loaded CI machines, still far below what a round trip per key would cost
    expect(addMs).toBeLessThan(60_000)
  })
}
