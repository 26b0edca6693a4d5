import { yieldToEventLoop } from './query-helpers.js'

export interface TimeSlicesOptions {
  /** Milliseconds one slice should take; the event loop runs in between. Default 10. */
  budgetMs?: number
  /** Items in the first slice, before the speed is known. Default 1,000. */
  first?: number
  /** Most items in one slice, however fast. Default 100,000. */
  max?: number
  /** Clock in milliseconds; tests pass their own. */
  now?: () => number
}

/**
 * Runs a synchronous `work` over `items` slice by slice, yielding to the event loop after each, and returns
 * the sum of what `work` returned (rows changed). Slices are sized from the speed measured so far, so that
 * each takes about `budgetMs` on this machine, whatever the dialect, the keys or the load: a million keys
 * then never hold the event loop for more than a few milliseconds at a time.
 */
export async function inTimeSlices<T>(
  items: readonly T[],
  work: (slice: T[]) => number,
  options: TimeSlicesOptions = {},
): Promise<number> {
  const { budgetMs = 10, first = 1_000, max = 100_000, now = () => performance.now() } = options
  let total = 0
  let size = first
  for (let at = 0; at < items.length; ) {
    if (at > 0) await yieldToEventLoop()
    const slice = items.slice(at, at + size)
    const started = now()
    total += work(slice)
    const elapsed = now() - started
    at += slice.length
    // aim at the budget from the speed just seen, at most doubling per slice so one fast slice cannot overshoot
    const fit = elapsed > 0 ? Math.floor((slice.length * budgetMs) / elapsed) : size * 2
    size = Math.max(1, Math.min(max, size * 2, fit))
  }
  return total
}
