/**
 * @module test/support/wait
 * Bounded waiting for the suites: every wait has a deadline, so a condition that never comes fails the test
 * instead of hanging it.
 */

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every `everyMs` until it holds (true) or `ms` passed (false). */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}
