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
})
