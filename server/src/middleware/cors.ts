import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import type { Store } from '../storage/repository.js'

/** Which origins a browser may read evaluation answers from before its key is known. */
export interface OriginStrategy {
  /**
   * Whether some client key may allow `origin`: a preflight (which carries no key) from it is answered, and so are
   * errors given before a key was known (401, 429), so that the page can read them.
   */
  mayAllow(origin: string): Promise<boolean>
}

export interface KeyTableOriginsOptions {
  store: Pick<Store, 'listApiKeys'>
  /** How long the set of allowed origins is cached. */
  cacheMs?: number
  now?: () => number
}

/** The origins the client keys in the key table allow, re-read at most every `cacheMs` (10 s by default). */
export function keyTableOrigins(options: KeyTableOriginsOptions): OriginStrategy {
  const now = options.now ?? Date.now
  let cached: { origins: Set<string>; at: number } | undefined
  return {
    async mayAllow(origin) {
      if (cached === undefined || now() - cached.at >= (options.cacheMs ?? 10_000)) {
        const keys = await options.store.listApiKeys()
        const origins = new Set(
          keys.filter((k) => k.kind === 'client' && k.revokedAt === null).flatMap((k) => k.allowedOrigins),
        )
        cached = { origins, at: now() }
      }
      return cached.origins.has(origin)
    },
  }
}

export interface EvaluationCorsOptions {
  origins: OriginStrategy
}

const ALLOW_HEADERS = 'Authorization, Content-Type, X-API-Key, X-Vane-Hash, If-None-Match, Last-Event-ID'
const EXPOSE_HEADERS = 'ETag, Retry-After'

/**
 * CORS for the evaluation endpoints. A preflight carries no key, so it is
 * answered for any origin some client key may allow ({@link OriginStrategy}); the real request is then
 * held to its own key's `allowedOrigins`, and refused (403, no CORS headers)
 * from any other origin.
 */
export function evaluationCors(options: EvaluationCorsOptions): MiddlewareHandler<AppEnv> {
  const allow = (headers: Headers, origin: string) => {
    headers.set('Access-Control-Allow-Origin', origin)
    headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS)
    headers.append('Vary', 'Origin')
  }

  return async (c, next) => {
    const origin = c.req.header('origin')
    if (origin === undefined) return next()
    if (c.req.method === 'OPTIONS') {
      if (!(await options.origins.mayAllow(origin))) return c.body(null, 403)
      const headers = new Headers({
        'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
        'Access-Control-Max-Age': '600',
      })
      allow(headers, origin)
      return new Response(null, { status: 204, headers })
    }
    await next()
    const key = c.get('apiKey')
    if (key === undefined) {
      // errors before a key was known (401, 429): readable by pages some key allows
      if (c.res.status >= 400 && (await options.origins.mayAllow(origin))) allow(c.res.headers, origin)
      return
    }
    if (key.kind === 'client' && key.allowedOrigins.includes(origin)) allow(c.res.headers, origin)
  }
}

/** After `requireKey`: a browser request with a client key from an origin the key does not allow is refused before any work. */
export function checkOrigin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header('origin')
    const key = c.get('apiKey')
    if (origin !== undefined && key.kind === 'client' && !key.allowedOrigins.includes(origin))
      throw new VaneError('forbidden', `origin ${origin} is not allowed for this client key`)
    await next()
  }
}
