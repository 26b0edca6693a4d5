import type { Hono } from 'hono'
import type { Logger } from 'pino'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { AppEnv } from '../../http/env.js'
import type { RequestRecord } from '../../middleware/telemetry.js'

/** Prometheus metrics of one server process. */
export function createMetrics() {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'vane_' })
  const requests = new Counter({
    name: 'vane_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'vane_http_request_duration_seconds',
    help: 'HTTP request duration by method and route.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const adminWrites = new Counter({
    name: 'vane_admin_writes_total',
    help: 'Admin API writes by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  })
  const adminWriteDuration = new Histogram({
    name: 'vane_admin_write_duration_seconds',
    help: 'Admin API write latency by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  })
  const eventsSent = new Counter({
    name: 'vane_stream_events_sent_total',
    help: 'Events written to streams, by stream kind.',
    labelNames: ['kind'] as const,
    registers: [registry],
  })
  const streamsDropped = new Counter({
    name: 'vane_streams_dropped_total',
    help: 'Streams closed by the server, by kind and reason (slow consumer, revoked key).',
    labelNames: ['kind', 'reason'] as const,
    registers: [registry],
  })
  const propagation = new Histogram({
    name: 'vane_propagation_seconds',
    help: 'From a change committing to its events being written to streams.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  })
  const evaluations = new Counter({
    name: 'vane_evaluations_total',
    help: 'Flag evaluations served, by endpoint.',
    labelNames: ['endpoint'] as const,
    registers: [registry],
  })
  const streamsRefused = new Counter({
    name: 'vane_streams_refused_total',
    help: 'Streams refused with 429 because their key or client address already held as many as allowed, by kind and cap.',
    labelNames: ['kind', 'cap'] as const,
    registers: [registry],
  })
  return {
    registry,
    eventsSent,
    streamsDropped,
    streamsRefused,
    propagation,
    evaluations,
    /** Open streams by kind and the contexts client streams hold, read when Prometheus scrapes. */
    trackStreams(delivery: { counts(): Record<string, number>; contextBytes(): number }): void {
      new Gauge({
        name: 'vane_open_streams',
        help: 'Open streams by kind.',
        labelNames: ['kind'] as const,
        registers: [registry],
        collect() {
          for (const [kind, n] of Object.entries(delivery.counts())) this.set({ kind }, n)
        },
      })
      new Gauge({
        name: 'vane_stream_context_bytes',
        help: 'Bytes of the contexts open client streams hold (their JSON size as received).',
        registers: [registry],
        collect() {
          this.set(delivery.contextBytes())
        },
      })
    },
    /** How far this instance's change feed trails the database, read when Prometheus scrapes. */
    trackFeed(state: () => { connected: boolean; behind: number }): void {
      new Gauge({
        name: 'vane_change_feed_behind',
        help: 'Changes committed in the database and not yet applied by this instance.',
        registers: [registry],
        collect() {
          this.set(state().behind)
        },
      })
      new Gauge({
        name: 'vane_change_feed_connected',
        help: '1 while the cross-instance change feed (PostgreSQL LISTEN) is connected.',
        registers: [registry],
        collect() {
          this.set(state().connected ? 1 : 0)
        },
      })
    },
    observe(record: RequestRecord): void {
      const status = String(record.status)
      requests.inc({ method: record.method, route: record.route, status })
      duration.observe({ method: record.method, route: record.route }, record.durationMs / 1000)
      if (record.route.startsWith('/admin/') && record.method !== 'GET') {
        adminWrites.inc({ route: record.route, status })
        adminWriteDuration.observe({ route: record.route }, record.durationMs / 1000)
      }
    },
  }
}

/** How a process on Node watches its app: each request counted and logged, unexpected errors logged, `/metrics`. */
export function observeApp(metrics: ReturnType<typeof createMetrics>, logger: Logger) {
  return {
    onRequest: (record: RequestRecord) => {
      metrics.observe(record)
      logger.info({ req: record }, 'request')
    },
    onUnexpectedError: (error: unknown, requestId: string) =>
      logger.error({ err: error, requestId }, 'unexpected error'),
    extend: (app: Hono<AppEnv>) =>
      app.get('/metrics', async (c) =>
        c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
      ),
  }
}
