import type { EvaluationResult, Evaluator } from '@vane/engine'
import type { KeyAuthenticator } from '../control/keys.js'
import { VaneError } from '../http/errors.js'
import type { ChangeFeed } from '../live/feed.js'
import type { EvaluatorHub } from '../live/hub.js'
import { changeToPatch } from '../live/patches.js'
import type { ApiKeyRecord, ChangeRecord, Store } from '../storage/repository.js'
import { affectedFlags } from './dependents.js'
import { CohortShipping, cohortPut, replayFromLog, type SdkExpansion, shippedSnapshot } from './shipping.js'
import { type CloseReason, encodeEvent, SseConnection } from './sse.js'

export type StreamKind = 'sdk' | 'client' | 'events'

/** What a client stream sends per flag: the evaluated outcome, never the rules. */
export interface ClientValue {
  value: unknown
  variant?: string
  reason: string
  version?: number
  errorCode?: string
}

export function clientValue(result: EvaluationResult): ClientValue {
  const out: ClientValue = { value: result.value ?? null, reason: result.reason }
  if (result.variant !== undefined) out.variant = result.variant
  if (result.flagVersion !== undefined) out.version = result.flagVersion
  if (result.errorCode !== undefined) out.errorCode = result.errorCode
  return out
}

interface Subscriber {
  kind: StreamKind
  environment: string
  key: ApiKeyRecord
  connection: SseConnection
  /** Highest environment version this subscriber has been sent. */
  version: number
  /** Client streams: the context and what it was last sent, per flag. */
  context?: Record<string, unknown>
  sent?: Map<string, string>
  /** Changes committed while the stream was being primed, sent right after. */
  held: ChangeRecord[] | undefined
}

/** What a client stream compares to decide whether a flag changed for its context. */
function fingerprint(v: ClientValue): string {
  return `${v.variant ?? ''}\u0000${JSON.stringify(v.value)}\u0000${v.errorCode ?? ''}`
}

/** What priming a new stream may do before live changes flow. */
export interface PrimeHandle {
  send(chunk: Uint8Array): void
  /** The environment version the stream is now at; later changes up to it are skipped. */
  setVersion(version: number): void
  /** Client streams: the values just sent, so later patches carry only differences. */
  remember(values: Record<string, ClientValue>): void
}

/**
 * What one key or one client address may hold open. Streams live for hours, so without a cap a single key (client
 * keys are public) or address could pin memory and descriptors until the process fails for everyone.
 */
export interface StreamLimits {
  /** Open streams per key on this instance; 0: no cap. */
  perKey: number
  /** Open streams per client address on this instance; 0: no cap. Behind a proxy every client shares its address. */
  perAddress: number
  /** Largest client-stream request body (its context), in bytes: each stream keeps its context while it is open. */
  contextBytes: number
}

/** The documented defaults (docs/operations.md): at most 10,000 × 32 KiB of contexts per key. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perKey: 10_000, perAddress: 1_000, contextBytes: 32 * 1024 }

/** What {@link Delivery.open} may know about a stream besides its kind, environment and key. */
export interface OpenOptions {
  /** The client's address (the socket's peer), when the runtime tells it. */
  address?: string | undefined
  /** Client streams: the context to evaluate for, and its size as received (counted in {@link Delivery.contextBytes}). */
  context?: Record<string, unknown>
  contextBytes?: number
}

export interface DeliveryOptions {
  /**
   * The change log and key table. A relay, which has neither, hands in its own: its resumes reach back as far as
   * the in-memory ring.
   */
  store: Pick<Store, 'changesSince' | 'getApiKey'>
  hub: EvaluatorHub
  feed: ChangeFeed
  auth: Pick<KeyAuthenticator, 'onRevoke'>
  heartbeatMs?: number
  /** Per-connection queue bound; beyond it a consumer is dropped as too slow. */
  maxQueuedBytes?: number
  /** Changes kept in memory per environment for resuming streams without the database. */
  recentChanges?: number
  /** How often keys of open streams are re-checked, so a revocation on another instance closes them too. */
  keyCheckMs?: number
  /** Caps per key and per address, and the client-stream context limit; default {@link DEFAULT_STREAM_LIMITS}. */
  limits?: Partial<StreamLimits>
  /** A stream refused because its key or address already holds as many as allowed. */
  onRefused?: (kind: StreamKind, cap: 'key' | 'address') => void
  onEventSent?: (kind: StreamKind, count: number) => void
  onDropped?: (kind: StreamKind, reason: CloseReason) => void
  /** Commit → events written, per change. */
  onPropagated?: (seconds: number) => void
}

/** The most changes a resume reads from the change log; further behind, a put is smaller. */
const MAX_LOG_RESUME = 1024

/**
 * Every open stream, per environment: fans each committed change out to the
 * streams of its environment, encoding it once for all server-SDK streams,
 * re-evaluating only affected flags for client streams.
 */
export class Delivery {
  private readonly subscribers = new Map<string, Set<Subscriber>>()
  private readonly recent = new Map<string, ChangeRecord[]>()
  private readonly putCache = new Map<string, { version: number; chunk: Uint8Array }>()
  /** Per environment, which cohorts its server SDKs hold; how each change in the ring reaches them. */
  private readonly shipping = new Map<string, CohortShipping>()
  private readonly expansions = new WeakMap<ChangeRecord, SdkExpansion>()
  private readonly timers: ReturnType<typeof setInterval>[] = []
  private readonly unsubscribe: (() => void)[] = []
  private readonly maxQueuedBytes: number
  private readonly recentChanges: number
  private readonly perKey = new Map<string, number>()
  private readonly perAddress = new Map<string, number>()
  private heldContextBytes = 0
  readonly limits: StreamLimits

  constructor(private readonly options: DeliveryOptions) {
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits }
    this.maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024
    this.recentChanges = options.recentChanges ?? 1024
    // from the versions loaded now, so that every later change is worked out for server SDKs, streams open or not
    for (const environment of options.hub.environments()) {
      const evaluator = options.hub.get(environment)
      if (evaluator !== undefined) this.shipping.set(environment, CohortShipping.from(evaluator))
    }
    this.unsubscribe.push(options.feed.subscribe((change) => this.onChange(change)))
    this.unsubscribe.push(options.auth.onRevoke((key) => this.closeKey(key.id, 'revoked')))
    const heartbeat = setInterval(() => this.heartbeat(), options.heartbeatMs ?? 15_000)
    const keyCheck = setInterval(() => void this.checkKeys(), options.keyCheckMs ?? 5_000)
    heartbeat.unref?.()
    keyCheck.unref?.()
    this.timers.push(heartbeat, keyCheck)
  }

  /** Open streams by kind. */
  counts(): Record<StreamKind, number> {
    const counts = { sdk: 0, client: 0, events: 0 }
    for (const set of this.subscribers.values()) for (const s of set) counts[s.kind]++
    return counts
  }

  /** Bytes of the contexts open client streams hold, as received: what streams pin besides their queues. */
  contextBytes(): number {
    return this.heldContextBytes
  }

  /**
   * Opens a stream. `prime` writes what the subscriber needs before live
   * changes (a `put`, missed changes, evaluated values); changes committed
   * while it runs are held back and sent after it, in order. Throws a 429 `VaneError` when the key or the
   * address already holds as many streams as {@link StreamLimits} allow.
   */
  open(
    kind: StreamKind,
    environment: string,
    key: ApiKeyRecord,
    prime: (stream: PrimeHandle) => Promise<void>,
    options: OpenOptions = {},
  ): SseConnection {
    const { address, context } = options
    this.admit(kind, key.id, address)
    const contextBytes = context === undefined ? 0 : (options.contextBytes ?? 0)
    const subscriber: Subscriber = {
      kind,
      environment,
      key,
      version: 0,
      held: [],
      connection: new SseConnection(this.maxQueuedBytes, (reason) => {
        this.subscribers.get(environment)?.delete(subscriber)
        this.release(key.id, address, contextBytes)
        if (reason !== 'client' && reason !== 'shutdown') this.options.onDropped?.(kind, reason)
      }),
      ...(context !== undefined && { context, sent: new Map() }),
    }
    increment(this.perKey, key.id)
    if (address !== undefined) increment(this.perAddress, address)
    this.heldContextBytes += contextBytes
    const set = this.subscribers.get(environment) ?? new Set()
    this.subscribers.set(environment, set)
    set.add(subscriber)
    if (kind === 'sdk' && !this.shipping.has(environment)) {
      const evaluator = this.options.hub.get(environment)
      if (evaluator !== undefined) this.shipping.set(environment, CohortShipping.from(evaluator))
    }
    const primeDone = prime({
      send: (chunk) => subscriber.connection.send(chunk),
      setVersion: (v) => {
        subscriber.version = v
      },
      remember: (values) => {
        for (const [flagKey, v] of Object.entries(values)) subscriber.sent?.set(flagKey, fingerprint(v))
      },
    })
    primeDone.then(
      () => {
        const held = subscriber.held ?? []
        // not `delete`: that would turn every open stream's subscriber into a slow, larger dictionary object
        subscriber.held = undefined
        for (const change of held) this.deliver(subscriber, change)
      },
      () => subscriber.connection.close('client'),
    )
    return subscriber.connection
  }

  /** Refuses a stream over the key's or the address's cap (checked and counted with no await in between). */
  private admit(kind: StreamKind, keyId: string, address: string | undefined): void {
    const { perKey, perAddress } = this.limits
    const cap =
      perKey > 0 && (this.perKey.get(keyId) ?? 0) >= perKey
        ? 'key'
        : perAddress > 0 && address !== undefined && (this.perAddress.get(address) ?? 0) >= perAddress
          ? 'address'
          : undefined
    if (cap === undefined) return
    this.options.onRefused?.(kind, cap)
    const detail =
      cap === 'key'
        ? `this key already holds ${perKey} open streams on this server, the most one key may: close one, or retry later`
        : `this address already holds ${perAddress} open streams on this server, the most one address may: close one, or retry later`
    throw new VaneError('rate_limited', detail, [], { 'Retry-After': String(STREAM_RETRY_AFTER_S) })
  }

  private release(keyId: string, address: string | undefined, contextBytes: number): void {
    decrement(this.perKey, keyId)
    if (address !== undefined) decrement(this.perAddress, address)
    this.heldContextBytes -= contextBytes
  }

  /** The `put` event for an environment's current snapshot, encoded once per version. */
  putEvent(evaluator: Evaluator): Uint8Array {
    const cached = this.putCache.get(evaluator.environment)
    if (cached?.version === evaluator.version) return cached.chunk
    const chunk = encodeEvent('put', JSON.stringify(shippedSnapshot(evaluator)), evaluator.version)
    this.putCache.set(evaluator.environment, { version: evaluator.version, chunk })
    return chunk
  }

  /**
   * Changes after `after` up to the hub's version, from memory or the change
   * log; undefined when the log no longer reaches back (the caller sends a `put`).
   */
  async missedSince(environment: string, after: number): Promise<ChangeRecord[] | undefined> {
    let current = this.options.hub.get(environment)?.version ?? 0
    if (after > current) {
      // a client moving from an instance that is ahead of this one: read what this one has not seen yet (bounded)
      // rather than send it a put that takes it back in time
      await Promise.race([this.options.feed.catchUp(environment).catch(() => {}), sleep(CATCH_UP_MS)])
      current = this.options.hub.get(environment)?.version ?? 0
      if (after > current) return undefined
    }
    if (after === current) return []
    const ring = this.recent.get(environment) ?? []
    const first = ring[0]
    if (first !== undefined && first.version <= after + 1)
      return ring.filter((c) => c.version > after && c.version <= current)
    // further behind than the ring reaches: a put is smaller than a long history, and needs no database
    if (current - after > Math.max(this.recentChanges, MAX_LOG_RESUME)) return undefined
    try {
      const fromLog = await this.options.store.changesSince(environment, after, current - after)
      const contiguous = fromLog.every((c, i) => c.version === after + 1 + i)
      return contiguous && fromLog.length === current - after ? fromLog : undefined
    } catch {
      // the database is down: streams keep working from memory, with a put
      return undefined
    }
  }

  /**
   * The environment's state was replaced wholesale (a relay received a fresh `put` from its upstream): the ring
   * no longer leads to it, so it is dropped, and the environment's streams are closed; they reconnect and get the
   * new state.
   */
  replaced(environment: string): void {
    this.recent.delete(environment)
    this.putCache.delete(environment)
    this.shipping.delete(environment)
    for (const s of [...(this.subscribers.get(environment) ?? [])]) s.connection.close('replaced')
  }

  private onChange(change: ChangeRecord): void {
    const ring = this.recent.get(change.environment) ?? []
    ring.push(change)
    if (ring.length > this.recentChanges) ring.shift()
    this.recent.set(change.environment, ring)
    this.expand(change)
    const set = this.subscribers.get(change.environment)
    if (set === undefined || set.size === 0) return
    const shared = new Map<StreamKind, Encoded | undefined>()
    let affected: Set<string> | undefined
    const counts = { sdk: 0, client: 0, events: 0 }
    for (const subscriber of set) {
      if (subscriber.held !== undefined) {
        subscriber.held.push(change)
        continue
      }
      if (subscriber.kind === 'client') {
        affected ??= this.affected(change)
        if (this.deliverClient(subscriber, change, affected)) counts.client++
        continue
      }
      if (change.version <= subscriber.version) continue
      if (!shared.has(subscriber.kind)) shared.set(subscriber.kind, this.encode(subscriber.kind, change))
      const encoded = shared.get(subscriber.kind)
      if (encoded === undefined) {
        // this change cannot be sent as a patch (see `expand`): a fresh put can
        subscriber.connection.close('replaced')
        continue
      }
      subscriber.version = change.version
      subscriber.connection.send(encoded.chunk, encoded.ahead)
      counts[subscriber.kind]++
    }
    for (const kind of ['sdk', 'client', 'events'] as const)
      if (counts[kind] > 0) this.options.onEventSent?.(kind, counts[kind])
    this.options.onPropagated?.((Date.now() - Date.parse(change.createdAt)) / 1000)
  }

  private affected(change: ChangeRecord): Set<string> {
    const evaluator = this.options.hub.get(change.environment)
    return evaluator === undefined ? new Set() : affectedFlags(evaluator, change)
  }

  /** A held-back change, after priming. */
  private deliver(subscriber: Subscriber, change: ChangeRecord): void {
    if (change.version <= subscriber.version) return
    if (subscriber.kind === 'client') {
      this.deliverClient(subscriber, change, this.affected(change))
      return
    }
    const encoded = this.encode(subscriber.kind, change)
    if (encoded === undefined) {
      subscriber.connection.close('replaced')
      return
    }
    subscriber.version = change.version
    subscriber.connection.send(encoded.chunk, encoded.ahead)
  }

  /**
   * Works out how `change` reaches server SDKs, once per change whether or not a stream is open, so that resumes from
   * the ring send the same. A change this environment's state cannot follow (it was loaded from a newer evaluator,
   * or a change never reached it) has none: streams behind it get a put.
   */
  private expand(change: ChangeRecord): void {
    const environment = change.environment
    let state = this.shipping.get(environment)
    if (state !== undefined && change.version <= state.version) return
    if (state === undefined || change.version !== state.version + 1) {
      const evaluator = this.options.hub.get(environment)
      if (evaluator === undefined) return
      state = CohortShipping.from(evaluator)
      this.shipping.set(environment, state)
      if (change.version !== state.version + 1) return
    }
    this.expansions.set(change, state.advance(change, changeToPatch(change), this.options.hub.get(environment)))
  }

  /** The wire form of one change for one kind of stream; undefined when server SDKs need a put instead. */
  private encode(kind: StreamKind, change: ChangeRecord): Encoded | undefined {
    if (kind === 'events') return encodeEvents(change)
    const expansion = this.expansions.get(change)
    if (expansion === undefined) return undefined
    return encodeSdk(change, expansion, this.options.hub.get(change.environment))
  }

  /**
   * Server-SDK events for changes a stream missed, from `missedSince`, in one chunk; undefined when one of them is not
   * in this instance's ring with its expansion (read from the change log): the caller sends a put.
   */
  sdkEvents(missed: readonly ChangeRecord[]): Uint8Array | undefined {
    const first = missed[0]
    if (first === undefined) return new Uint8Array(0)
    const latest = this.options.hub.get(first.environment)
    const chunks: Uint8Array[] = []
    for (const change of missed) {
      const expansion = this.expansions.get(change)
      if (expansion === undefined) return this.fromLog(missed, latest)
      chunks.push(encodeSdk(change, expansion, latest).chunk)
    }
    return concat(chunks)
  }

  /** Changes read from the change log, which this instance never worked out: see {@link replayFromLog}. */
  private fromLog(missed: readonly ChangeRecord[], latest: Evaluator | undefined): Uint8Array | undefined {
    if (latest === undefined) return undefined
    const patches = replayFromLog(missed, missed.map(changeToPatch), latest)
    if (patches === undefined) return undefined
    return concat(
      patches.map((p, i) => encodeEvent(p.op === 'delete' ? 'delete' : 'patch', JSON.stringify(p), missed[i]!.version)),
    )
  }

  /** Sends a client stream only the flags whose value or variant changed for its context. */
  private deliverClient(subscriber: Subscriber, change: ChangeRecord, affected: Set<string>): boolean {
    if (change.version <= subscriber.version) return false
    subscriber.version = change.version
    const evaluator = this.options.hub.get(subscriber.environment)
    if (evaluator === undefined || subscriber.sent === undefined) return false
    const changed: Record<string, ClientValue> = {}
    const deleted: string[] = []
    for (const flagKey of affected) {
      if (!evaluator.has(flagKey) || evaluator.flag(flagKey)?.archived) {
        if (subscriber.sent.delete(flagKey)) deleted.push(flagKey)
        continue
      }
      const value = clientValue(evaluator.evaluate(flagKey, subscriber.context))
      const print = fingerprint(value)
      if (subscriber.sent.get(flagKey) === print) continue
      subscriber.sent.set(flagKey, print)
      changed[flagKey] = value
    }
    if (change.entity === 'flag' && change.op === 'delete' && subscriber.sent.delete(change.key))
      deleted.push(change.key)
    if (Object.keys(changed).length === 0 && deleted.length === 0) return false
    const data = JSON.stringify({ flags: changed, ...(deleted.length > 0 && { deleted }) })
    const ahead = isKill(change) ? encodeEvent('patch', data) : undefined
    subscriber.connection.send(encodeEvent('patch', data, change.version), ahead)
    return true
  }

  private heartbeat(): void {
    for (const set of this.subscribers.values()) for (const s of [...set]) s.connection.heartbeat()
  }

  private closeKey(keyId: string, reason: CloseReason): void {
    for (const set of this.subscribers.values())
      for (const s of [...set]) if (s.key.id === keyId) s.connection.close(reason)
  }

  /** Closes streams whose key was revoked elsewhere (another instance, or directly in the database). */
  private async checkKeys(): Promise<void> {
    const ids = new Set<string>()
    for (const set of this.subscribers.values()) for (const s of set) ids.add(s.key.id)
    for (const id of ids) {
      const key = await this.options.store.getApiKey(id).catch(() => undefined)
      if (key !== undefined && key.revokedAt !== null) this.closeKey(id, 'revoked')
    }
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer)
    for (const off of this.unsubscribe) off()
    for (const set of this.subscribers.values()) for (const s of [...set]) s.connection.close('shutdown')
  }
}

/** Seconds a stream refused over a cap is told to wait: streams are long-lived, so slots free up slowly. */
const STREAM_RETRY_AFTER_S = 30

function increment(counts: Map<string, number>, id: string): void {
  counts.set(id, (counts.get(id) ?? 0) + 1)
}

function decrement(counts: Map<string, number>, id: string): void {
  const n = (counts.get(id) ?? 0) - 1
  if (n > 0) counts.set(id, n)
  else counts.delete(id)
}

/** How long a resume from the future waits for this instance to catch up before it gets a `put`. */
const CATCH_UP_MS = 2_000
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    timer.unref?.()
  })

function isKill(change: ChangeRecord): boolean {
  return (
    change.entity === 'flag' && change.op === 'put' && (change.payload as { killed?: boolean } | null)?.killed === true
  )
}

interface Encoded {
  chunk: Uint8Array
  /** For kills: the same event without an id, sent ahead of any backlog. */
  ahead?: Uint8Array
}

/** A change on OFREP event streams: only that something changed. */
function encodeEvents(change: ChangeRecord): Encoded {
  const data = JSON.stringify({
    type: 'refetchEvaluation',
    etag: String(change.version),
    lastModified: Math.floor(Date.parse(change.createdAt) / 1000),
  })
  return { chunk: encodeEvent('message', data, change.version) }
}

/**
 * A change on server-SDK streams, as one chunk: cohorts it brings in (whole, without an id), the change itself (with
 * the id, so a client that stops half-way resumes before it and gets them all again), cohorts it leaves unused
 * (without an id: at worst a client keeps one it no longer needs).
 */
function encodeSdk(change: ChangeRecord, expansion: SdkExpansion, latest: Evaluator | undefined): Encoded {
  const { main } = expansion
  const event = main.op === 'delete' ? 'delete' : 'patch'
  const data = JSON.stringify(main)
  const chunk = encodeEvent(event, data, change.version)
  // a kill changes no reference, so it never brings cohorts along: sent ahead, it stands alone
  const ahead = isKill(change) && expansion.puts.length === 0 ? encodeEvent(event, data) : undefined
  if (expansion.puts.length === 0 && expansion.deletes.length === 0)
    return { chunk, ...(ahead !== undefined && { ahead }) }
  const before = expansion.puts.map((d) => encodeEvent('patch', JSON.stringify(cohortPut(d, latest))))
  const after = expansion.deletes.map((key) =>
    encodeEvent('delete', JSON.stringify({ op: 'delete', kind: 'cohort', key })),
  )
  return { chunk: concat([...before, chunk, ...after]), ...(ahead !== undefined && { ahead }) }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    all.set(chunk, offset)
    offset += chunk.byteLength
  }
  return all
}
