import { getConnInfo } from '@hono/node-server/conninfo'
import { type AuthFailureLimitOptions, type ClientAddress, clientAddress } from '../../middleware/auth-failures.js'

/** The peer address of the request's socket under `serveNode`; undefined elsewhere (e.g. `app.request`). */
export const nodeSocketAddress: ClientAddress = (c) => {
  if ((c.env as { incoming?: unknown } | undefined)?.incoming === undefined) return undefined
  return getConnInfo(c).remote.address
}

/** Failed authentications per minute per client address when `VANE_AUTH_FAILURE_LIMIT` is unset. */
export const AUTH_FAILURES_PER_MINUTE = 30

/** The failed-authentication limit of a server or relay on Node, from its settings. */
export function nodeAuthFailures(config: { authFailureLimit?: number; trustProxy?: number }): AuthFailureLimitOptions {
  return {
    perMinute: config.authFailureLimit ?? AUTH_FAILURES_PER_MINUTE,
    clientAddress: clientAddress(nodeSocketAddress, config.trustProxy ?? 0),
  }
}
