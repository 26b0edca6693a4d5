import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'

export interface RateLimitOptions {
  /** Sustained requests per second per key. */
  perSecond: number
  /** Requests a key may make at once after being idle. */
  burst: number
  now?: () => number
}

/**
 * A token bucket per API key (after `requireKey`). Over the limit: 429 with
 * `Retry-After` in whole seconds, so clients back off instead of hammering.
 */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now
  const buckets = new Map<string, { tokens: number; at: number }>()
  return async (c, next) => {
    const id = c.get('apiKey').id
    const t = now()
    const bucket = buckets.get(id) ?? { tokens: options.burst, at: t }
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.perSecond)
    bucket.at = t
    if (bucket.tokens < 1) {
      buckets.set(id, bucket)
      const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / options.perSecond))
      throw new VaneError('rate_limited', `this key may make ${options.perSecond} requests per second`, [], {
        'Retry-After': String(retryAfter),
      })
    }
    bucket.tokens -= 1
    if (buckets.size > 100_000) buckets.clear()
    buckets.set(id, bucket)
    await next()
  }
}
