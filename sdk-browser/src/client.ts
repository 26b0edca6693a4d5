import {
  type ClientEvents,
  defaultPlatform,
  Emitter,
  type EvaluationDetails,
  HttpError,
  isRefused,
  type Platform,
} from '@vane/sdk-core'
import { type CacheStorage, ValueCache } from './cache.js'
import { DataSource } from './data-source.js'
import { type FlagValue, resolve, same } from './flag-values.js'
import { watchPage } from './page-lifecycle.js'

export type Context = { targetingKey?: string } & Record<string, unknown>

/** Options for {@link createClient}. */
export interface ClientOptions {
  /**
   * Called after every read with its details and the current context, e.g. by
   * `openTelemetry()` from `@vane/sdk-browser/opentelemetry`. Errors it throws are ignored.
   */
  onEvaluation?: ((details: EvaluationDetails<unknown>, context: Context) => void) | undefined
  /** The Vane server, e.g. `https://flags.example.com`. */
  url: string
  /** A client key: publishable, and limited to its allowed origins. */
  clientKey: string
  context: Context
  /**
   * Secure mode: the hash of `context.targetingKey` that your backend computed with the client key's
   * secureModeSecret (`secureModeHash` in @vane/sdk-node). Needed only for keys created with `secureMode: true`.
   */
  hash?: string | undefined
  /** Values rendered by your server for this context: served before the network answers. */
  bootstrap?: Record<string, FlagValue> | undefined
  /** Keep the last values per context in localStorage for an instant start. Default true. */
  cache?: boolean | undefined
  /** Poll instead of streaming. Default false. */
  pollOnly?: boolean | undefined
  /** Polling interval when the stream is unavailable. Default 30 s. */
  pollIntervalMs?: number | undefined
  /** Close the stream after the tab has been hidden this long. Default 120 s. */
  inactivityMs?: number | undefined
  fetch?: typeof fetch | undefined
  storage?: CacheStorage | undefined
  /** A number in [0, 1), for jitter; injectable for tests. */
  random?: (() => number) | undefined
}

/**
 * The browser client: evaluated values for one context, read synchronously
 * from memory and kept current by a stream. No rules ever reach the page.
 *
 * @example
 * const vane = createClient({ url: 'https://flags.example.com', clientKey: 'vane_client_…', context: { targetingKey: user.id } })
 * vane.getBoolean('new-checkout', false) // cached or bootstrapped value at once; live after that
 */
export class VaneBrowserClient {
  private _values = new Map<string, FlagValue>()
  private _context: Context
  private _hash: string | undefined
  private readonly _events = new Emitter<ClientEvents>()
  private readonly _platform: Platform
  private readonly _cache: ValueCache
  private readonly _source: DataSource
  private readonly _unwatchPage: () => void
  private _ready = false
  private _stale = false

  private readonly _options: ClientOptions

  constructor(options: ClientOptions) {
    this._options = options
    this._context = options.context
    this._hash = options.hash
    this._platform = {
      ...defaultPlatform,
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.random && { random: options.random }),
    }
    this._cache = new ValueCache(options.clientKey, options.storage, options.cache !== false)
    this._source = new DataSource({
      url: options.url,
      clientKey: options.clientKey,
      platform: this._platform,
      pollOnly: options.pollOnly === true,
      pollIntervalMs: options.pollIntervalMs ?? 30_000,
      identity: () => ({ context: this._context, hash: this._hash }),
      onPut: (values) => this._replace(values),
      onPatch: (flags, deleted) => this._merge(flags, deleted),
      onUnchanged: () => this._settled([]),
      onStale: (error) => {
        this._stale = true
        this._events.emit('stale', error)
      },
      onError: (error) => this._events.emit('error', error),
    })
    const initial = options.bootstrap ?? this._cache.read(this._context)
    if (initial !== undefined) this._replace(initial)
    this._unwatchPage = watchPage({
      platform: this._platform,
      inactivityMs: options.inactivityMs ?? 120_000,
      onInactive: () => this._source.pause(),
      onVisible: () => this._source.resume(),
      onOnline: () => this._source.restart(),
    })
    this._source.start()
  }

  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void {
    return this._events.on(event, listener)
  }

  /**
   * Resolves once values for the current context are loaded (cache and bootstrap count); rejects after
   * `timeoutMs`, or at once when the key is refused.
   */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    if (this._ready) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this._platform.clearTimeout(timer)
        offReady()
        offError()
        if (error) reject(error)
        else resolve()
      }
      const timer = this._platform.setTimeout(
        () => done(new Error(`Vane was not ready within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const offReady = this._events.on('ready', () => done())
      const offError = this._events.on('error', (e) => e instanceof HttpError && isRefused(e.status) && done(e))
    })
  }

  get isReady(): boolean {
    return this._ready
  }

  getBoolean(flagKey: string, defaultValue: boolean): boolean {
    return this.details(flagKey, defaultValue).value
  }
  getString(flagKey: string, defaultValue: string): string {
    return this.details(flagKey, defaultValue).value
  }
  getNumber(flagKey: string, defaultValue: number): number {
    return this.details(flagKey, defaultValue).value
  }
  getObject<T>(flagKey: string, defaultValue: T): T {
    return this.details(flagKey, defaultValue).value
  }
  getBooleanDetails(flagKey: string, defaultValue: boolean): EvaluationDetails<boolean> {
    return this.details(flagKey, defaultValue)
  }
  getStringDetails(flagKey: string, defaultValue: string): EvaluationDetails<string> {
    return this.details(flagKey, defaultValue)
  }
  getNumberDetails(flagKey: string, defaultValue: number): EvaluationDetails<number> {
    return this.details(flagKey, defaultValue)
  }
  getObjectDetails<T>(flagKey: string, defaultValue: T): EvaluationDetails<T> {
    return this.details(flagKey, defaultValue)
  }

  /** Every flag's value for the current context. */
  all(): Record<string, FlagValue> {
    return Object.fromEntries(this._values)
  }

  /** Never throws: a missing flag, a type mismatch or no values yet give the default with an error code. */
  details<T>(flagKey: string, defaultValue: T): EvaluationDetails<T> {
    const result = resolve(flagKey, this._values.get(flagKey), defaultValue, this._ready)
    const hook = this._options.onEvaluation
    if (hook !== undefined) {
      try {
        hook(result, this._context)
      } catch {
        // telemetry must never break a read
      }
    }
    return result
  }

  /**
   * Switches to another user: the stream restarts with the new context; `change` names what differs. Resolves
   * once values for the new context are loaded: at once when it is cached, else with the server's answer;
   * rejects when the key is refused or no values came within `timeoutMs`. In secure mode, pass the new
   * targetingKey's hash.
   */
  async identify(context: Context, hash?: string, timeoutMs = 10_000): Promise<void> {
    this._context = context
    this._hash = hash
    this._ready = false
    // a new generation first: nothing still in flight for the old context may land in the new one
    this._source.restart(true)
    const cached = this._cache.read(context)
    if (cached !== undefined) this._replace(cached)
    // bounded like waitForReady: with the server unreachable and nothing cached it must not hang the page
    await this.waitForReady(timeoutMs)
  }

  close(): void {
    this._source.close()
    this._unwatchPage()
    this._events.clear()
  }

  private _replace(next: Record<string, FlagValue>): void {
    const changed = new Set([...this._values.keys(), ...Object.keys(next)])
    for (const key of [...changed]) if (same(this._values.get(key), next[key])) changed.delete(key)
    this._values = new Map(Object.entries(next))
    this._settled([...changed])
  }

  private _merge(flags: Record<string, FlagValue>, deleted: string[]): void {
    const changed: string[] = []
    for (const [key, value] of Object.entries(flags)) {
      const held = this._values.get(key)
      // a kill is also sent ahead of a backlog; the older patches queued before it must not undo it
      if ((value.version ?? Number.POSITIVE_INFINITY) < (held?.version ?? 0)) continue
      if (!same(held, value)) changed.push(key)
      this._values.set(key, value)
    }
    for (const key of deleted) if (this._values.delete(key)) changed.push(key)
    this._settled(changed)
  }

  private _settled(changed: string[]): void {
    this._cache.write(this._context, this._values)
    if (!this._ready || this._stale) {
      this._ready = true
      this._stale = false
      this._events.emit('ready')
    }
    if (changed.length > 0) this._events.emit('change', changed)
  }
}

/** Creates a client and starts streaming values for `context` at once. */
export function createClient(options: ClientOptions): VaneBrowserClient {
  return new VaneBrowserClient(options)
}
