/** The server's settings, read from the environment by the CLI (`docs/operations.md` lists every variable). */

/** Where and how to run; read from the environment by the CLI. */
export interface ServerConfig {
  port: number
  hostname: string
  databaseUrl?: string
  /** PostgreSQL schema (env `VANE_PG_SCHEMA`); lets deployments or test runs share one database. */
  databaseSchema?: string
  dataDir?: string
  bootstrapAdminKey?: string
  logLevel?: string
  rateLimit?: { perSecond: number; burst: number }
  /** The address clients use to reach this server, for the URLs it hands out. */
  publicUrl?: string
  /** Signs OFREP event-stream URLs; instances behind one load balancer must share it. Random per process if unset. */
  streamSecret?: string
  /** Milliseconds between stream heartbeats (env `VANE_HEARTBEAT_MS`); lower it behind proxies with short idle timeouts. Default 15 s. */
  heartbeatMs?: number
  /** Relay mode (`--upstream`, env `VANE_UPSTREAM`): mirror this upstream server instead of opening a database. */
  upstream?: string
  /** Relay mode: a server key of the environment to mirror (`--sdk-key`, env `VANE_SDK_KEY`). */
  sdkKey?: string
  /** Days of SDK outcome reports kept for the impact view (env `VANE_OUTCOME_RETENTION_DAYS`); 0 keeps them all. Default 30. */
  outcomeRetentionDays?: number
  /** Failed authentications per minute per client address, also the burst (env `VANE_AUTH_FAILURE_LIMIT`); 0 turns the limit off. Default 30. */
  authFailureLimit?: number
  /** Proxies in front whose `X-Forwarded-For` entries are trusted for the client address (env `VANE_TRUST_PROXY`). Default 0: the socket's peer. */
  trustProxy?: number
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const perSecond = Number(env.VANE_RATE_LIMIT ?? 100)
  return {
    port: Number(env.PORT ?? 8787),
    hostname: env.HOST ?? '127.0.0.1',
    ...(env.DATABASE_URL !== undefined && { databaseUrl: env.DATABASE_URL }),
    ...(env.VANE_PG_SCHEMA !== undefined && { databaseSchema: env.VANE_PG_SCHEMA }),
    ...(env.VANE_DATA_DIR !== undefined && { dataDir: env.VANE_DATA_DIR }),
    ...(env.VANE_BOOTSTRAP_ADMIN_KEY !== undefined && { bootstrapAdminKey: env.VANE_BOOTSTRAP_ADMIN_KEY }),
    ...(env.LOG_LEVEL !== undefined && { logLevel: env.LOG_LEVEL }),
    ...(env.VANE_STREAM_SECRET !== undefined && { streamSecret: env.VANE_STREAM_SECRET }),
    ...(env.VANE_PUBLIC_URL !== undefined && { publicUrl: env.VANE_PUBLIC_URL }),
    ...(Number(env.VANE_HEARTBEAT_MS) > 0 && { heartbeatMs: Number(env.VANE_HEARTBEAT_MS) }),
    ...(env.VANE_UPSTREAM !== undefined && { upstream: env.VANE_UPSTREAM }),
    ...(env.VANE_SDK_KEY !== undefined && { sdkKey: env.VANE_SDK_KEY }),
    ...(env.VANE_OUTCOME_RETENTION_DAYS !== undefined && {
      outcomeRetentionDays: Number(env.VANE_OUTCOME_RETENTION_DAYS),
    }),
    ...(env.VANE_AUTH_FAILURE_LIMIT !== undefined && { authFailureLimit: Number(env.VANE_AUTH_FAILURE_LIMIT) }),
    ...(env.VANE_TRUST_PROXY !== undefined && { trustProxy: Number(env.VANE_TRUST_PROXY) }),
    rateLimit: { perSecond, burst: perSecond * 2 },
  }
}
