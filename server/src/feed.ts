import type { ChangeRecord } from './storage/repository.js'

export type ChangeListener = (change: ChangeRecord) => void

/**
 * Delivers committed changes, in version order per environment, to everything
 * that serves them (the hot evaluators, and streams). In one process it is a
 * plain fan-out; across instances the same interface is fed by the database.
 */
export interface ChangeFeed {
  publish(changes: readonly ChangeRecord[]): void
  subscribe(listener: ChangeListener): () => void
}

export function createLocalFeed(): ChangeFeed {
  const listeners = new Set<ChangeListener>()
  return {
    publish(changes) {
      for (const change of changes) for (const listener of listeners) listener(change)
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
