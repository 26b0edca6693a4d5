/**
 * @module @vane/sdk-browser
 * Vane in the browser: the evaluated values for one user, streamed from the
 * server and read synchronously. Rules never reach the page.
 *
 * @example
 * import { createClient } from '@vane/sdk-browser'
 * const vane = createClient({ url: 'https://flags.example.com', clientKey: 'vane_client_…', context: { targetingKey: 'user-1' } })
 * vane.on('change', () => render())
 * vane.getBoolean('new-checkout', false)
 */
export {
  type ClientEvents,
  type ClientOptions,
  type Context,
  createClient,
  type EvaluationDetails,
  type FlagValue,
  VaneBrowserClient,
} from './client.js'
