import { Hono } from 'hono'
import pino from 'pino'
import { nodeAuthFailures } from '../adapters/node/client-address.js'
import { createMetrics, observeApp } from '../adapters/node/metrics.js'
import { serveNode } from '../adapters/node/serve.js'
import { assembleApp } from '../app.js'
import { type ServerConfig, serveOptions, streamLimits } from '../config.js'
import { Delivery } from '../delivery/delivery.js'
import { StreamTokens } from '../delivery/tokens.js'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { asClientClosed } from '../http/request.js'
import { EvaluatorHub } from '../live/hub.js'
import type { KeyStrategy } from '../middleware/auth.js'
import { outcomesBodyLimit } from '../routes/outcomes.js'
import type { RunningServer } from '../runtime.js'
import { RelayKeys } from './keys.js'
import { createRelayFeed, UpstreamMirror } from './upstream.js'

/** Changes a relay keeps for resuming its streams: it has no change log, so this is how far back they resume. */
const RELAY_RING = 4_096

export type RunningRelay = Omit<RunningServer, 'store'> & { mirror: UpstreamMirror }

/**
 * Relay mode (`vane serve --upstream URL --sdk-key K`): no database. Mirrors the upstream environment of `K`
 * over the upstream's SDK stream and serves OFREP, the SDK stream (same ids as the upstream, so SDKs can move
 * between the two with `Last-Event-ID`) and the client stream from memory. No admin API.
 */
export async function startRelay(config: ServerConfig): Promise<RunningRelay> {
  const logger = pino({ level: config.logLevel ?? 'info', base: { service: 'vane', mode: 'relay' } })
  const upstream = config.upstream
  const sdkKey = config.sdkKey
  if (upstream === undefined || !/^https?:\/\//.test(upstream))
    throw new Error(`relay mode needs the upstream's http(s) URL (--upstream or VANE_UPSTREAM), got "${upstream}"`)
  if (sdkKey === undefined || sdkKey === '')
    throw new Error('relay mode needs a server key of the environment to mirror (--sdk-key or VANE_SDK_KEY)')
  if (config.databaseUrl !== undefined || config.dataDir !== undefined)
    logger.warn('relay mode uses no database: DATABASE_URL and VANE_DATA_DIR are ignored')

  const hub = new EvaluatorHub()
  const feed = createRelayFeed()
  const keys: RelayKeys = new RelayKeys({
    upstream,
    sdkKey,
    current: () => {
      const state = mirror.state()
      return state.environment === undefined ? undefined : { environment: state.environment, version: state.version }
    },
  })
  const metrics = createMetrics()
  const delivery = new Delivery({
    // no change log: resumes reach back as far as the ring; further back, a fresh put
    store: { changesSince: async () => [], getApiKey: (id) => keys.getApiKey(id) },
    hub,
    feed,
    auth: keys,
    recentChanges: RELAY_RING,
    ...(config.heartbeatMs !== undefined && { heartbeatMs: config.heartbeatMs }),
    onEventSent: (kind, count) => metrics.eventsSent.inc({ kind }, count),
    limits: streamLimits(config),
    onRefused: (kind, cap) => metrics.streamsRefused.inc({ kind, cap }),
    onDropped: (kind, reason) => metrics.streamsDropped.inc({ kind, reason }),
    onPropagated: (seconds) => metrics.propagation.observe(seconds),
  })
  const mirror: UpstreamMirror = new UpstreamMirror({
    upstream,
    sdkKey,
    hub,
    feed,
    onReplaced: (environment) => delivery.replaced(environment),
    onLog: (level, fields, message) => logger[level](fields, message),
  })
  metrics.trackStreams(delivery)
  metrics.trackFeed(() => ({ connected: mirror.state().connected, behind: 0 }))
  const tokens = new StreamTokens(config.streamSecret ?? crypto.randomUUID() + crypto.randomUUID())

  const app = assembleApp({
    hub,
    delivery,
    tokens,
    store: keys,
    publicUrl: config.publicUrl,
    onEvaluate: (endpoint, flags) => metrics.evaluations.inc({ endpoint }, flags),
    health: { version: '0.1.0', mode: 'relay' },
    readiness: async () => {
      const state = mirror.state()
      // serving the last good snapshot while the upstream is away: still evaluates, but stale
      const ready = state.environment !== undefined && state.connected
      const body = {
        ready,
        stale: !state.connected,
        mode: 'relay',
        environments: hub.environments().length,
        upstream: {
          connected: state.connected,
          environment: state.environment ?? null,
          version: state.version,
          since: new Date(state.since).toISOString(),
          puts: state.puts,
          patches: state.patches,
          connects: state.connects,
          ...(state.lastError !== undefined && { lastError: state.lastError }),
        },
      }
      return { ready, body }
    },
    keys: upstreamKeys(keys),
    evaluationRateLimit: config.evaluationRateLimit,
    // a relay cannot list the upstream's client keys: preflights are answered for any origin, and each request is
    // still held to its own key (verified upstream from that origin)
    origins: { mayAllow: async () => true },
    mount: (app) => {
      const noAdmin = () => {
        throw new VaneError(
          'not_found',
          'this is a relay (vane serve --upstream): it serves evaluation and streams only; send admin requests to the upstream server',
        )
      }
      app.all('/admin/*', noAdmin)
      app.all('/hooks/*', noAdmin)
    },
    sdk: outcomePassThrough(upstream),
    authFailures: nodeAuthFailures(config),
    ...observeApp(metrics, logger),
  })

  mirror.start()
  const { server, port } = await serveNode(app, serveOptions(config))
  const url = `http://${config.hostname.includes(':') ? `[${config.hostname}]` : config.hostname}:${port}`
  logger.info({ url, upstream: new URL(upstream).origin }, 'vane relay listening')
  return {
    url,
    port,
    logger,
    mirror,
    close: async () => {
      delivery.close()
      await mirror.stop()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        if ('closeIdleConnections' in server) server.closeIdleConnections()
      })
    },
  }
}

/** The keys the upstream vouches for, as the app's key strategy. */
function upstreamKeys(keys: RelayKeys): KeyStrategy {
  return {
    async authenticate(secret, origin) {
      const verdict = await keys.authenticate(secret, origin)
      if (verdict.key !== undefined || verdict.status === 401) return verdict.key
      throw new VaneError('forbidden', verdict.detail)
    },
    recognised: (secret, origin) => keys.recognised(secret, origin),
  }
}

/** Outcome reports are stored upstream: passed through as they came, with the SDK's own key. */
function outcomePassThrough(upstream: string): Hono<AppEnv> {
  return new Hono<AppEnv>().post('/outcomes', outcomesBodyLimit, async (c) => {
    const headers: Record<string, string> = { 'content-type': c.req.header('content-type') ?? 'application/json' }
    for (const name of ['authorization', 'x-api-key']) {
      const value = c.req.header(name)
      if (value !== undefined) headers[name] = value
    }
    const res = await fetch(new URL('/sdk/v1/outcomes', upstream), {
      method: 'POST',
      headers,
      body: await c.req.arrayBuffer().catch((error: unknown) => {
        throw asClientClosed(c, error)
      }),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined)
    if (res === undefined)
      throw new VaneError('unavailable', 'the upstream is unreachable: report again later', [], {
        'Retry-After': '5',
      })
    return new Response(res.body, {
      status: res.status,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    })
  })
}
