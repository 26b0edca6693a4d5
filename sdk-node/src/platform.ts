/**
 * What the SDK takes from its surroundings. Tests pass their own to control
 * time and chance instead of sleeping.
 */
export interface Platform {
  fetch: typeof fetch
  now: () => number
  random: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const nodePlatform: Platform = {
  fetch: (input, init) => fetch(input, init),
  now: () => Date.now(),
  random: () => Math.random(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms)
    // the SDK's timers never keep a process alive on their own
    handle.unref?.()
    return handle
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
