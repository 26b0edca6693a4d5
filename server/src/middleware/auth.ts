import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import type { ApiKeyRecord, KeyKind } from '../storage/repository.js'

/** The secret from `Authorization: Bearer …` or `X-API-Key`. */
export function readSecret(headers: Headers): string | undefined {
  const authorization = headers.get('authorization')
  if (authorization !== null) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
    return match?.[1]
  }
  return headers.get('x-api-key')?.trim() || undefined
}

/**
 * Where keys are looked up: the key table (`KeyAuthenticator`), or on a relay, which has none, the upstream
 * (`relay/keys.ts`).
 */
export interface KeyStrategy {
  /**
   * The key behind `secret`, sent by a browser from `origin` (if any); undefined when it is unknown or revoked
   * (401). Any other refusal (another environment, upstream unreachable) is thrown as a `VaneError`.
   */
  authenticate(secret: string, origin: string | undefined): Promise<ApiKeyRecord | undefined>
  /**
   * Whether `secret` (from `origin`) authenticated recently, answered from memory: such requests pass an address
   * that failed too often, so clients sharing an address with a guesser keep working.
   */
  recognised?(secret: string, origin: string | undefined): Promise<boolean>
}

export interface RequireKeyOptions {
  auth: KeyStrategy
  /** Key kinds allowed through; others get 403. */
  kinds: readonly KeyKind[]
}

/** Authenticates the request's key and stores it as `apiKey`; 401 without a valid key, 403 for the wrong kind. */
export function requireKey(options: RequireKeyOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const secret = readSecret(c.req.raw.headers)
    const challenge = { 'WWW-Authenticate': 'Bearer realm="vane"' }
    if (secret === undefined)
      throw new VaneError('unauthorized', 'send an API key as "Authorization: Bearer <key>"', [], challenge)
    const key = await options.auth.authenticate(secret, c.req.header('origin'))
    if (key === undefined) throw new VaneError('unauthorized', 'this API key is unknown or revoked', [], challenge)
    if (!options.kinds.includes(key.kind))
      throw new VaneError(
        'forbidden',
        `a ${key.kind} key cannot use this endpoint (needs: ${options.kinds.join(' or ')})`,
      )
    c.set('apiKey', key)
    await next()
  }
}
