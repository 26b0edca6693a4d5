import { murmur3 } from '@vane/engine'
import { LRUCache } from 'lru-cache'
import { entryBytes, KNOWN_KEYS_CACHE_BYTES, UNKNOWN_KEYS_CACHE_BYTES } from '../control/keys.js'
import { constantTimeEqual, hashSecret, secretPrefix } from '../control/secrets.js'
import { VaneError } from '../http/errors.js'
import type { ApiKeyRecord } from '../storage/repository.js'

/** The answer for one secret (and origin): a key, or why not. */
export interface KeyVerdict {
  key: ApiKeyRecord | undefined
  /** 401: unknown or revoked upstream; 403: a key the relay cannot serve (admin, another environment, origin). */
  status: 200 | 401 | 403
  detail: string
}

export interface RelayKeysOptions {
  upstream: string
  /** The relay's own server key: always accepted for the mirrored environment, never sent back upstream to check. */
  sdkKey: string
  /** The mirrored environment and its version, once the first snapshot is in. */
  current: () => { environment: string; version: number } | undefined
  /** How long a verified key is trusted before it is checked again. Default 60 s. */
  ttlMs?: number
  /** How long a rejection is remembered (so a bad key cannot make the relay hammer the upstream). Default 5 s. */
  rejectTtlMs?: number
  /** Per upstream request. Default 5 s. */
  timeoutMs?: number
  fetch?: typeof fetch
  now?: () => number
  /** Bytes for keys the upstream accepted. Default 16 MiB. */
  knownBytes?: number
  /** Bytes for rejections (hashes only, never the secret). Default 4 MiB. */
  rejectedBytes?: number
}

interface Entry {
  verdict: KeyVerdict
  at: number
  secret: string
  origin: string | undefined
}

/** Upstream unreachable or failing: says nothing about the key. */
class UpstreamUnavailable extends Error {}

const RELAY_KEY_ID = 'relay'

/**
 * Keys for a relay, which has no key table. It accepts its own server key, and any server or client key of the
 * mirrored environment that the upstream accepts: the first request with a key asks the upstream once (a
 * snapshot request, then, if that is refused, a bulk OFREP evaluation carrying the request's `Origin`), and the
 * answer is kept for a minute; rejections for 5 s; upstream failures not at all. While the upstream is
 * unreachable, keys verified before keep working, and unknown keys get 503. Accepted keys and rejections are
 * cached apart, each bounded in bytes, so no flood of junk secrets evicts a verified key.
 */
export class RelayKeys {
  /** By the secret's hash and the origin: keys the upstream accepted. */
  private readonly known: LRUCache<string, Entry>
  /** By the secret's hash and the origin: refusals, without the secret. */
  private readonly rejected: LRUCache<string, { verdict: KeyVerdict; at: number }>
  private readonly byId = new Map<string, Entry>()
  private readonly inflight = new Map<string, Promise<KeyVerdict>>()
  private readonly listeners = new Set<(key: ApiKeyRecord) => void>()
  private readonly ttlMs: number
  private readonly rejectTtlMs: number
  private readonly now: () => number
  private readonly fetch: typeof fetch
  private ownHash: Promise<string> | undefined

  constructor(private readonly options: RelayKeysOptions) {
    this.ttlMs = options.ttlMs ?? 60_000
    this.rejectTtlMs = options.rejectTtlMs ?? 5_000
    this.now = options.now ?? Date.now
    this.fetch = options.fetch ?? globalThis.fetch
    this.known = new LRUCache({
      maxSize: options.knownBytes ?? KNOWN_KEYS_CACHE_BYTES,
      sizeCalculation: (entry, id) => entryBytes(id, entry.verdict.key) + 2 * entry.secret.length,
      // an evicted key is checked upstream again when an open stream asks for it by id
      dispose: (entry) => {
        const keyId = entry.verdict.key?.id
        if (keyId !== undefined && this.byId.get(keyId) === entry) this.byId.delete(keyId)
      },
    })
    this.rejected = new LRUCache({
      maxSize: options.rejectedBytes ?? UNKNOWN_KEYS_CACHE_BYTES,
      sizeCalculation: (entry, id) => entryBytes(id, undefined) + 2 * entry.verdict.detail.length,
    })
  }

  /** The key for a secret, as seen from `origin` (a browser's); throws 503 when the upstream cannot be asked. */
  async authenticate(secret: string, origin: string | undefined): Promise<KeyVerdict> {
    const current = this.options.current()
    if (current === undefined)
      throw new VaneError('unavailable', 'the relay has no snapshot from its upstream yet', [], { 'Retry-After': '1' })
    const hash = await hashSecret(secret)
    this.ownHash ??= hashSecret(this.options.sdkKey)
    if (constantTimeEqual(hash, await this.ownHash))
      return { key: this.own(current.environment), status: 200, detail: '' }
    const id = `${hash}\u0000${origin ?? ''}`
    const hit = this.known.get(id) ?? this.rejected.get(id)
    const age = hit === undefined ? Number.POSITIVE_INFINITY : this.now() - hit.at
    if (hit !== undefined && age < (hit.verdict.status === 200 ? this.ttlMs : this.rejectTtlMs)) return hit.verdict
    try {
      return await this.verify(id, hash, secret, origin)
    } catch (error) {
      if (!(error instanceof UpstreamUnavailable)) throw error
      // the upstream is down: what it accepted before stays accepted, so evaluation keeps serving
      if (hit?.verdict.status === 200) return hit.verdict
      throw new VaneError('unavailable', `cannot verify this key: ${error.message}`, [], { 'Retry-After': '5' })
    }
  }

  /** Whether the upstream accepted this secret from `origin` before (memory only, no upstream request). */
  async recognised(secret: string, origin: string | undefined): Promise<boolean> {
    const hash = await hashSecret(secret)
    this.ownHash ??= hashSecret(this.options.sdkKey)
    if (constantTimeEqual(hash, await this.ownHash)) return true
    return this.known.peek(`${hash}\u0000${origin ?? ''}`) !== undefined
  }

  /** For open streams and OFREP event tokens: the key with this id, re-checked upstream once its answer is old. */
  async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
    const current = this.options.current()
    if (id === RELAY_KEY_ID) return current === undefined ? undefined : this.own(current.environment)
    const entry = this.byId.get(id)
    if (entry === undefined) return undefined
    const key = entry.verdict.key
    if (key === undefined || this.now() - entry.at < this.ttlMs) return key
    try {
      const verdict = await this.authenticate(entry.secret, entry.origin)
      if (verdict.key !== undefined) return verdict.key
      const revoked = { ...key, revokedAt: new Date(this.now()).toISOString() }
      for (const listener of this.listeners) listener(revoked)
      return revoked
    } catch {
      return key
    }
  }

  onRevoke(listener: (key: ApiKeyRecord) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private own(environment: string): ApiKeyRecord {
    return {
      id: RELAY_KEY_ID,
      name: 'relay',
      kind: 'server',
      environment,
      hash: '',
      prefix: secretPrefix(this.options.sdkKey),
      allowedOrigins: [],
      secureModeSecret: null,
      createdAt: new Date(0).toISOString(),
      revokedAt: null,
    }
  }

  private verify(id: string, hash: string, secret: string, origin: string | undefined): Promise<KeyVerdict> {
    const running = this.inflight.get(id)
    if (running !== undefined) return running
    const verifying = this.ask(hash, secret, origin)
      .then((verdict) => {
        if (verdict.key === undefined) {
          this.known.delete(id)
          this.rejected.set(id, { verdict, at: this.now() })
          return verdict
        }
        const entry: Entry = { verdict, at: this.now(), secret, origin }
        this.rejected.delete(id)
        this.known.set(id, entry)
        this.byId.set(verdict.key.id, entry)
        return verdict
      })
      .finally(() => this.inflight.delete(id))
    this.inflight.set(id, verifying)
    return verifying
  }

  /** Asks the upstream what this secret is. */
  private async ask(hash: string, secret: string, origin: string | undefined): Promise<KeyVerdict> {
    const current = this.options.current()
    if (current === undefined) throw new UpstreamUnavailable('no snapshot yet')
    const { environment } = current
    const record = (kind: 'server' | 'client'): ApiKeyRecord => ({
      // one id per key and origin (a client key's allowed origins are learnt one at a time), the same on every relay
      id: `relay:${hash.slice(0, 24)}${origin === undefined ? '' : `:${murmur3(origin).toString(36)}`}`,
      name: `${kind} ${secretPrefix(secret)}… (verified upstream)`,
      kind,
      environment,
      hash,
      prefix: secretPrefix(secret),
      allowedOrigins: origin === undefined ? [] : [origin],
      // a relay cannot check secure-mode hashes: such keys are refused upstream by the probe (no targetingKey)
      secureModeSecret: null,
      createdAt: new Date(this.now()).toISOString(),
      revokedAt: null,
    })
    const otherEnvironment: KeyVerdict = {
      key: undefined,
      status: 403,
      detail: `this key is not for "${environment}", the environment this relay mirrors`,
    }

    // a server key may read the snapshot; If-None-Match keeps the answer small when the relay is current
    const snapshot = await this.call('/sdk/v1/snapshot', {
      method: 'GET',
      headers: { authorization: `Bearer ${secret}`, 'if-none-match': `"${environment}-${current.version}"` },
    })
    if (snapshot.status === 200 || snapshot.status === 304) {
      const etag = snapshot.headers.get('etag') ?? ''
      const mine = new RegExp(`^"${environment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+"$`).test(etag)
      return mine ? { key: record('server'), status: 200, detail: '' } : otherEnvironment
    }
    if (snapshot.status === 401) return { key: undefined, status: 401, detail: 'this API key is unknown or revoked' }
    if (snapshot.status !== 403) throw new UpstreamUnavailable(`the upstream answered ${snapshot.status}`)

    // not a server key: a client key evaluates (from the request's origin, which the upstream checks)
    const bulk = await this.call('/ofrep/v1/evaluate/flags', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        ...(origin !== undefined && { origin }),
      },
      body: '{"context":{}}',
    })
    if (bulk.status === 200) {
      const flagSetId = (bulk.json as { metadata?: { flagSetId?: unknown } } | undefined)?.metadata?.flagSetId
      return flagSetId === environment ? { key: record('client'), status: 200, detail: '' } : otherEnvironment
    }
    if (bulk.status === 401) return { key: undefined, status: 401, detail: 'this API key is unknown or revoked' }
    if (bulk.status === 403)
      return {
        key: undefined,
        status: 403,
        detail:
          origin === undefined
            ? 'a relay accepts server keys, and client keys not in secure mode'
            : `a relay accepts server keys, and client keys not in secure mode allowed from ${origin}`,
      }
    throw new UpstreamUnavailable(`the upstream answered ${bulk.status}`)
  }

  private async call(path: string, init: RequestInit): Promise<{ status: number; headers: Headers; json: unknown }> {
    let res: Response
    try {
      res = await this.fetch(new URL(path, this.options.upstream), {
        ...init,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5_000),
      })
    } catch (error) {
      throw new UpstreamUnavailable(`the upstream is unreachable (${error instanceof Error ? error.message : error})`)
    }
    if (res.status !== 200 || !path.startsWith('/ofrep/')) {
      await res.body?.cancel().catch(() => {})
      return { status: res.status, headers: res.headers, json: undefined }
    }
    const text = await res.text().catch(() => '')
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, json }
  }
}
