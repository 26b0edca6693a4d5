import { describe, expect, it } from 'vitest'
import { MemberSet } from './members.js'

describe('MemberSet', () => {
  it('applies additions and removals as overlays without changing the original', () => {
    const base = MemberSet.of(['a', 'b', 'c'])
    const next = base.with(['d', 'a'], ['b', 'x'])
    expect([...next].sort()).toEqual(['a', 'c', 'd'])
    expect(next.has('b')).toBe(false)
    expect(next.has('d')).toBe(true)
    expect(next.size).toBe(3)
    expect([...base].sort()).toEqual(['a', 'b', 'c'])
    const back = next.with(['b'], ['d'])
    expect([...back].sort()).toEqual(['a', 'b', 'c'])
    expect(back.size).toBe(3)
  })

  it('folds overlays into a new base once they grow, with the same members', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`)
    let set = MemberSet.of(keys.slice(0, 1000))
    for (let i = 1000; i < 2000; i += 100) set = set.with(keys.slice(i, i + 100), keys.slice(i - 1000, i - 950))
    const expected = new Set(keys.slice(0, 2000))
    for (let i = 1000; i < 2000; i += 100) for (const k of keys.slice(i - 1000, i - 950)) expected.delete(k)
    expect(new Set(set)).toEqual(expected)
    expect(set.size).toBe(expected.size)
    for (const k of keys) expect(set.has(k)).toBe(expected.has(k))
  })

  it('builds large changes in slices that pause, with the same members as a change at once', async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`)
    let clock = 0
    let pauses = 0
    // every look at the clock is a millisecond later: a slice of 2,048 keys then always spends its budget
    const options = { pause: async () => void pauses++, now: () => clock++, budgetMs: 1 }
    const base = MemberSet.of(keys.slice(0, 5_000))
    const add = keys.slice(2_000, 20_000)
    const remove = keys.slice(0, 1_000)
    const sliced = await base.withInSlices(add, remove, options)
    const atOnce = base.with([...add], [...remove])
    expect(pauses).toBeGreaterThan(5)
    expect(new Set(sliced)).toEqual(new Set(atOnce))
    expect(sliced.size).toBe(19_000)
    for (const k of keys) expect(sliced.has(k)).toBe(atOnce.has(k))
    const emptied = await sliced.withInSlices([], keys, options)
    expect(emptied.size).toBe(0)
    expect(emptied).toBe(MemberSet.empty)
  })

  it('reuses the result when the same large change is applied to the same set again', async () => {
    const add = Array.from({ length: 5_000 }, (_, i) => `k${i}`)
    const options = { pause: async () => {} }
    const first = await MemberSet.of(undefined).withInSlices(add, [], options)
    // another environment holding the same (empty) list gets the same set, not a second copy
    expect(await MemberSet.of([]).withInSlices(add, [], options)).toBe(first)
    expect(MemberSet.empty.with(add, [])).toBe(first)
    // an equal but different array is a different change
    expect(MemberSet.empty.with([...add], [])).not.toBe(first)
  })
})
