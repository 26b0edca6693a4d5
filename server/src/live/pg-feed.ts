import pg from 'pg'
import type { ChangeRecord, Store } from '../storage/repository.js'
import type { ChangeFeed } from './feed.js'
import type { EvaluatorHub } from './hub.js'

export interface PostgresFeedOptions {
  url: string
  /** The store's schema; the channel is per schema so deployments sharing a database stay apart. */
  schema?: string | undefined
  store: Store
  feed: ChangeFeed
  hub: EvaluatorHub
  /** How often every environment's version is compared with the database, in case a notification was lost. */
  reconcileMs?: number
  onError?: (error: Error) => void
}

/** What `/readyz` needs to know about the feed. */
export interface FeedState {
  connected: boolean
  /** Changes committed in the database and not yet delivered here, summed over environments (as of the last check). */
  behind: number
  since: number
}

/**
 * The change feed across instances on one PostgreSQL: each instance
 * `LISTEN`s, a writer `NOTIFY`s after commit with "environment:version", and
 * every listener reads what it has not seen from the change log, in order.
 * After any reconnect, and every few seconds regardless, each environment's
 * version is compared with the database, so no lost notification loses a change.
 */
export class PostgresFeed {
  private client: pg.Client | undefined
  private readonly channel: string
  private connected = false
  private since = Date.now()
  private behind = 0
  private stopped = false
  private retryMs = 500
  private timer: ReturnType<typeof setInterval> | undefined
  private notifying: Promise<void> = Promise.resolve()

  constructor(private readonly options: PostgresFeedOptions) {
    this.channel = `vane_changes${options.schema === undefined ? '' : `_${options.schema}`}`.slice(0, 63)
  }

  async start(): Promise<void> {
    await this.connect()
    this.timer = setInterval(() => void this.reconcile(), this.options.reconcileMs ?? 2_000)
    this.timer.unref()
  }

  state(): FeedState {
    return { connected: this.connected, behind: this.behind, since: this.since }
  }

  /** After a commit: tell every instance (this one included; it skips what it has). */
  notify(changes: readonly ChangeRecord[]): Promise<void> {
    const latest = new Map<string, number>()
    for (const c of changes) latest.set(c.environment, Math.max(latest.get(c.environment) ?? 0, c.version))
    // one query at a time on the LISTEN connection: pg deprecates overlapping queries on one client
    const next = this.notifying.then(async () => {
      const client = this.client
      if (client === undefined || !this.connected) return // the reconcile loop of the others catches up
      for (const [environment, version] of latest)
        await client.query('SELECT pg_notify($1, $2)', [this.channel, `${environment}:${version}`]).catch(() => {})
    })
    this.notifying = next
    return next
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      ...(this.options.schema !== undefined && { options: `-c search_path=${this.options.schema}` }),
    })
    client.on('notification', (message) => {
      const [environment] = (message.payload ?? '').split(':')
      // a failed read (the database dropped us) is retried by the reconcile loop; it must not crash the process
      if (environment) this.follow(environment).catch((error: Error) => this.options.onError?.(error))
    })
    client.on('error', (error) => this.lost(client, error))
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')))
    try {
      await client.connect()
      await client.query(`LISTEN "${this.channel}"`)
      this.client = client
      this.connected = true
      this.since = Date.now()
      this.retryMs = 500
      await this.reconcile()
    } catch (error) {
      this.lost(client, error as Error)
    }
  }

  private lost(client: pg.Client, error: Error): void {
    if (this.client !== undefined && this.client !== client) return
    if (this.connected) this.since = Date.now()
    this.connected = false
    this.client = undefined
    client.removeAllListeners()
    client.on('error', () => {})
    void client.end().catch(() => {})
    if (this.stopped) return
    this.options.onError?.(error)
    const wait = this.retryMs
    this.retryMs = Math.min(this.retryMs * 2, 10_000)
    setTimeout(() => void this.connect(), wait).unref()
  }

  private async follow(environment: string): Promise<void> {
    if (this.options.hub.get(environment) === undefined) {
      // created on another instance
      const evaluator = await this.options.hub.reload(this.options.store, environment)
      this.options.feed.prime(environment, evaluator.version)
    }
    await this.options.feed.catchUp(environment)
  }

  /** Compares every environment's version with the database and reads what is missing. */
  private async reconcile(): Promise<void> {
    try {
      let behind = 0
      for (const env of await this.options.store.listEnvironments()) {
        if (env.version > this.options.feed.position(env.key) || this.options.hub.get(env.key) === undefined)
          await this.follow(env.key)
        behind += Math.max(0, env.version - this.options.feed.position(env.key))
      }
      this.behind = behind
    } catch (error) {
      this.options.onError?.(error as Error)
    }
  }

  async close(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    const client = this.client
    this.client = undefined
    await client?.end().catch(() => {})
  }
}
