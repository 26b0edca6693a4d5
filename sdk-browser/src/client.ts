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
  ready: []
  change: [flagKeys: string[]]
  stale: [error: Error]
  error: [error: Error]
}

/** Options for {@link createClient}. */
export interface ClientOptions {
  /** The Vane server, e.g. `https://flags.example.com`. */
  url: string
  /** A client key: publishable, and limited to its allowed origins. */
  clientKey: string
  context: Context
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
  private readonly events = new Emitter<ClientEvents>()
  private readonly backoff: Backoff
  private abort: AbortController | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private hiddenTimer: ReturnType<typeof setTimeout> | undefined
  private etag: string | undefined
  private ready = false
  private closed = false
  private generation = 0
  private readonly fetch: typeof fetch
  private readonly onVisibility = () => this.visibilityChanged()
  private readonly onOnline = () => this.reconnect(0)

  constructor(private readonly options: ClientOptions) {
    this.context = options.context
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

  /** Resolves once values for the current context are loaded (cache and bootstrap count). */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Vane was not ready within ${timeoutMs} ms`)), timeoutMs)
      const off = this.events.on('ready', () => {
        clearTimeout(timer)
        off()
        resolve()
      })
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

  /** Switches to another user: the stream restarts with the new context; `change` names what differs. */
  async identify(context: Context): Promise<void> {
    this.context = context
    this.ready = false
    this.etag = undefined
    const cached = this.readCache()
    if (cached !== undefined) this.replace(cached)
    const loaded = new Promise<void>((resolve) => {
      const off = this.events.on('ready', () => {
        off()
        resolve()
      })
    })
    this.reconnect(0)
    await loaded
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
    this.abort?.abort()
    clearTimeout(this.timer)
    if (!this.closed) this.timer = setTimeout(() => this.connect(), delayMs)
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.clientKey}`, 'content-type': 'application/json' }
  }

  private connect(): void {
    if (this.closed) return
    if (this.options.pollOnly) {
      void this.poll()
      return
    }
    const generation = ++this.generation
    const abort = new AbortController()
    this.abort = abort
    const stream = async () => {
      const response = await this.fetch(`${this.options.url}/client/v1/stream`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({ context: this.context }),
        signal: abort.signal,
      })
      if (!response.ok || response.body === null)
        throw Object.assign(new Error(`stream answered ${response.status}`), { status: response.status })
      this.backoff.succeeded(Date.now())
      await readSse(response.body, { onEvent: (e) => generation === this.generation && this.handle(e) })
      throw new Error('stream ended')
    }
    stream().catch((error: Error & { status?: number }) => {
      if (this.closed || abort.signal.aborted) return
      if (error.status === 401 || error.status === 403) {
        this.events.emit('error', new Error(`the client key was refused (${error.status}); not retrying`))
        return
      }
      this.events.emit('stale', error)
      const wait = this.backoff.failed(Date.now())
      // a stream that keeps failing: poll OFREP until it comes back
      if (this.backoff.failures >= 3) void this.poll().then(() => this.reconnect(wait))
      else this.reconnect(wait)
    })
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

  /** OFREP bulk evaluation with ETag: the fallback when the stream is unavailable. */
  private async poll(): Promise<void> {
    try {
      const response = await this.fetch(`${this.options.url}/ofrep/v1/evaluate/flags`, {
        method: 'POST',
        headers: { ...this.headers(), ...(this.etag !== undefined && { 'if-none-match': this.etag }) },
        body: JSON.stringify({ context: this.context }),
      })
      if (response.status === 304) return
      if (!response.ok) throw new Error(`evaluation answered ${response.status}`)
      this.etag = response.headers.get('etag') ?? undefined
      const body = (await response.json()) as {
        flags: ({ key: string } & FlagValue & { metadata?: { version?: number } })[]
      }
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
      this.events.emit('error', error as Error)
    } finally {
      if (this.options.pollOnly && !this.closed)
        this.timer = setTimeout(() => void this.poll(), this.options.pollIntervalMs ?? 30_000)
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
      if (!same(this.values.get(key), value)) changed.push(key)
      this.values.set(key, value)
    }
    for (const key of deleted) if (this.values.delete(key)) changed.push(key)
    this.settled(changed)
  }

  private settled(changed: string[]): void {
    this.writeCache()
    if (!this.ready) {
      this.ready = true
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
