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
  /** Open streams one key may hold on this instance (env `VANE_STREAMS_PER_KEY`); 0: no cap. Default 10,000. */
  streamsPerKey?: number
  /** Open streams one client address may hold on this instance (env `VANE_STREAMS_PER_ADDRESS`); 0: no cap. Default 1,000. */
  streamsPerAddress?: number
  /** Largest request body (the context) of a client stream, in bytes (env `VANE_STREAM_CONTEXT_BYTES`). Default 32 KiB. */
  streamContextBytes?: number
  /** Milliseconds a client has to send a request's headers (env `VANE_HEADERS_TIMEOUT_MS`). Default 10 s. */
  headersTimeoutMs?: number
  /** Milliseconds a client has to send a whole request, body included (env `VANE_REQUEST_TIMEOUT_MS`). Default 60 s. */
  requestTimeoutMs?: number
  /** Connections without an authenticated request yet, beyond which the oldest is closed (env `VANE_MAX_UNAUTHENTICATED_CONNECTIONS`). Default 256. */
  maxUnauthenticatedConnections?: number
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
    rateLimit: { perSecond, burst: perSecond * 2 },
    ...connectionLimitsFromEnv(env),
  }
}

/** Stream caps and connection limits; each must be a whole number, so a typo fails the start instead of lifting a limit. */
function connectionLimitsFromEnv(env: NodeJS.ProcessEnv) {
  const whole = (name: string, min: number): number | undefined => {
    const raw = env[name]
    if (raw === undefined || raw.trim() === '') return undefined
    const value = Number(raw)
    if (!Number.isSafeInteger(value) || value < min)
      throw new Error(`${name} must be a whole number of at least ${min}, got "${raw}"`)
    return value
  }
  const limits = {
    streamsPerKey: whole('VANE_STREAMS_PER_KEY', 0),
    streamsPerAddress: whole('VANE_STREAMS_PER_ADDRESS', 0),
    streamContextBytes: whole('VANE_STREAM_CONTEXT_BYTES', 2),
    headersTimeoutMs: whole('VANE_HEADERS_TIMEOUT_MS', 1),
    requestTimeoutMs: whole('VANE_REQUEST_TIMEOUT_MS', 1),
    maxUnauthenticatedConnections: whole('VANE_MAX_UNAUTHENTICATED_CONNECTIONS', 1),
  }
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as {
    [K in keyof typeof limits]?: number
  }
}

/** The stream caps of a config, for `Delivery` (unset ones keep their defaults). */
export function streamLimits(config: ServerConfig) {
  return {
    ...(config.streamsPerKey !== undefined && { perKey: config.streamsPerKey }),
    ...(config.streamsPerAddress !== undefined && { perAddress: config.streamsPerAddress }),
    ...(config.streamContextBytes !== undefined && { contextBytes: config.streamContextBytes }),
  }
}

/** Where to listen and the connection limits of a config, for `serveNode`. */
export function serveOptions(config: ServerConfig) {
  return {
    port: config.port,
    hostname: config.hostname,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxUnauthenticatedConnections: config.maxUnauthenticatedConnections,
  }
}
