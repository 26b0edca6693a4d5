import type { ControlDeps } from '../control/batch.js'
import type { KeyAuthenticator } from '../control/keys.js'

/** What the route factories need. */
export interface RouteDeps extends ControlDeps {
  auth: KeyAuthenticator
  /** The server's address as clients reach it (behind a proxy); defaults to the request's own. */
  publicUrl?: string | undefined
}
