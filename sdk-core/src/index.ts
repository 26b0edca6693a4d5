/**
 * @module @vane/sdk-core
 * @internal Shared by the Node and browser SDKs; bundled into each, never published.
 */
export { Backoff, type BackoffOptions } from './backoff.js'
export { Emitter } from './emitter.js'
export { type ReadSseOptions, readSse, type SseEvent } from './sse.js'
