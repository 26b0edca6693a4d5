import type { ChangeRecord } from '../storage/repository.js'

export type ChangeListener = (change: ChangeRecord) => void

/**
 * Delivers committed changes, in version order per environment, to everything
 * that serves them (the hot evaluators, and streams). In one process it is a
 * fan-out with a reorder buffer; across instances the same interface is fed by the database.
 */
export interface ChangeFeed {
  publish(changes: readonly ChangeRecord[]): void
  subscribe(listener: ChangeListener): () => void
  /** The version an environment is at when the feed starts following it; later changes follow it in order. */
  prime(environment: string, version: number): void
  /** The last version delivered for an environment. */
  position(environment: string): number
  /** Reads and delivers what the change log holds after the position (another instance wrote it). */
  catchUp(environment: string): Promise<void>
}

export interface LocalFeedOptions {
  /** Fetches committed changes after `after` when a gap does not close by itself (from the change log). */
  load?: (environment: string, after: number) => Promise<ChangeRecord[]>
  /** How long a gap may stay open before `load` fills it. Default 250 ms. */
  gapMs?: number
}

/**
 * Concurrent writers commit in version order but may publish out of it (6
 * before 5). Subscribers must see 5 then 6, so a change that arrives early
 * waits until the ones before it arrive, or are read from the change log.
 */
export function createLocalFeed(options: LocalFeedOptions = {}): ChangeFeed {
  const listeners = new Set<ChangeListener>()
  const last = new Map<string, number>()
  const pending = new Map<string, Map<number, ChangeRecord>>()
  const timers = new Map<string, ReturnType<typeof setTimeout>>()

  const emit = (change: ChangeRecord) => {
    for (const listener of listeners) listener(change)
  }
  const offer = (change: ChangeRecord) => {
    const { environment, version } = change
    const at = last.get(environment) ?? 0
    if (version <= at) return
    const waiting = pending.get(environment) ?? new Map<number, ChangeRecord>()
    pending.set(environment, waiting)
    waiting.set(version, change)
    let next = at + 1
    for (let ready = waiting.get(next); ready !== undefined; ready = waiting.get(next)) {
      waiting.delete(next)
      last.set(environment, next)
      emit(ready)
      next++
    }
    if (waiting.size === 0) {
      clearTimeout(timers.get(environment))
      timers.delete(environment)
    } else if (!timers.has(environment) && options.load !== undefined) {
      const load = options.load
      const timer = setTimeout(() => {
        timers.delete(environment)
        load(environment, last.get(environment) ?? 0).then(
          (changes) => changes.forEach(offer),
          () => {},
        )
      }, options.gapMs ?? 250)
      timer.unref?.()
      timers.set(environment, timer)
    }
  }
  const catchUps = new Map<string, Promise<void>>()
  const catchUp = (environment: string): Promise<void> => {
    if (options.load === undefined) return Promise.resolve()
    const load = options.load
    // one read at a time per environment; a request during it chains after it
    const previous = catchUps.get(environment) ?? Promise.resolve()
    const next = previous.then(async () => {
      for (;;) {
        const changes = await load(environment, last.get(environment) ?? 0)
        changes.forEach(offer)
        if (changes.length < 1000) return
      }
    })
    // the chain stays usable after a failed read; the caller still sees the failure
    catchUps.set(
      environment,
      next.catch(() => {}),
    )
    return next
  }
  return {
    publish: (changes) => changes.forEach(offer),
    position: (environment) => last.get(environment) ?? 0,
    catchUp,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    prime(environment, version) {
      if ((last.get(environment) ?? 0) < version) last.set(environment, version)
    },
  }
}
