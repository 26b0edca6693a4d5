import { type ServerType, serve } from '@hono/node-server'

/** Options for {@link serveNode}. */
export interface ServeNodeOptions {
  port: number
  hostname: string
}

/** Serves an app on Node's HTTP server; resolves once the socket listens. */
/** Anything with a Web-standard fetch handler, such as a hono app. */
export interface FetchApp {
  fetch: (request: Request) => Response | Promise<Response>
}

export function serveNode(app: FetchApp, options: ServeNodeOptions): Promise<{ server: ServerType; port: number }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname }, (info) =>
      resolve({ server, port: info.port }),
    )
  })
}
