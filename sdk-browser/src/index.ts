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
export { type ClientEvents, type EvaluationDetails, HttpError } from '@vane/sdk-core'
export { type ClientOptions, type Context, createClient, VaneBrowserClient } from './client.js'
export type { FlagValue } from './flag-values.js'
