import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { AUTHENTICATED } from '../../http/node-path.js'
import { nodeStreamFetch } from './sse-node.js'

/** Options for {@link serveNode}. */
export interface ServeNodeOptions {
  port: number
  hostname: string
  /** Milliseconds a client has to send a request's headers; then 408 and the connection closes. Default 10 s. */
  headersTimeoutMs?: number | undefined
  /**
   * Milliseconds a client has to send a whole request, body included; then 408 and the connection closes. Streams
   * are not cut: it ends when the request has arrived, whatever the response still does. Default 60 s.
   */
  requestTimeoutMs?: number | undefined
  /**
   * Open connections that have not yet carried an authenticated request; beyond it the oldest of them (once a
   * second old) are closed, so slow or idle sockets without a key cannot use up the process's descriptors, and new
   * connections (health checks among them) still get in. Default 256.
   */
  maxUnauthenticatedConnections?: number | undefined
}

/** The documented defaults (docs/operations.md). */
export const CONNECTION_DEFAULTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  maxUnauthenticatedConnections: 256,
} as const

/** Anything with a Web-standard fetch handler, such as a hono app. */
export interface FetchApp {
  fetch: (request: Request, env: object) => Response | Promise<Response>
}

/**
 * Serves an app on Node's HTTP server; resolves once the socket listens. Its streams write straight to Node's
 * response (see adapters/node/sse-node.ts).
 */
export function serveNode(app: FetchApp, options: ServeNodeOptions): Promise<{ server: ServerType; port: number }> {
  const requestTimeout = options.requestTimeoutMs ?? CONNECTION_DEFAULTS.requestTimeoutMs
  // Node refuses a headers timeout longer than the request timeout
  const headersTimeout = Math.min(options.headersTimeoutMs ?? CONNECTION_DEFAULTS.headersTimeoutMs, requestTimeout)
  return new Promise((resolve) => {
    const fetch = nodeStreamFetch((request, env: object) => app.fetch(request, env))
    const server = serve(
      {
        fetch,
        port: options.port,
        hostname: options.hostname,
        serverOptions: {
          headersTimeout,
          requestTimeout,
          // Node checks both timeouts on this interval (30 s by default), so it bounds how late they fire
          connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
        },
      },
      (info) => resolve({ server, port: info.port }),
    )
    capUnauthenticated(
      server as Server,
      options.maxUnauthenticatedConnections ?? CONNECTION_DEFAULTS.maxUnauthenticatedConnections,
    )
  })
}

type TrackedSocket = Socket & { [AUTHENTICATED]?: true }

/**
 * How long a connection may wait for its first authenticated request before the cap may close it: a burst of
 * legitimate connections (every SDK reconnecting after a deploy) is read and authenticated within that time, even
 * when it exceeds the cap, while the sockets that hold descriptors are the ones that stay.
 */
const GRACE_MS = 1_000

/**
 * Keeps at most `max` connections that are not serving an authenticated request (the app marks those that are,
 * `http/node-path.ts`): beyond it the oldest are closed, once they are older than {@link GRACE_MS}. The mark lasts
 * as long as its response: an open stream keeps it, while a kept-alive connection is counted again from the end of
 * its request, so one request with a public client key cannot exempt a socket that then idles or trickles. Checked
 * on every new connection and on a timer, since a process out of descriptors accepts none.
 */
function capUnauthenticated(server: Server, max: number): void {
  // a Map iterates in insertion order: oldest first
  const pending = new Map<TrackedSocket, number>()
  const evict = () => {
    if (pending.size <= max) return
    const cutoff = Date.now() - GRACE_MS
    for (const [s, since] of pending) {
      if (pending.size <= max) break
      // serving an authenticated request: counted again when its response ends
      if (s[AUTHENTICATED] === true) {
        pending.delete(s)
        continue
      }
      if (since > cutoff) break
      pending.delete(s)
      s.destroy()
    }
  }
  server.on('connection', (socket: TrackedSocket) => {
    pending.set(socket, Date.now())
    socket.once('close', () => pending.delete(socket))
    evict()
  })
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket as TrackedSocket
    response.once('close', () => {
      if (socket.destroyed) return
      delete socket[AUTHENTICATED]
      // idle from now: the newest, with its own second of grace
      pending.delete(socket)
      pending.set(socket, Date.now())
    })
  })
  const sweep = setInterval(evict, GRACE_MS / 4)
  sweep.unref()
  server.once('close', () => clearInterval(sweep))
}
