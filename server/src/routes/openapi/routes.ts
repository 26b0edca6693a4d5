import { Hono } from 'hono'
import type { AppEnv } from '../../http/env.js'
import { renderDocsHtml } from './docs-page.js'
import { buildOpenApiDocument } from './document.js'
import type { OpenApiOptions } from './types.js'

/**
 * `GET /openapi.json` and `GET /docs`, to mount under `/admin/v1` before the
 * admin middleware (they need no key). The document and the page are built on
 * the first request and then served from memory.
 */
export function openApiRoutes(options: OpenApiOptions) {
  let doc: { json: string; html: string } | undefined
  const built = () => {
    if (doc === undefined) {
      const document = buildOpenApiDocument(options)
      doc = { json: JSON.stringify(document), html: renderDocsHtml(document) }
    }
    return doc
  }
  return new Hono<AppEnv>()
    .get('/openapi.json', (c) =>
      c.body(built().json, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' }),
    )
    .get('/docs', (c) =>
      c.body(built().html, 200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-cache',
        // nothing but this page: inline style and the one inline script, no network
        'Content-Security-Policy':
          "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      }),
    )
}
