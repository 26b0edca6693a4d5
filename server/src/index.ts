/**
 * @module @vane/server
 * The Vane flag server as a library: build the app, then serve it with an adapter.
 */

export { type ServeNodeOptions, serveNode } from './adapters/node.js'
export { type AppOptions, createApp } from './app.js'
export { configFromEnv, type RunningServer, type ServerConfig, startServer } from './runtime.js'
export { openStore, type Store, type StoreEnv } from './storage/index.js'
