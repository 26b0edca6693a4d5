/**
 * @module @vane/server
 * The Vane flag server as a library: open a store, build the app with {@link createApp}, then serve it with an
 * adapter ({@link serveNode}), or let {@link startServer} do all three. The package also ships the `vane` binary.
 */

export { type ServeNodeOptions, serveNode } from './adapters/node/serve.js'
export { type AppOptions, createApp } from './app.js'
export { configFromEnv, type ServerConfig } from './config.js'
export { KeyAuthenticator } from './control/keys.js'
export { Delivery, type DeliveryOptions } from './delivery/delivery.js'
export { StreamTokens } from './delivery/tokens.js'
export { type ChangeFeed, createLocalFeed, type LocalFeedOptions } from './live/feed.js'
export { EvaluatorHub } from './live/hub.js'
export { type RunningServer, startServer } from './runtime.js'
export { openSqliteStore, openStore, type SqliteStoreOptions, type Store, type StoreEnv } from './storage/index.js'
