import { canonical, type FlagValue } from './flag-values.js'

export type CacheStorage = Pick<Storage, 'getItem' | 'setItem'>

/**
 * The last values per context in localStorage, for an instant start: keyed by the client key's tail (its
 * environment) and the canonical context, so another context's values are never served. Storage that is full,
 * disabled or corrupted only costs the optimisation; nothing here throws.
 */
export class ValueCache {
  constructor(
    private readonly clientKey: string,
    private readonly storage: CacheStorage | undefined,
    private readonly enabled: boolean,
  ) {}

  private key(context: object): string {
    return `vane:${this.clientKey.slice(-8)}:${canonical(context)}`
  }

  private store(): CacheStorage | undefined {
    if (!this.enabled) return undefined
    try {
      return this.storage ?? globalThis.localStorage
    } catch {
      return undefined // storage disabled by the browser
    }
  }

  /** Values cached for exactly this context. */
  read(context: object): Record<string, FlagValue> | undefined {
    try {
      const text = this.store()?.getItem(this.key(context))
      return text ? (JSON.parse(text) as Record<string, FlagValue>) : undefined
    } catch {
      return undefined
    }
  }

  write(context: object, values: Map<string, FlagValue>): void {
    try {
      this.store()?.setItem(this.key(context), JSON.stringify(Object.fromEntries(values)))
    } catch {
      // full or disabled storage: the cache is an optimisation
    }
  }
}
