import type { ServerType } from '@hono/node-server'
import pino, { type Logger } from 'pino'
import { nodeAuthFailures } from './adapters/node/client-address.js'
import { createMetrics, observeApp } from './adapters/node/metrics.js'
import { serveNode } from './adapters/node/serve.js'
import { createApp } from './app.js'
import { type ServerConfig, serveOptions, streamLimits } from './config.js'
import { bootstrapAdminKey, checkBootstrapKey, KeyAuthenticator } from './control/keys.js'
import { startOutcomePruning } from './control/outcomes.js'
import { Delivery } from './delivery/delivery.js'
import { StreamTokens } from './delivery/tokens.js'
import { type ChangeFeed, createLocalFeed } from './live/feed.js'
import { EvaluatorHub } from './live/hub.js'
import { PostgresFeed } from './live/pg-feed.js'
import { openStore } from './storage/index.js'
import type { Store } from './storage/repository.js'

export interface RunningServer {
  url: string
  port: number
  store: Store
  logger: Logger
  /** Stops accepting, lets requests in flight finish, closes the store. */
  close(): Promise<void>
}

/** Opens the store (running migrations), loads every environment, and serves the app on Node. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  if (config.bootstrapAdminKey !== undefined) checkBootstrapKey(config.bootstrapAdminKey)
  const logger = pino({ level: config.logLevel ?? 'info', base: { service: 'vane' } })
  let ready = false
  const store = await openStore({
    ...(config.databaseUrl !== undefined && { DATABASE_URL: config.databaseUrl }),
    ...(config.databaseSchema !== undefined && { VANE_PG_SCHEMA: config.databaseSchema }),
    ...(config.dataDir !== undefined && { VANE_DATA_DIR: config.dataDir }),
  })
  const local = createLocalFeed({ load: (env, after) => store.changesSince(env, after, 1000) })
  const hub = new EvaluatorHub({
    onReloadFailed: (environment, error) =>
      logger.warn({ err: error, environment }, 'reloading an environment after a gap in the change feed failed'),
  })
  // on PostgreSQL, instances share the store: a write here is announced to the others after commit
  const shared =
    store.dialect === 'postgres' && config.databaseUrl !== undefined
      ? new PostgresFeed({
          url: config.databaseUrl,
          schema: config.databaseSchema,
          store,
          feed: local,
          hub,
          onError: (error) => logger.warn({ err: error }, 'change feed: PostgreSQL connection lost; reconnecting'),
        })
      : undefined
  const feed: ChangeFeed = {
    ...local,
    publish: (changes) => {
      local.publish(changes)
      void shared?.notify(changes)
    },
  }
  const auth = new KeyAuthenticator(store)
  const deps = { store, hub, feed, auth }
  await hub.load(store, feed)
  await shared?.start()
  if (config.bootstrapAdminKey !== undefined && (await bootstrapAdminKey(deps, config.bootstrapAdminKey)))
    logger.info('created the bootstrap admin key from VANE_BOOTSTRAP_ADMIN_KEY')

  const metrics = createMetrics()
  const delivery = new Delivery({
    ...deps,
    ...(config.heartbeatMs !== undefined && { heartbeatMs: config.heartbeatMs }),
    onEventSent: (kind, count) => metrics.eventsSent.inc({ kind }, count),
    limits: streamLimits(config),
    onRefused: (kind, cap) => metrics.streamsRefused.inc({ kind, cap }),
    onDropped: (kind, reason) => metrics.streamsDropped.inc({ kind, reason }),
    onPropagated: (seconds) => metrics.propagation.observe(seconds),
  })
  metrics.trackStreams(delivery)
  if (shared !== undefined) metrics.trackFeed(() => shared.state())
  const tokens = new StreamTokens(config.streamSecret ?? crypto.randomUUID() + crypto.randomUUID())
  const app = createApp({
    ...deps,
    delivery,
    tokens,
    publicUrl: config.publicUrl,
    onEvaluate: (endpoint, flags) => metrics.evaluations.inc({ endpoint }, flags),
    ready: () => ready,
    ...(shared !== undefined && {
      feedState: () => {
        const state = shared.state()
        // behind by more than a few changes, or cut off for over 10 s: send traffic elsewhere
        const healthy = state.behind <= 100 && (state.connected || Date.now() - state.since < 10_000)
        return { ready: healthy, connected: state.connected, behind: state.behind }
      },
    }),
    ...(config.rateLimit !== undefined && { rateLimit: config.rateLimit }),
    ...(config.evaluationRateLimit !== undefined && { evaluationRateLimit: config.evaluationRateLimit }),
    authFailures: nodeAuthFailures(config),
    ...observeApp(metrics, logger),
  })
  let retentionDays = config.outcomeRetentionDays ?? 30
  if (!Number.isFinite(retentionDays) || retentionDays < 0) {
    logger.warn(
      { given: config.outcomeRetentionDays },
      'VANE_OUTCOME_RETENTION_DAYS is not a number of days: keeping 30',
    )
    retentionDays = 30
  } else if (retentionDays > 0 && retentionDays < 1) {
    // the impact view reads the last 24 hours
    logger.warn({ given: retentionDays }, 'VANE_OUTCOME_RETENTION_DAYS is below 1: keeping 1 day')
    retentionDays = 1
  }
  const stopPruning =
    retentionDays > 0
      ? startOutcomePruning({
          store,
          retentionDays,
          onPruned: (rows) => {
            if (rows > 0) logger.info({ rows, retentionDays }, 'pruned old outcome reports')
          },
          onError: (error) => logger.warn({ err: error }, 'pruning old outcome reports failed; retrying in an hour'),
        })
      : undefined
  const { server, port } = await serveNode(app, serveOptions(config))
  ready = true
  const url = `http://${config.hostname.includes(':') ? `[${config.hostname}]` : config.hostname}:${port}`
  logger.info({ url, dialect: store.dialect }, 'vane listening')
  return {
    url,
    port,
    store,
    logger,
    close: async () => {
      stopPruning?.()
      delivery.close()
      await shared?.close()
      return closeServer(server, store)
    },
  }
}

async function closeServer(server: ServerType, store: Store): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve())
    // idle keep-alive sockets would hold close() open forever
    if ('closeIdleConnections' in server) server.closeIdleConnections()
  })
  await store.close()
}
