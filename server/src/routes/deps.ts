import type { ControlDeps } from '../control/batch.js'
import type { KeyAuthenticator } from '../control/keys.js'

/** What the route factories need. */
export interface RouteDeps extends ControlDeps {
  auth: KeyAuthenticator
}
