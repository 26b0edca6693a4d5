import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import type { AppEnv } from '../http/env.js'

/** A finished request, as logs and metrics see it. */
export interface RequestRecord {
  requestId: string
  method: string
  /** The matched route pattern (`/admin/v1/flags/:key`), never the raw path: keeps metric labels bounded. */
  route: string
  status: number
  durationMs: number
  /** Name of the API key used, if any (never the secret). */
  keyName?: string
}

export interface TelemetryOptions {
  onRequest?: (record: RequestRecord) => void
  now?: () => number
}

const tracer = trace.getTracer('@vane/server')

/**
 * One span per request through `@opentelemetry/api` (a no-op unless the
 * operator installs an SDK), and one record per finished request for logs and metrics.
 */
export function telemetry(options: TelemetryOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? (() => performance.now())
  return async (c, next) => {
    const started = now()
    // routes are matched before any middleware runs, so the pattern is known here; named after the raw path, a
    // span would carry whatever the path holds (a trigger's secret) to every sampler and exporter
    const route = routePath(c, -1) || '*'
    await tracer.startActiveSpan(`${c.req.method} ${route}`, { kind: SpanKind.SERVER }, async (span) => {
      try {
        await next()
      } finally {
        span.setAttributes({
          'http.request.method': c.req.method,
          'http.route': route,
          'http.response.status_code': c.res.status,
        })
        if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
        span.end()
        const key = c.get('apiKey')
        options.onRequest?.({
          requestId: c.get('requestId'),
          method: c.req.method,
          route,
          status: c.res.status,
          durationMs: now() - started,
          ...(key !== undefined && { keyName: key.name }),
        })
      }
    })
  }
}
