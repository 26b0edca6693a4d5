import { describe, expect, it } from 'vitest'
import { inTimeSlices } from './time-slices.js'

/** A clock that `work` advances by `msPerItem` for every item it handles. */
function fakeWork(msPerItem: number) {
  let clock = 0
  const sizes: number[] = []
  const work = (slice: number[]) => {
    sizes.push(slice.length)
    clock += slice.length * msPerItem
    return slice.length
  }
  return { work, sizes, now: () => clock }
}

describe('inTimeSlices', () => {
  it('covers every item once, in order, and sums what work returns', async () => {
    const items = Array.from({ length: 12_345 }, (_, i) => i)
    const seen: number[] = []
    const total = await inTimeSlices(items, (slice) => {
      seen.push(...slice)
      return slice.length * 2
    })
    expect(seen).toEqual(items)
    expect(total).toBe(24_690)
  })

  it('sizes slices to the budget from the speed it measures', async () => {
    // 0.01 ms an item: 1,000 items fit in 10 ms
    const fake = fakeWork(0.01)
    await inTimeSlices(
      Array.from({ length: 50_000 }, (_, i) => i),
      fake.work,
      { first: 100, now: fake.now },
    )
    // grows from the first guess by doubling, then holds at what fits the budget
    expect(fake.sizes.slice(0, 6)).toEqual([100, 200, 400, 800, 1_000, 1_000])
    expect(Math.max(...fake.sizes)).toBe(1_000)
  })

  it('shrinks at once when slices turn slow', async () => {
    let msPerItem = 0.001
    let clock = 0
    const sizes: number[] = []
    await inTimeSlices(
      Array.from({ length: 60_000 }, (_, i) => i),
      (slice) => {
        sizes.push(slice.length)
        clock += slice.length * msPerItem
        // the table grows, or the machine gets busy: ten times slower from the fourth slice on
        if (sizes.length === 3) msPerItem = 0.01
        return 0
      },
      { first: 5_000, now: () => clock },
    )
    // 10,000 fit the budget at first; the first slow slice takes 100 ms, and the next is cut to what fits
    expect(sizes.slice(0, 6)).toEqual([5_000, 10_000, 10_000, 10_000, 1_000, 1_000])
  })

  it('lets timers run between slices', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    try {
      await inTimeSlices(
        Array.from({ length: 20 }, (_, i) => i),
        () => {
          // 2 ms of work per slice: a timer due meanwhile runs before the next slice
          const until = performance.now() + 2
          while (performance.now() < until) {}
          return 1
        },
        { first: 1, max: 1 },
      )
    } finally {
      clearInterval(timer)
    }
    expect(ticks).toBeGreaterThanOrEqual(10)
  })
})
