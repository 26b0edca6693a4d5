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
  private values = new Map<string, FlagValue>()
  private context: Context
  private hash: string | undefined
  private readonly events = new Emitter<ClientEvents>()
  private readonly platform: Platform
  private readonly cache: ValueCache
  private readonly source: DataSource
  private readonly unwatchPage: () => void
  private ready = false
  private stale = false

  constructor(private readonly options: ClientOptions) {
    this.context = options.context
    this.hash = options.hash
    this.platform = {
      ...defaultPlatform,
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.random && { random: options.random }),
    }
    this.cache = new ValueCache(options.clientKey, options.storage, options.cache !== false)
    this.source = new DataSource({
      url: options.url,
      clientKey: options.clientKey,
      platform: this.platform,
      pollOnly: options.pollOnly === true,
      pollIntervalMs: options.pollIntervalMs ?? 30_000,
      identity: () => ({ context: this.context, hash: this.hash }),
      onPut: (values) => this.replace(values),
      onPatch: (flags, deleted) => this.merge(flags, deleted),
      onUnchanged: () => this.settled([]),
      onStale: (error) => {
        this.stale = true
        this.events.emit('stale', error)
      },
      onError: (error) => this.events.emit('error', error),
    })
    const initial = options.bootstrap ?? this.cache.read(this.context)
    if (initial !== undefined) this.replace(initial)
    this.unwatchPage = watchPage({
      platform: this.platform,
      inactivityMs: options.inactivityMs ?? 120_000,
      onInactive: () => this.source.pause(),
      onVisible: () => this.source.resume(),
      onOnline: () => this.source.restart(),
    })
    this.source.start()
  }

  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener)
  }

  /**
   * Resolves once values for the current context are loaded (cache and bootstrap count); rejects after
   * `timeoutMs`, or at once when the key is refused.
   */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this.platform.clearTimeout(timer)
        offReady()
        offError()
        if (error) reject(error)
        else resolve()
      }
      const timer = this.platform.setTimeout(
        () => done(new Error(`Vane was not ready within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const offReady = this.events.on('ready', () => done())
      const offError = this.events.on('error', (e) => e instanceof HttpError && isRefused(e.status) && done(e))
    })
  }

  get isReady(): boolean {
    return this.ready
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
    return Object.fromEntries(this.values)
  }

  /** Never throws: a missing flag, a type mismatch or no values yet give the default with an error code. */
  details<T>(flagKey: string, defaultValue: T): EvaluationDetails<T> {
    const result = resolve(flagKey, this.values.get(flagKey), defaultValue, this.ready)
    const hook = this.options.onEvaluation
    if (hook !== undefined) {
      try {
        hook(result, this.context)
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
    this.context = context
    this.hash = hash
    this.ready = false
    // a new generation first: nothing still in flight for the old context may land in the new one
    this.source.restart(true)
    const cached = this.cache.read(context)
    if (cached !== undefined) this.replace(cached)
    // bounded like waitForReady: with the server unreachable and nothing cached it must not hang the page
    await this.waitForReady(timeoutMs)
  }

  close(): void {
    this.source.close()
    this.unwatchPage()
    this.events.clear()
  }

  private replace(next: Record<string, FlagValue>): void {
    const changed = new Set([...this.values.keys(), ...Object.keys(next)])
    for (const key of [...changed]) if (same(this.values.get(key), next[key])) changed.delete(key)
    this.values = new Map(Object.entries(next))
    this.settled([...changed])
  }

  private merge(flags: Record<string, FlagValue>, deleted: string[]): void {
    const changed: string[] = []
    for (const [key, value] of Object.entries(flags)) {
      const held = this.values.get(key)
      // a kill is also sent ahead of a backlog; the older patches queued before it must not undo it
      if ((value.version ?? Number.POSITIVE_INFINITY) < (held?.version ?? 0)) continue
      if (!same(held, value)) changed.push(key)
      this.values.set(key, value)
    }
    for (const key of deleted) if (this.values.delete(key)) changed.push(key)
    this.settled(changed)
  }

  private settled(changed: string[]): void {
    this.cache.write(this.context, this.values)
    if (!this.ready || this.stale) {
      this.ready = true
      this.stale = false
      this.events.emit('ready')
    }
    if (changed.length > 0) this.events.emit('change', changed)
  }
}

/** Creates a client and starts streaming values for `context` at once. */
export function createClient(options: ClientOptions): VaneBrowserClient {
  return new VaneBrowserClient(options)
}
