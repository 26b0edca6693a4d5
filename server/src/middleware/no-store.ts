import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../http/env.js'

/**
 * Marks every answer, errors included, as private and not to be sniffed: admin answers carry secrets (a new key,
 * a trigger URL) and configuration that no shared cache or browser history should keep.
 */
export function noStore(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next()
    c.res.headers.set('Cache-Control', 'no-store')
    c.res.headers.set('X-Content-Type-Options', 'nosniff')
  }
}
