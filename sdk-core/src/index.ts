/**
 * @module @vane/sdk-core
 * @internal Shared by the Node and browser SDKs and the server's relay; bundled into each, never published.
 */
export { Backoff, type BackoffOptions } from './backoff.js'
export type { ClientEvents, EvaluationDetails } from './client-types.js'
export { Emitter } from './emitter.js'
export { HttpError, isRefused } from './http-error.js'
export { defaultPlatform, type Platform } from './platform.js'
export { type ReadSseOptions, readSse, type SseEvent } from './sse.js'
export { StreamClient, type StreamClientOptions, type StreamRequest, toError } from './stream-client.js'
