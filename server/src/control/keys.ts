import type { JsonValue } from '@vane/engine'
import { LRUCache } from 'lru-cache'
import { VaneError } from '../http/errors.js'
import type { ApiKeyRecord, Store } from '../storage/repository.js'
import { type Actor, type ControlDeps, write } from './batch.js'
import type { KeyInput } from './schemas.js'
import { constantTimeEqual, hashSecret, randomSecret, secretPrefix } from './secrets.js'

/** A key as listings show it: never the hash or the secure-mode secret, only whether there is one. */
export type PublicKey = Omit<ApiKeyRecord, 'hash' | 'secureModeSecret'> & { secureMode: boolean }

export function publicKey(record: ApiKeyRecord): PublicKey {
  const { hash: _hash, secureModeSecret, ...rest } = record
  return { ...rest, secureMode: secureModeSecret !== null }
}

/**
 * Creates a key; the secret (and a client key's secure-mode secret) is returned here once and never again.
 */
export async function createKey(
  deps: ControlDeps,
  actor: Actor,
  input: KeyInput,
): Promise<{ key: PublicKey; secret: string; secureModeSecret?: string }> {
  const secret = randomSecret(`vane_${input.kind}_`)
  const secureModeSecret = input.secureMode === true ? randomSecret('vane_secure_') : null
  const record: ApiKeyRecord = {
    id: crypto.randomUUID(),
    name: input.name,
    kind: input.kind,
    environment: input.environment ?? null,
    hash: await hashSecret(secret),
    prefix: secretPrefix(secret),
    allowedOrigins: input.allowedOrigins?.map((o) => (o === 'null' ? o : new URL(o).origin)) ?? [],
    secureModeSecret,
    createdAt: '',
    revokedAt: null,
  }
  await write(deps, actor, [], async (batch) => {
    if (record.environment !== null && (await batch.tx.getEnvironment(record.environment)) === undefined)
      throw new VaneError('validation', `environment "${record.environment}" does not exist`, [
        { pointer: '/environment', message: 'unknown environment' },
      ])
    record.createdAt = batch.now
    await batch.tx.insertApiKey(record)
    await batch.audit({
      action: 'key.create',
      entityType: 'key',
      entityKey: record.id,
      environment: record.environment,
      before: null,
      after: publicKey(record) as unknown as JsonValue,
    })
  })
  return { key: publicKey(record), secret, ...(secureModeSecret !== null && { secureModeSecret }) }
}

export async function revokeKey(
  deps: ControlDeps,
  actor: Actor,
  id: string,
  auth: KeyAuthenticator,
): Promise<PublicKey> {
  const revoked = await write(deps, actor, [], async (batch) => {
    const current = await batch.tx.getApiKey(id)
    if (current === undefined) throw new VaneError('not_found', `key "${id}" does not exist`)
    if (current.revokedAt !== null) return current
    await batch.tx.revokeApiKey(id, batch.now)
    const after = { ...current, revokedAt: batch.now }
    await batch.audit({
      action: 'key.revoke',
      entityType: 'key',
      entityKey: id,
      environment: current.environment,
      before: publicKey(current) as unknown as JsonValue,
      after: publicKey(after) as unknown as JsonValue,
    })
    return after
  })
  auth.revoked(revoked)
  return publicKey(revoked)
}

/** Shortest `VANE_BOOTSTRAP_ADMIN_KEY` accepted. */
export const BOOTSTRAP_MIN_LENGTH = 32
/** Least entropy a `VANE_BOOTSTRAP_ADMIN_KEY` must show, estimated from its own character frequencies. */
export const BOOTSTRAP_MIN_BITS = 120

/**
 * Why a `VANE_BOOTSTRAP_ADMIN_KEY` value is too weak to guard the admin API, or undefined when it is not.
 * Rules: at least 32 characters; no character makes up more than a quarter of it; at least 120 bits by
 * the Shannon estimate over its characters (length × entropy per character). `openssl rand -base64 32`
 * always passes; hexadecimal needs 64 digits (`openssl rand -hex 32`). A pass does not prove a value random,
 * but `abc`, `change-me-…` and long runs of one character fail.
 */
export function bootstrapKeyProblem(secret: string): string | undefined {
  const chars = [...secret]
  if (chars.length < BOOTSTRAP_MIN_LENGTH)
    return `it has ${chars.length} characters; at least ${BOOTSTRAP_MIN_LENGTH} are needed`
  const counts = new Map<string, number>()
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1)
  const commonest = Math.max(...counts.values())
  if (commonest * 4 > chars.length) return `one character makes up ${commonest} of its ${chars.length} characters`
  let bits = 0
  for (const n of counts.values()) bits -= n * Math.log2(n / chars.length)
  if (bits < BOOTSTRAP_MIN_BITS)
    return `it looks like about ${Math.floor(bits)} bits of randomness; at least ${BOOTSTRAP_MIN_BITS} are needed`
  return undefined
}

/** Throws, saying how to make a good one, when `VANE_BOOTSTRAP_ADMIN_KEY` is too weak (see {@link bootstrapKeyProblem}). */
export function checkBootstrapKey(secret: string): void {
  const problem = bootstrapKeyProblem(secret)
  if (problem === undefined) return
  throw new Error(
    `VANE_BOOTSTRAP_ADMIN_KEY is too weak to guard the admin API: ${problem}. ` +
      'Generate one, e.g. VANE_BOOTSTRAP_ADMIN_KEY="$(openssl rand -base64 32)", and keep it in your secret store.',
  )
}

/**
 * Creates the operator's first admin key from `VANE_BOOTSTRAP_ADMIN_KEY`, once. Replicas starting together
 * on one database may all try: the ones that lose the race find the key there and carry on.
 */
export async function bootstrapAdminKey(deps: ControlDeps, secret: string): Promise<boolean> {
  const hash = await hashSecret(secret)
  if ((await deps.store.getApiKeyByHash(hash)) !== undefined) return false
  try {
    await write(deps, { name: 'bootstrap' }, [], async (batch) => {
      const record: ApiKeyRecord = {
        id: crypto.randomUUID(),
        name: 'bootstrap',
        kind: 'admin',
        environment: null,
        hash,
        prefix: secretPrefix(secret),
        allowedOrigins: [],
        secureModeSecret: null,
        createdAt: batch.now,
        revokedAt: null,
      }
      await batch.tx.insertApiKey(record)
      await batch.audit({
        action: 'key.create',
        entityType: 'key',
        entityKey: record.id,
        before: null,
        after: publicKey(record) as unknown as JsonValue,
      })
    })
  } catch (error) {
    // the transaction rolled back whole (audit entry included); another instance committed the same key
    if (isDuplicate(error) && (await deps.store.getApiKeyByHash(hash)) !== undefined) return false
    throw error
  }
  return true
}

const isDuplicate = (error: unknown) =>
  error instanceof Error && error.name === 'StoreError' && (error as { code?: unknown }).code === 'DUPLICATE_KEY'

const CACHE_MS = 5_000

/** Bytes the cache of known keys may hold (about 15,000 keys). Default 16 MiB. */
export const KNOWN_KEYS_CACHE_BYTES = 16 * 1024 * 1024
/** Bytes the cache of unknown secrets may hold (about 14,000 hashes). Default 4 MiB. */
export const UNKNOWN_KEYS_CACHE_BYTES = 4 * 1024 * 1024

const usable = (key: ApiKeyRecord | undefined) => (key === undefined || key.revokedAt !== null ? undefined : key)

/** What an entry costs, counted generously: UTF-16 strings plus the map's and object's own overhead. */
export const entryBytes = (id: string, key: ApiKeyRecord | undefined): number =>
  2 * id.length + 2 * (key === undefined ? 0 : JSON.stringify(key).length) + 160

interface CacheEntry {
  key: ApiKeyRecord | undefined
  at: number
}

export interface KeyAuthenticatorOptions {
  now?: () => number
  /** Bytes for keys found in the store (also revoked ones). Default {@link KNOWN_KEYS_CACHE_BYTES}. */
  knownBytes?: number
  /** Bytes for secrets the store does not know. Default {@link UNKNOWN_KEYS_CACHE_BYTES}. */
  unknownBytes?: number
}

/**
 * Resolves secrets to keys. Lookups are cached for a few seconds so evaluation
 * traffic does not hit the database; revocation on this instance takes effect
 * at once, on others within the cache time. Both caches are bounded in bytes (least recently used out first), and
 * failures never evict successes: they have a cache of their own, which holds only SHA-256 hashes, so junk secrets
 * of any length cost a fixed few hundred bytes each.
 */
export class KeyAuthenticator {
  // keyed by the secret itself, so a request with a recently seen key skips hashing (OFREP's hot path); only
  // secrets whose hash the store holds get in, so nothing a client makes up is kept verbatim
  private readonly known: LRUCache<string, CacheEntry>
  // keyed by the SHA-256 of the secret
  private readonly unknown: LRUCache<string, CacheEntry>
  private readonly listeners = new Set<(key: ApiKeyRecord) => void>()
  private readonly now: () => number

  constructor(
    private readonly store: Store,
    opts: KeyAuthenticatorOptions = {},
  ) {
    this.now = opts.now ?? Date.now
    this.known = new LRUCache({
      maxSize: opts.knownBytes ?? KNOWN_KEYS_CACHE_BYTES,
      sizeCalculation: (entry, secret) => entryBytes(secret, entry.key),
    })
    this.unknown = new LRUCache({
      maxSize: opts.unknownBytes ?? UNKNOWN_KEYS_CACHE_BYTES,
      sizeCalculation: (_entry, hash) => entryBytes(hash, undefined),
    })
  }

  async authenticate(secret: string): Promise<ApiKeyRecord | undefined> {
    const known = this.known.get(secret)
    if (known !== undefined && this.now() - known.at < CACHE_MS) return usable(known.key)
    const hash = await hashSecret(secret)
    const hit = known ?? this.unknown.get(hash)
    if (known === undefined && hit !== undefined && this.now() - hit.at < CACHE_MS) return undefined
    let key: ApiKeyRecord | undefined
    try {
      key = await this.store.getApiKeyByHash(hash)
    } catch (error) {
      // database down: keys seen before keep working, so evaluation keeps serving from memory
      if (hit === undefined) throw error
      return usable(hit.key)
    }
    if (key !== undefined && !constantTimeEqual(key.hash, hash)) key = undefined
    if (key === undefined) {
      this.known.delete(secret)
      this.unknown.set(hash, { key, at: this.now() })
    } else {
      this.unknown.delete(hash)
      this.known.set(secret, { key, at: this.now() })
    }
    return usable(key)
  }

  /** Whether this secret was found in the store recently and is not revoked (memory only, no lookup). */
  async recognised(secret: string): Promise<boolean> {
    return usable(this.known.peek(secret)?.key) !== undefined
  }

  /** Bytes both caches hold, as counted against their bounds. */
  cachedBytes(): { known: number; unknown: number } {
    return { known: this.known.calculatedSize, unknown: this.unknown.calculatedSize }
  }

  revoked(key: ApiKeyRecord): void {
    const stale = [...this.known.entries()].filter(([, entry]) => entry.key?.id === key.id)
    for (const [secret] of stale) this.known.delete(secret)
    for (const listener of this.listeners) listener(key)
  }

  /** Streams register here to close when their key is revoked. */
  onRevoke(listener: (key: ApiKeyRecord) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}
