/**
 * What the stream client and the SDKs take from their surroundings. Tests pass their own to control time and
 * chance instead of sleeping.
 */
export interface Platform {
  fetch: typeof fetch
  now: () => number
  /** A number in [0, 1), for jitter. */
  random: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

/** The global `fetch`, clock, `Math.random` and timers, looked up at each call (so test doubles of them apply). */
export const defaultPlatform: Platform = {
  fetch: (input, init) => fetch(input, init),
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms)
    // under Node, these timers never keep a process alive on their own (browsers have no unref)
    ;(handle as { unref?: () => void }).unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
