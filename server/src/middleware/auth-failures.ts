import type { Context, MiddlewareHandler } from 'hono'
import { LRUCache } from 'lru-cache'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { addressGroup } from '../http/node-path.js'
import { readSecret } from './auth.js'

/** Where a request comes from, as far as the runtime can tell (the Node adapter reads the socket). */
export type ClientAddress = (c: Context<AppEnv>) => string | undefined

export interface AuthFailureLimitOptions {
  /** Failed authentications an address may make per minute, sustained; also the burst. Non-positive: no limit. */
  perMinute: number
  clientAddress: ClientAddress
  /** Keys that authenticated recently pass even an address over its limit (`KeyStrategy.recognised`). */
  recognised?: ((secret: string, origin: string | undefined) => Promise<boolean>) | undefined
  /** Addresses tracked at once (least recently failing out first). Default 100,000. */
  maxAddresses?: number
  now?: () => number
}

/**
 * Throttles guessing: a token bucket per client address, spent only by failures (a request whose API key is unknown
 * or revoked, 401; a trigger URL that names no trigger, 404). An address with none left gets 429 with `Retry-After`
 * for every request that presents a credential, before it is checked, unless the key authenticated recently (so
 * clients behind the same NAT or relay as a guesser keep working; a guess would have to be a key in use). Requests
 * that authenticate never spend anything. Requests without an address (no socket, as in tests through
 * `app.request`) are not counted.
 */
export function authFailureLimit(options: AuthFailureLimitOptions): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now
  const perMs = options.perMinute / 60_000
  const burst = options.perMinute
  const buckets = new LRUCache<string, { tokens: number; at: number }>({ max: options.maxAddresses ?? 100_000 })
  const tokensAt = (address: string, t: number) => {
    const bucket = buckets.peek(address)
    return bucket === undefined ? burst : Math.min(burst, bucket.tokens + (t - bucket.at) * perMs)
  }
  return async (c, next) => {
    if (!(options.perMinute > 0)) return next()
    const trigger = c.req.path.startsWith('/hooks/')
    const secret = trigger ? undefined : readSecret(c.req.raw.headers)
    if (!trigger && secret === undefined) return next()
    const address = options.clientAddress(c)
    if (address === undefined) return next()
    const t = now()
    const tokens = tokensAt(address, t)
    if (tokens < 1 && !(secret !== undefined && (await options.recognised?.(secret, c.req.header('origin'))))) {
      const retryAfter = Math.max(1, Math.ceil((1 - tokens) / perMs / 1000))
      throw new VaneError(
        'rate_limited',
        `too many failed authentications from this address: at most ${options.perMinute} a minute`,
        [],
        { 'Retry-After': String(retryAfter) },
      )
    }
    await next()
    if (c.res.status !== (trigger ? 404 : 401)) return
    // read again: other failures from this address may have finished meanwhile
    const end = now()
    buckets.set(address, { tokens: tokensAt(address, end) - 1, at: end })
  }
}

/**
 * The client's address: the socket's peer, or with `trustProxy` hops of proxies in front, the address the
 * outermost trusted proxy saw (counted from the right of `X-Forwarded-For`, which any client can prefix).
 */
export function clientAddress(socketAddress: ClientAddress, trustProxy = 0): ClientAddress {
  return (c) => {
    const peer = socketAddress(c)
    if (trustProxy <= 0) return peer === undefined ? undefined : addressGroup(peer)
    const forwarded = (c.req.header('x-forwarded-for') ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '')
    const address = forwarded[Math.max(0, forwarded.length - trustProxy)] ?? peer
    // an IPv6 host holds a whole /64: counted apart, each of its addresses would bring a fresh burst
    return address === undefined ? undefined : addressGroup(address)
  }
}
