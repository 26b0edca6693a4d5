import { Backoff, Emitter, readSse, type SseEvent } from '@vane/sdk-core'

/** One flag's evaluated outcome, as the server sends it. */
export interface FlagValue {
  value: unknown
  variant?: string
  reason: string
  version?: number
  errorCode?: string
}

/** What a `…Details` getter returns. */
export interface EvaluationDetails<T> {
  flagKey: string
  value: T
  variant?: string | undefined
  reason: string
  errorCode?: string | undefined
  flagVersion?: number | undefined
}

export type Context = { targetingKey?: string } & Record<string, unknown>

export interface ClientEvents extends Record<string, unknown[]> {
  /** Values for the current context are loaded; again after `stale`, once fresh values arrive. */
  ready: []
  change: [flagKeys: string[]]
  stale: [error: Error]
  error: [error: Error]
}

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
  storage?: Pick<Storage, 'getItem' | 'setItem'> | undefined
  /** A number in [0, 1), for jitter; injectable for tests. */
  random?: (() => number) | undefined
}

const CACHE_PREFIX = 'vane:'
/** The server pings every 15 s; a stream silent this long is dead (a half-open connection after sleep, a proxy). */
const SILENCE_MS = 45_000

/** An error carrying the HTTP status; 401 and 403 mean the key is refused, which no retry fixes. */
const failure = (message: string, status: number) => Object.assign(new Error(message), { status })
const refused = (status?: number) => status === 401 || status === 403

/** A stable, order-independent text of a context, so equal contexts share one cache entry. */
function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
}

const typeOf = (v: unknown) => (Array.isArray(v) ? 'object' : v === null ? 'null' : typeof v)

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
  private readonly backoff: Backoff
  private abort: AbortController | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private hiddenTimer: ReturnType<typeof setTimeout> | undefined
  private etag: string | undefined
  private ready = false
  private stale = false
  private closed = false
  private generation = 0
  private readonly fetch: typeof fetch
  private readonly onVisibility = () => this.visibilityChanged()
  private readonly onOnline = () => this.reconnect(0)

  constructor(private readonly options: ClientOptions) {
    this.context = options.context
    this.hash = options.hash
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.backoff = new Backoff({ random: options.random })
    const initial = options.bootstrap ?? this.readCache()
    if (initial !== undefined) this.replace(initial)
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', this.onVisibility)
    if (typeof window !== 'undefined') window.addEventListener('online', this.onOnline)
    this.connect()
  }

  on<E extends keyof ClientEvents>(event: E, listener: (...args: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener)
  }

  /**
   * Resolves once values for the current context are loaded (cache and bootstrap count); rejects after
   * `timeoutMs`, or at once when the key is refused.
   */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    return this.loaded(timeoutMs)
  }

  private loaded(timeoutMs?: number): Promise<void> {
    if (this.ready) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer)
        offReady()
        offError()
        if (error) reject(error)
        else resolve()
      }
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => done(new Error(`Vane was not ready within ${timeoutMs} ms`)), timeoutMs)
      const offReady = this.events.on('ready', () => done())
      const offError = this.events.on('error', (e) => refused((e as { status?: number }).status) && done(e))
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
    const result = this.resolve(flagKey, defaultValue)
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

  private resolve<T>(flagKey: string, defaultValue: T): EvaluationDetails<T> {
    const hit = this.values.get(flagKey)
    if (hit === undefined) {
      const errorCode = this.ready ? 'FLAG_NOT_FOUND' : 'PROVIDER_NOT_READY'
      return { flagKey, value: defaultValue, reason: 'ERROR', errorCode }
    }
    if (hit.errorCode !== undefined) return { flagKey, value: defaultValue, reason: 'ERROR', errorCode: hit.errorCode }
    if (typeOf(hit.value) !== typeOf(defaultValue))
      return { flagKey, value: defaultValue, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' }
    return { flagKey, value: hit.value as T, variant: hit.variant, reason: hit.reason, flagVersion: hit.version }
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
    this.etag = undefined
    // a new generation first: nothing still in flight for the old context may land in the new one
    this.reconnect(0)
    const cached = this.readCache()
    if (cached !== undefined) this.replace(cached)
    // bounded like waitForReady: with the server unreachable and nothing cached it must not hang the page
    await this.loaded(timeoutMs)
  }

  close(): void {
    this.closed = true
    this.abort?.abort()
    clearTimeout(this.timer)
    clearTimeout(this.hiddenTimer)
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this.onVisibility)
    if (typeof window !== 'undefined') window.removeEventListener('online', this.onOnline)
    this.events.clear()
  }

  private reconnect(delayMs: number): void {
    this.generation++
    this.abort?.abort()
    clearTimeout(this.timer)
    if (!this.closed) this.timer = setTimeout(() => this.connect(), delayMs)
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.clientKey}`, 'content-type': 'application/json' }
  }

  private connect(): void {
    if (this.closed) return
    const generation = this.generation
    if (this.options.pollOnly) {
      void this.poll(generation)
      return
    }
    const abort = new AbortController()
    this.abort = abort
    let silent = false
    let watchdog: ReturnType<typeof setTimeout> | undefined
    const alive = () => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => {
        silent = true
        abort.abort()
      }, SILENCE_MS)
    }
    const stream = async () => {
      alive()
      const response = await this.fetch(`${this.options.url}/client/v1/stream`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ context: this.context, hash: this.hash }),
        signal: abort.signal,
      })
      if (!response.ok || response.body === null) throw failure(`stream answered ${response.status}`, response.status)
      this.backoff.succeeded(Date.now())
      await readSse(response.body, {
        onEvent: (e) => {
          if (generation !== this.generation) return
          // data arrived: earlier failures are forgiven, so streams closed on purpose do not lead to polling
          this.backoff.reset()
          this.handle(e)
        },
        onActivity: alive,
      })
      throw new Error('stream ended')
    }
    stream()
      .catch((error: Error & { status?: number }) => {
        if (this.closed || (abort.signal.aborted && !silent)) return
        if (refused(error.status)) return this.fatal(error.status)
        this.markStale(silent ? new Error(`stream silent for ${SILENCE_MS} ms`) : error)
        const wait = this.backoff.failed(Date.now())
        // a stream that keeps failing: poll OFREP until it comes back
        if (this.backoff.failures >= 3)
          void this.poll(generation).then(() => generation === this.generation && this.reconnect(wait))
        else this.reconnect(wait)
      })
      .finally(() => clearTimeout(watchdog))
  }

  private fatal(status?: number): void {
    this.events.emit('error', failure(`the client key was refused (${status}); not retrying`, status ?? 0))
  }

  private markStale(error: Error): void {
    this.stale = true
    this.events.emit('stale', error)
  }

  private handle(event: SseEvent): void {
    try {
      const data = JSON.parse(event.data) as { flags?: Record<string, FlagValue>; deleted?: string[] }
      if (event.event === 'put') this.replace(data.flags ?? {})
      else if (event.event === 'patch') this.merge(data.flags ?? {}, data.deleted ?? [])
    } catch (error) {
      this.events.emit('error', error as Error)
    }
  }

  /**
   * OFREP bulk evaluation with ETag: the fallback when the stream is unavailable. An answer that arrives after
   * the context changed (a later generation) is dropped.
   */
  private async poll(generation: number): Promise<void> {
    let again = this.options.pollOnly
    try {
      const response = await this.fetch(`${this.options.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: {
          ...this.headers(),
          ...(this.etag !== undefined && { 'if-none-match': this.etag }),
          ...(this.hash !== undefined && { 'x-vane-hash': this.hash }),
        },
        body: JSON.stringify({ context: this.context }),
      })
      if (generation !== this.generation) return
      if (response.status === 304) return this.settled([])
      if (!response.ok) throw failure(`evaluation answered ${response.status}`, response.status)
      const etag = response.headers.get('etag') ?? undefined
      const body = (await response.json()) as {
        flags: ({ key: string } & FlagValue & { metadata?: { version?: number } })[]
      }
      if (generation !== this.generation) return
      this.etag = etag
      const values: Record<string, FlagValue> = {}
      for (const f of body.flags)
        values[f.key] = {
          value: f.value,
          reason: f.reason ?? 'ERROR',
          ...(f.variant !== undefined && { variant: f.variant }),
          ...(f.metadata?.version !== undefined && { version: f.metadata.version }),
          ...(f.errorCode !== undefined && { errorCode: f.errorCode }),
        }
      this.replace(values)
    } catch (error) {
      if (generation !== this.generation) return
      const status = (error as { status?: number }).status
      if (refused(status)) {
        again = false
        return this.fatal(status)
      }
      this.events.emit('error', error as Error)
    } finally {
      if (again && generation === this.generation && !this.closed)
        this.timer = setTimeout(() => void this.poll(generation), this.options.pollIntervalMs ?? 30_000)
    }
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
    this.writeCache()
    if (!this.ready || this.stale) {
      this.ready = true
      this.stale = false
      this.events.emit('ready')
    }
    if (changed.length > 0) this.events.emit('change', changed)
  }

  private cacheKey(): string {
    return `${CACHE_PREFIX}${this.options.clientKey.slice(-8)}:${canonical(this.context)}`
  }

  private storage(): Pick<Storage, 'getItem' | 'setItem'> | undefined {
    if (this.options.cache === false) return undefined
    try {
      return this.options.storage ?? globalThis.localStorage
    } catch {
      return undefined // storage disabled by the browser
    }
  }

  /** Values cached for exactly this context; another context's are never used. */
  private readCache(): Record<string, FlagValue> | undefined {
    try {
      const text = this.storage()?.getItem(this.cacheKey())
      return text ? (JSON.parse(text) as Record<string, FlagValue>) : undefined
    } catch {
      return undefined
    }
  }

  private writeCache(): void {
    try {
      this.storage()?.setItem(this.cacheKey(), JSON.stringify(Object.fromEntries(this.values)))
    } catch {
      // full or disabled storage: the cache is an optimisation
    }
  }

  private visibilityChanged(): void {
    clearTimeout(this.hiddenTimer)
    if (document.visibilityState === 'hidden')
      this.hiddenTimer = setTimeout(() => this.abort?.abort(), this.options.inactivityMs ?? 120_000)
    else if (this.abort?.signal.aborted) this.reconnect(0)
  }
}

function same(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.variant === b.variant && a.errorCode === b.errorCode && canonical(a.value) === canonical(b.value)
}

/** Creates a client and starts streaming values for `context` at once. */
export function createClient(options: ClientOptions): VaneBrowserClient {
  return new VaneBrowserClient(options)
}
