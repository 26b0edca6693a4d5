import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { requestId } from 'hono/request-id'
import type { KeyAuthenticator } from './control/keys.js'
import type { Delivery } from './delivery/delivery.js'
import type { StreamTokens } from './delivery/tokens.js'
import type { AppEnv } from './http/env.js'
import { isVaneError, problem, unexpected, VaneError } from './http/errors.js'
import { authenticatedConnection } from './http/node-path.js'
import type { ChangeFeed } from './live/feed.js'
import type { EvaluatorHub } from './live/hub.js'
import { type KeyStrategy, requireKey } from './middleware/auth.js'
import { type AuthFailureLimitOptions, authFailureLimit } from './middleware/auth-failures.js'
import { checkOrigin, evaluationCors, keyTableOrigins, type OriginStrategy } from './middleware/cors.js'
import { noStore } from './middleware/no-store.js'
import { rateLimit } from './middleware/rate-limit.js'
import { type RequestRecord, telemetry } from './middleware/telemetry.js'
import { auditRoutes } from './routes/audit.js'
import { clientRoutes } from './routes/client.js'
import { cohortRoutes } from './routes/cohorts.js'
import { environmentRoutes } from './routes/environments.js'
import { flagRoutes } from './routes/flags.js'
import { hookRoutes } from './routes/hooks.js'
import { keyRoutes } from './routes/keys.js'
import { type OfrepDeps, ofrepEventRoutes, ofrepRoutes } from './routes/ofrep.js'
import { openApiRoutes } from './routes/openapi/routes.js'
import { impactRoutes, outcomeRoutes } from './routes/outcomes.js'
import { sdkRoutes } from './routes/sdk.js'
import { targetingRoutes } from './routes/targeting.js'
import type { Store } from './storage/repository.js'

/** Default cap on request bodies; cohort member uploads have their own, larger one. */
export const BODY_LIMIT = 1024 * 1024

/**
 * Default per-key request rate on evaluation and stream endpoints, per instance. One instance serves about
 * 4,500–7,000 bulk OFREP requests a second (docs/benchmarks.md): a per-key limit above that never acts. At 2,000/s
 * one key (a leaked client key, a runaway retry loop) takes at most about half of an instance, leaving the rest to
 * other keys, streams and health checks. Fleets that need more raise it (`VANE_EVALUATION_RATE_LIMIT`).
 */
export const EVALUATION_RATE = { perSecond: 2_000, burst: 4_000 }

/**
 * What differs between the apps {@link assembleApp} builds: the full server ({@link createApp}) and a relay
 * (`relay/relay.ts`). Everything else (request ids, telemetry, CORS, keys, rate limits, the evaluation and stream
 * routes, `notFound`, `onError`) is wired once, in the same order for both.
 */
export interface AppParts extends OfrepDeps {
  /** `/healthz`'s body besides `status: 'ok'`. */
  health: Record<string, unknown>
  /** `/readyz`: whether the instance should take traffic (200, else 503), and what it reports. */
  readiness: () => Promise<{ ready: boolean; body: Record<string, unknown> }>
  /** Where keys are looked up. */
  keys: KeyStrategy
  /** Which origins preflights and early errors are readable from. */
  origins: OriginStrategy
  /** Per-key request rate on evaluation and stream endpoints. Default: 2,000/s, bursts of 4,000 ({@link EVALUATION_RATE}). */
  evaluationRateLimit?: { perSecond: number; burst: number } | undefined
  /** Failed authentications allowed per client address (429 beyond); unset: not limited. */
  authFailures?: AuthFailureLimitOptions | undefined
  /** Mounted ahead of the evaluation endpoints: the admin API and triggers, or a relay's refusal of them. */
  mount: (app: Hono<AppEnv>) => void
  /** More `/sdk/v1` endpoints, behind the same server key and rate limit as the streams (outcome reports). */
  sdk?: Hono<AppEnv>
  /** Errors with a known meaning besides `VaneError` (a database that is down), as the `VaneError` to answer. */
  knownError?: (error: unknown) => VaneError | undefined
  /** Called for every finished request (logs, metrics). */
  onRequest?: ((record: RequestRecord) => void) | undefined
  /** Called once for every unexpected error before the plain 500 goes out. */
  onUnexpectedError?: ((error: unknown, requestId: string) => void) | undefined
  /** Extra routes mounted last (e.g. `/metrics`, which needs a Node-only registry). */
  extend?: ((app: Hono<AppEnv>) => void) | undefined
}

/** The one wiring of every Vane app; {@link createApp} and the relay hand in what differs. */
export function assembleApp(parts: AppParts): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  app.use(requestId())
  app.use(telemetry({ ...(parts.onRequest !== undefined && { onRequest: parts.onRequest }) }))

  if (parts.authFailures !== undefined) {
    const recognised = parts.keys.recognised?.bind(parts.keys)
    app.use(authFailureLimit({ recognised, ...parts.authFailures }))
  }

  app.get('/healthz', (c) => c.json({ status: 'ok', ...parts.health }))
  app.get('/readyz', async (c) => {
    const { ready, body } = await parts.readiness()
    return c.json(body, ready ? 200 : 503)
  })
  parts.mount(app)

  // evaluation and streams: server and client keys, never the database on the hot path
  const cors = evaluationCors({ origins: parts.origins })
  const evalLimit = rateLimit(parts.evaluationRateLimit ?? EVALUATION_RATE)
  const anyKey = requireKey({ auth: parts.keys, kinds: ['server', 'client'] })
  const serverKey = requireKey({ auth: parts.keys, kinds: ['server'] })
  for (const path of ['/ofrep/*', '/client/*']) app.use(path, cors)
  app.use('/ofrep/v1/evaluate/*', anyKey, checkOrigin(), authenticatedConnection, evalLimit)
  app.use('/client/v1/*', anyKey, checkOrigin(), authenticatedConnection, evalLimit)
  app.use('/sdk/v1/*', serverKey, authenticatedConnection, evalLimit)
  app.route('/ofrep/v1', ofrepRoutes(parts))
  app.route('/ofrep/v1', ofrepEventRoutes(parts))
  app.route('/sdk/v1', sdkRoutes(parts))
  if (parts.sdk !== undefined) app.route('/sdk/v1', parts.sdk)
  app.route('/client/v1', clientRoutes(parts))

  parts.extend?.(app)

  app.notFound((c) => problem(c, new VaneError('not_found', `no route for ${c.req.method} ${c.req.path}`)))
  app.onError((error, c) => {
    const known = isVaneError(error) ? error : parts.knownError?.(error)
    if (known !== undefined) return problem(c, known)
    parts.onUnexpectedError?.(error, c.get('requestId'))
    return problem(c, unexpected())
  })
  return app
}

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
  /** Per-key request rate on evaluation and stream endpoints. Default: 2,000/s, bursts of 4,000 ({@link EVALUATION_RATE}). */
  evaluationRateLimit?: { perSecond: number; burst: number }
  /** Counts evaluations by endpoint (metrics). */
  onEvaluate?: (endpoint: 'ofrep' | 'ofrep-bulk', flags: number) => void
  /** Failed authentications allowed per client address (429 beyond); unset: not limited. */
  authFailures?: AuthFailureLimitOptions
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
 * Builds the Vane server's HTTP app (admin API, triggers, OFREP, streams) on Web-standard APIs only; storage and
 * the Node server are handed in, so the same app can run on other runtimes.
 *
 * @example
 * import { createApp, createLocalFeed, Delivery, EvaluatorHub, KeyAuthenticator, openSqliteStore, StreamTokens } from '@vane/server'
 *
 * const store = await openSqliteStore({ dataDir: './data' })
 * const feed = createLocalFeed({ load: (env, after) => store.changesSince(env, after, 1000) })
 * const hub = new EvaluatorHub()
 * await hub.load(store, feed)
 * const auth = new KeyAuthenticator(store)
 * const delivery = new Delivery({ store, hub, feed, auth })
 * const tokens = new StreamTokens(process.env.VANE_STREAM_SECRET ?? crypto.randomUUID())
 * const app = createApp({ store, hub, feed, auth, delivery, tokens })
 * const res = await app.request('/healthz')
 */
export function createApp(options: AppOptions): Hono<AppEnv> {
  const version = options.version ?? '0.1.0'
  return assembleApp({
    hub: options.hub,
    delivery: options.delivery,
    tokens: options.tokens,
    store: options.store,
    publicUrl: options.publicUrl,
    ...(options.onEvaluate !== undefined && { onEvaluate: options.onEvaluate }),
    health: { version },
    readiness: async () => {
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
      return { ready, body }
    },
    keys: options.auth,
    origins: keyTableOrigins({ store: options.store }),
    evaluationRateLimit: options.evaluationRateLimit,
    authFailures: options.authFailures,
    mount: (app) => {
      const admin = new Hono<AppEnv>()
      const limit = bodyLimit({
        maxSize: BODY_LIMIT,
        onError: () => {
          throw new VaneError('payload_too_large', `request bodies are limited to ${BODY_LIMIT} bytes`)
        },
      })
      // member uploads carry their own, larger limit (matched exactly: a flag may be called "members")
      admin.use(noStore())
      admin.use((c, next) => (/^\/admin\/v1\/cohorts\/[^/]+\/members$/.test(c.req.path) ? next() : limit(c, next)))
      admin.use(requireKey({ auth: options.auth, kinds: ['admin'] }), authenticatedConnection)
      admin.use(rateLimit(options.rateLimit ?? { perSecond: 100, burst: 200 }))
      admin.route('/', environmentRoutes(options))
      admin.route('/', flagRoutes(options))
      admin.route('/', targetingRoutes(options))
      admin.route('/', cohortRoutes(options))
      admin.route('/', keyRoutes(options))
      admin.route('/', auditRoutes(options))
      admin.route('/', impactRoutes(options))
      app.route('/admin/v1', openApiRoutes({ bodyLimit: BODY_LIMIT, version }))
      app.route('/admin/v1', admin)
      // trigger URLs take no API key, so their bodies are capped before anything reads them
      app.use('/hooks/*', noStore(), limit)
      app.route('/hooks/v1', hookRoutes(options))
    },
    sdk: outcomeRoutes(options),
    knownError: (error) =>
      isDatabaseDown(error)
        ? new VaneError('unavailable', 'the database is unreachable; evaluation keeps serving', [], {
            'Retry-After': '5',
          })
        : undefined,
    onRequest: options.onRequest,
    onUnexpectedError: options.onUnexpectedError,
    extend: options.extend,
  })
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
