import { type ServerType, serve } from '@hono/node-server'
import type { Hono } from 'hono'

/** Options for {@link serveNode}. */
export interface ServeNodeOptions {
  port: number
  hostname: string
}

/** Serves an app on Node's HTTP server; resolves once the socket listens. */
export function serveNode(app: Hono, options: ServeNodeOptions): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname }, (info) =>
      resolve({ server, port: info.port }),
    )
  })
}
