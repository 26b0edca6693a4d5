import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import type { KeyAuthenticator } from './control/keys.js'
import type { Delivery } from './delivery/delivery.js'
import type { StreamTokens } from './delivery/tokens.js'
import type { AppEnv } from './http/env.js'
import { isVaneError, problem, VaneError } from './http/errors.js'
import type { ChangeFeed } from './live/feed.js'
import type { EvaluatorHub } from './live/hub.js'
import { requireKey } from './middleware/auth.js'
import { checkOrigin, evaluationCors } from './middleware/cors.js'
import { rateLimit } from './middleware/rate-limit.js'
import { type RequestRecord, telemetry } from './middleware/telemetry.js'
import { auditRoutes } from './routes/audit.js'
import { clientRoutes } from './routes/client.js'
import { cohortRoutes } from './routes/cohorts.js'
import { environmentRoutes } from './routes/environments.js'
import { flagRoutes } from './routes/flags.js'
import { hookRoutes } from './routes/hooks.js'
import { keyRoutes } from './routes/keys.js'
import { ofrepEventRoutes, ofrepRoutes } from './routes/ofrep.js'
import { openApiRoutes } from './routes/openapi/routes.js'
import { impactRoutes, outcomeRoutes } from './routes/outcomes.js'
import { sdkRoutes } from './routes/sdk.js'
import { targetingRoutes } from './routes/targeting.js'
import type { Store } from './storage/repository.js'

/** Default cap on request bodies; cohort member uploads have their own, larger one. */
export const BODY_LIMIT = 1024 * 1024

/** Options for {@link createApp}. */
export interface AppOptions {
  store: Store
  hub: EvaluatorHub
  feed: ChangeFeed
  auth: KeyAuthenticator
  delivery: Delivery
  tokens: StreamTokens
  /** The server's address as clients reach it, for URLs it hands out (kill triggers, OFREP event streams). */
  publicUrl?: string | undefined
  /** Reported by `/healthz`. */
  version?: string
  /** Per-key request rate on admin endpoints. Default: 100/s, bursts of 200. */
  rateLimit?: { perSecond: number; burst: number }
  /** Per-key request rate on evaluation and stream endpoints. Default: 20,000/s, bursts of 40,000. */
  evaluationRateLimit?: { perSecond: number; burst: number }
  /** Counts evaluations by endpoint (metrics). */
  onEvaluate?: (endpoint: 'ofrep' | 'ofrep-bulk', flags: number) => void
  /** True once start-up finished (migrations ran, evaluators loaded); `/readyz` reports it. */
  ready?: () => boolean
  /** The cross-instance change feed's state, when there is one; `/readyz` fails while it is down or behind. */
  feedState?: () => { ready: boolean; connected: boolean; behind: number }
  /** Called for every finished request (logs, metrics). */
  onRequest?: (record: RequestRecord) => void
  /** Called once for every unexpected error before the plain 500 goes out. */
  onUnexpectedError?: (error: unknown, requestId: string) => void
  /** Extra routes mounted on the app (e.g. `/metrics`, which needs a Node-only registry). */
  extend?: (app: Hono<AppEnv>) => void
}

/**
 * Builds the Vane HTTP app on Web-standard APIs only; storage and the Node
 * server are handed in, so the same app can run on other runtimes.
 *
 * @example
 * const app = createApp({ store, hub, feed, auth })
 * const res = await app.request('/healthz')
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.use(telemetry({ ...(options.onRequest !== undefined && { onRequest: options.onRequest }) }))

  app.get('/healthz', (c) => c.json({ status: 'ok', version: options.version ?? '0.1.0' }))
  app.get('/readyz', async (c) => {
    const feed = options.feedState?.()
    const database = await options.store.ping().catch(() => false)
    // a feed cut off because the database is down misses nothing (nobody can write): like the database itself,
    // that keeps the instance in rotation, serving from memory; otherwise every instance would leave it at once
    const ready = (options.ready?.() ?? true) && (feed === undefined || feed.ready || !database)
    const body = {
      ready,
      database: database ? 'up' : 'down',
      environments: options.hub.environments().length,
      ...(feed !== undefined && { feed: { connected: feed.connected, behind: feed.behind } }),
    }
    return c.json(body, ready ? 200 : 503)
  })

  const admin = new Hono<AppEnv>()
  const limit = bodyLimit({
    maxSize: BODY_LIMIT,
    onError: () => {
      throw new VaneError('payload_too_large', `request bodies are limited to ${BODY_LIMIT} bytes`)
    },
  })
  // member uploads carry their own, larger limit (matched exactly: a flag may be called "members")
  admin.use((c, next) => (/^\/admin\/v1\/cohorts\/[^/]+\/members$/.test(c.req.path) ? next() : limit(c, next)))
  admin.use(requireKey({ auth: options.auth, kinds: ['admin'] }))
  admin.use(rateLimit(options.rateLimit ?? { perSecond: 100, burst: 200 }))
  admin.route('/', environmentRoutes(options))
  admin.route('/', flagRoutes(options))
  admin.route('/', targetingRoutes(options))
  admin.route('/', cohortRoutes(options))
  admin.route('/', keyRoutes(options))
  admin.route('/', auditRoutes(options))
  admin.route('/', impactRoutes(options))
  app.route('/admin/v1', openApiRoutes({ bodyLimit: BODY_LIMIT, version: options.version ?? '0.1.0' }))
  app.route('/admin/v1', admin)
  // trigger URLs take no API key, so their bodies are capped before anything reads them
  app.use('/hooks/*', limit)
  app.route('/hooks/v1', hookRoutes(options))

  // evaluation and streams: server and client keys, never the database on the hot path
  const cors = evaluationCors({ store: options.store })
  const evalLimit = rateLimit(options.evaluationRateLimit ?? { perSecond: 20_000, burst: 40_000 })
  const anyKey = requireKey({ auth: options.auth, kinds: ['server', 'client'] })
  const serverKey = requireKey({ auth: options.auth, kinds: ['server'] })
  for (const path of ['/ofrep/*', '/client/*']) app.use(path, cors)
  app.use('/ofrep/v1/evaluate/*', anyKey, checkOrigin(), evalLimit)
  app.use('/client/v1/*', anyKey, checkOrigin(), evalLimit)
  app.use('/sdk/v1/*', serverKey, evalLimit)
  app.route('/ofrep/v1', ofrepRoutes(options))
  app.route('/ofrep/v1', ofrepEventRoutes(options))
  app.route('/sdk/v1', sdkRoutes(options))
  app.route('/sdk/v1', outcomeRoutes(options))
  app.route('/client/v1', clientRoutes(options))

  options.extend?.(app)

  app.notFound((c) => problem(c, new VaneError('not_found', `no route for ${c.req.method} ${c.req.path}`)))
  app.onError((error, c) => {
    if (isVaneError(error)) return problem(c, error)
    if (isDatabaseDown(error))
      return problem(
        c,
        new VaneError('unavailable', 'the database is unreachable; evaluation keeps serving', [], {
          'Retry-After': '5',
        }),
      )
    options.onUnexpectedError?.(error, c.get('requestId'))
    return c.json({ title: 'Internal Server Error', status: 500, requestId: c.get('requestId') }, 500)
  })
  return app
}

const DOWN_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  '57P01',
  '57P03',
  '08006',
  '08001',
  'SQLITE_BUSY',
])
function isDatabaseDown(error: unknown): boolean {
  const code =
    (error as { code?: unknown; cause?: { code?: unknown } })?.code ??
    (error as { cause?: { code?: unknown } })?.cause?.code
  return typeof code === 'string' && DOWN_CODES.has(code)
}
