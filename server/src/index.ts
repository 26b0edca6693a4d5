/**
 * @module @vane/server
 * The Vane flag server as a library: build the app, then serve it with an adapter.
 */
export { type AppOptions, createApp } from './app.js'
export { type ServeNodeOptions, serveNode } from './adapters/node.js'
