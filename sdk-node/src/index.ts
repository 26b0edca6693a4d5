/**
 * @module @vane/sdk-node
 * Vane's Node SDK: streams an environment's ruleset and evaluates every flag
 * locally, in well under a microsecond, without ever waiting on the network.
 *
 * @example
 * import { createClient } from '@vane/sdk-node'
 * const vane = createClient({ url: 'http://127.0.0.1:8787', sdkKey: process.env.VANE_SDK_KEY! })
 * await vane.waitForReady(2_000).catch(() => {})
 * vane.getBoolean('new-checkout', false, { targetingKey: 'user-1' })
 */

export type { EvaluationContext, EvaluationResult, JsonValue, Snapshot } from '@vane/engine'
export {
  type ClientEvents,
  type EvaluationDetails,
  HttpError,
  type Platform,
} from '@vane/sdk-core'
export { type ClientOptions, type ClientStatus, createClient, VaneClient, type VaneSpanProcessor } from './client.js'
export { secureModeHash } from './secure-mode.js'
export { FLAG_ATTRIBUTE_PREFIX, type OutcomeReport, type TelemetryOptions } from './telemetry.js'
