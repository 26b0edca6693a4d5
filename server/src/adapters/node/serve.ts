import { type ServerType, serve } from '@hono/node-server'
import { nodeStreamFetch } from './sse-node.js'

/** Options for {@link serveNode}. */
export interface ServeNodeOptions {
  port: number
  hostname: string
}

/** Anything with a Web-standard fetch handler, such as a hono app. */
export interface FetchApp {
  fetch: (request: Request, env: object) => Response | Promise<Response>
}

/**
 * Serves an app on Node's HTTP server; resolves once the socket listens. Its streams write straight to Node's
 * response (see delivery/sse-node.ts).
 */
export function serveNode(app: FetchApp, options: ServeNodeOptions): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve) => {
    const fetch = nodeStreamFetch((request, env: object) => app.fetch(request, env))
    const server = serve({ fetch, port: options.port, hostname: options.hostname }, (info) =>
      resolve({ server, port: info.port }),
    )
  })
}
