import type { ControlDeps } from '../control/batch.js'
import type { KeyAuthenticator } from '../control/keys.js'

/** What the route factories need. */
export interface RouteDeps extends ControlDeps {
  auth: KeyAuthenticator
  /**
   * The server's address as clients reach it (behind a proxy), for absolute URLs it hands out (triggers). Unset,
   * they are paths: never built from the request's `Host`, which a client chooses.
   */
  publicUrl?: string | undefined
}
