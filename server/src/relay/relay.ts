import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import pino from 'pino'
import { createMetrics } from '../adapters/node/metrics.js'
import { serveNode } from '../adapters/node/serve.js'
import { Delivery } from '../delivery/delivery.js'
import { StreamTokens } from '../delivery/tokens.js'
import type { AppEnv } from '../http/env.js'
import { isVaneError, problem, VaneError } from '../http/errors.js'
import { EvaluatorHub } from '../live/hub.js'
import { readSecret } from '../middleware/auth.js'
import { checkOrigin } from '../middleware/cors.js'
import { rateLimit } from '../middleware/rate-limit.js'
import { telemetry } from '../middleware/telemetry.js'
import { clientRoutes } from '../routes/client.js'
import { ofrepEventRoutes, ofrepRoutes } from '../routes/ofrep.js'
import { sdkRoutes } from '../routes/sdk.js'
import type { RunningServer, ServerConfig } from '../runtime.js'
import type { KeyKind } from '../storage/repository.js'
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
  metrics.trackStreams(() => delivery.counts())
  metrics.trackFeed(() => ({ connected: mirror.state().connected, behind: 0 }))
  const tokens = new StreamTokens(config.streamSecret ?? crypto.randomUUID() + crypto.randomUUID())

  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.use(
    telemetry({
      onRequest: (record) => {
        metrics.observe(record)
        logger.info({ req: record }, 'request')
      },
    }),
  )
  app.get('/healthz', (c) => c.json({ status: 'ok', version: '0.1.0', mode: 'relay' }))
  app.get('/readyz', (c) => {
    const state = mirror.state()
    // serving the last good snapshot while the upstream is away: still evaluates, but stale
    const ready = state.environment !== undefined && state.connected
    return c.json(
      {
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
      },
      ready ? 200 : 503,
    )
  })
  const noAdmin = () => {
    throw new VaneError(
      'not_found',
      'this is a relay (vane serve --upstream): it serves evaluation and streams only; send admin requests to the upstream server',
    )
  }
  app.all('/admin/*', noAdmin)
  app.all('/hooks/*', noAdmin)

  const deps = {
    hub,
    delivery,
    tokens,
    store: keys,
    publicUrl: config.publicUrl,
    onEvaluate: (endpoint: 'ofrep' | 'ofrep-bulk', flags: number) => metrics.evaluations.inc({ endpoint }, flags),
  }
  const evalLimit = rateLimit({ perSecond: 20_000, burst: 40_000 })
  const anyKey = relayKey(keys, ['server', 'client'])
  for (const path of ['/ofrep/*', '/client/*']) app.use(path, relayCors())
  app.use('/ofrep/v1/evaluate/*', anyKey, checkOrigin(), evalLimit)
  app.use('/client/v1/*', anyKey, checkOrigin(), evalLimit)
  app.use('/sdk/v1/*', relayKey(keys, ['server']), evalLimit)
  app.route('/ofrep/v1', ofrepRoutes(deps))
  app.route('/ofrep/v1', ofrepEventRoutes(deps))
  app.route('/sdk/v1', sdkRoutes(deps))
  app.route('/client/v1', clientRoutes(deps))
  // outcome reports are stored upstream: passed through as they came, with the SDK's own key
  app.post('/sdk/v1/outcomes', bodyLimit({ maxSize: 16 * 1024 * 1024 }), async (c) => {
    const headers: Record<string, string> = { 'content-type': c.req.header('content-type') ?? 'application/json' }
    for (const name of ['authorization', 'x-api-key']) {
      const value = c.req.header(name)
      if (value !== undefined) headers[name] = value
    }
    const res = await fetch(new URL('/sdk/v1/outcomes', upstream), {
      method: 'POST',
      headers,
      body: await c.req.arrayBuffer(),
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined)
    if (res === undefined)
      throw new VaneError('unavailable', 'the upstream is unreachable: report again later', [], { 'Retry-After': '5' })
    return new Response(res.body, {
      status: res.status,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
    })
  })
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  )
  app.notFound((c) => problem(c, new VaneError('not_found', `no route for ${c.req.method} ${c.req.path}`)))
  app.onError((error, c) => {
    if (isVaneError(error)) return problem(c, error)
    logger.error({ err: error, requestId: c.get('requestId') }, 'unexpected error')
    return c.json({ title: 'Internal Server Error', status: 500, requestId: c.get('requestId') }, 500)
  })

  mirror.start()
  const { server, port } = await serveNode(app, { port: config.port, hostname: config.hostname })
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

/** Like `requireKey`, against the keys the upstream vouched for. */
function relayKey(keys: RelayKeys, kinds: readonly KeyKind[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const challenge = { 'WWW-Authenticate': 'Bearer realm="vane"' }
    const secret = readSecret(c.req.raw.headers)
    if (secret === undefined)
      throw new VaneError('unauthorized', 'send an API key as "Authorization: Bearer <key>"', [], challenge)
    const verdict = await keys.authenticate(secret, c.req.header('origin'))
    const key = verdict.key
    if (key === undefined)
      throw verdict.status === 401
        ? new VaneError('unauthorized', verdict.detail, [], challenge)
        : new VaneError('forbidden', verdict.detail)
    if (!kinds.includes(key.kind))
      throw new VaneError('forbidden', `a ${key.kind} key cannot use this endpoint (needs: ${kinds.join(' or ')})`)
    c.set('apiKey', key)
    await next()
  }
}

/**
 * CORS on a relay. It cannot list the upstream's client keys, so a preflight is answered for any origin; the
 * request itself is still held to its key (verified upstream from that origin) and gets CORS headers only then.
 */
function relayCors(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const origin = c.req.header('origin')
    if (origin === undefined) return next()
    if (c.req.method === 'OPTIONS')
      return new Response(null, {
        status: 204,
        headers: {
          'Access-Control-Allow-Origin': origin,
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-API-Key, If-None-Match, Last-Event-ID',
          'Access-Control-Max-Age': '600',
          Vary: 'Origin',
        },
      })
    await next()
    const key = c.get('apiKey')
    if (key?.kind === 'client' && key.allowedOrigins.includes(origin)) {
      c.res.headers.set('Access-Control-Allow-Origin', origin)
      c.res.headers.set('Access-Control-Expose-Headers', 'ETag, Retry-After')
      c.res.headers.append('Vary', 'Origin')
    }
  }
}
