import { canonical, type FlagValue } from './flag-values.js'

export type CacheStorage = Pick<Storage, 'getItem' | 'setItem'>

/**
 * The last values per context in localStorage, for an instant start: keyed by the client key's tail (its
 * environment) and the canonical context, so another context's values are never served. Storage that is full,
 * disabled or corrupted only costs the optimisation; nothing here throws.
 */
export class ValueCache {
  private readonly _clientKey: string
  private readonly _storage: CacheStorage | undefined
  private readonly _enabled: boolean

  constructor(clientKey: string, storage: CacheStorage | undefined, enabled: boolean) {
    this._clientKey = clientKey
    this._storage = storage
    this._enabled = enabled
  }

  private _key(context: object): string {
    return `vane:${this._clientKey.slice(-8)}:${canonical(context)}`
  }

  private _store(): CacheStorage | undefined {
    if (!this._enabled) return undefined
    try {
      return this._storage ?? globalThis.localStorage
    } catch {
      return undefined // storage disabled by the browser
    }
  }

  /** Values cached for exactly this context. */
  read(context: object): Record<string, FlagValue> | undefined {
    try {
      const text = this._store()?.getItem(this._key(context))
      return text ? (JSON.parse(text) as Record<string, FlagValue>) : undefined
    } catch {
      return undefined
    }
  }

  write(context: object, values: Map<string, FlagValue>): void {
    try {
      this._store()?.setItem(this._key(context), JSON.stringify(Object.fromEntries(values)))
    } catch {
      // full or disabled storage: the cache is an optimisation
    }
  }
}
