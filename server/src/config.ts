/** The server's settings, read from the environment by the CLI (`docs/operations.md` lists every variable). */
import { z } from 'zod'
import { checkBootstrapKey } from './control/keys.js'
import { SCHEMA_NAME } from './storage/postgres.js'

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
  /** Per-key rate on the admin API (env `VANE_RATE_LIMIT`). Default 100/s, bursts of 200. */
  rateLimit?: { perSecond: number; burst: number }
  /** Per-key rate on evaluation and streams (env `VANE_EVALUATION_RATE_LIMIT`). Default 2,000/s, bursts of 4,000. */
  evaluationRateLimit?: { perSecond: number; burst: number }
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

/** What each variable accepts, for the error; secrets are never echoed back. */
const about = z.registry<{ accepts: string; secret?: boolean }>()

/** One environment variable: its parser (with `.optional()` or `.default()`) and what it accepts, in words. */
function setting<T extends z.ZodType>(accepts: string, schema: T, secret = false): T {
  about.add(schema, { accepts, secret })
  return schema
}

const integer = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'not a whole number').transform(Number).pipe(z.number().int().min(min).max(max))

/** Above zero and finite: `0` would refuse every request, and a word would turn the limit off. */
const positiveNumber = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'not a number')
  .transform(Number)
  .pipe(z.number().positive().finite())

const httpUrl = (extra: (url: URL) => boolean = () => true) =>
  z.string().refine((value) => {
    if (!URL.canParse(value)) return false
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && extra(url)
  }, 'not an absolute http(s) URL')

/**
 * Every environment variable the server reads, one entry each, checked together at start-up. Empty values count
 * as unset. To add a setting: an entry here, a field in {@link ServerConfig}, a line in {@link configFromEnv} and
 * a row in `docs/operations.md`.
 */
export const envSchema = z.object({
  PORT: setting('a whole number from 0 (any free port) to 65535', integer(0, 65_535).default(8787)),
  HOST: setting(
    'a host name or IP address to listen on, such as 127.0.0.1, 0.0.0.0 or ::, without a scheme or path',
    z
      .string()
      .regex(/^[^\s/]+$/, 'not a host name')
      .default('127.0.0.1'),
  ),
  DATABASE_URL: setting(
    'a postgres:// or postgresql:// URL (unset for SQLite)',
    z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//i.test(v) && URL.canParse(v), 'not a PostgreSQL URL')
      .optional(),
    true,
  ),
  VANE_PG_SCHEMA: setting(
    'a schema name of lower-case letters, digits and underscores, at most 63, not starting with a digit',
    z.string().regex(SCHEMA_NAME, 'not a schema name').optional(),
  ),
  VANE_DATA_DIR: setting('a directory path', z.string().optional()),
  VANE_BOOTSTRAP_ADMIN_KEY: setting(
    'a random secret of at least 32 characters, e.g. "$(openssl rand -base64 32)"',
    z
      .string()
      .superRefine((secret, ctx) => {
        try {
          checkBootstrapKey(secret)
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) })
        }
      })
      .optional(),
    true,
  ),
  LOG_LEVEL: setting(
    'one of fatal, error, warn, info, debug, trace, silent',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  ),
  VANE_RATE_LIMIT: setting(
    'a number of admin requests per second per key, above 0 (e.g. 100)',
    positiveNumber.default(100),
  ),
  VANE_EVALUATION_RATE_LIMIT: setting(
    'a number of evaluation and stream requests per second per key, above 0 (e.g. 2000)',
    positiveNumber.default(2_000),
  ),
  VANE_STREAM_SECRET: setting(
    'a random secret of at least 32 characters, the same on every instance, e.g. "$(openssl rand -base64 32)"',
    z.string().min(32, 'too short').optional(),
    true,
  ),
  VANE_PUBLIC_URL: setting(
    'an absolute http(s) URL without query or fragment, such as https://flags.example.com',
    httpUrl((url) => url.search === '' && url.hash === '' && url.username === '').optional(),
  ),
  VANE_HEARTBEAT_MS: setting('a whole number of milliseconds from 100 to 600000', integer(100, 600_000).optional()),
  VANE_UPSTREAM: setting("the upstream server's absolute http(s) URL", httpUrl().optional()),
  VANE_SDK_KEY: setting('a server key of the environment to mirror', z.string().optional(), true),
  VANE_AUTH_FAILURE_LIMIT: setting(
    'a whole number of failed authentications per minute per client address (0 turns the limit off)',
    integer(0, 1_000_000).optional(),
  ),
  VANE_TRUST_PROXY: setting(
    'the whole number of proxies in front that append to X-Forwarded-For (0: use the socket address)',
    integer(0, 32).optional(),
  ),
  VANE_STREAMS_PER_KEY: setting(
    'a whole number of open streams one key may hold on this instance (0: no cap)',
    integer(0, 10_000_000).optional(),
  ),
  VANE_STREAMS_PER_ADDRESS: setting(
    'a whole number of open streams one client address may hold on this instance (0: no cap)',
    integer(0, 10_000_000).optional(),
  ),
  VANE_STREAM_CONTEXT_BYTES: setting(
    'a whole number of bytes from 2 to 1048576, the largest context a client stream may send',
    integer(2, 1_048_576).optional(),
  ),
  VANE_HEADERS_TIMEOUT_MS: setting(
    'a whole number of milliseconds of at least 1 to receive the request headers',
    integer(1, 3_600_000).optional(),
  ),
  VANE_REQUEST_TIMEOUT_MS: setting(
    'a whole number of milliseconds of at least 1 to receive a whole request',
    integer(1, 3_600_000).optional(),
  ),
  VANE_MAX_UNAUTHENTICATED_CONNECTIONS: setting(
    'a whole number of at least 1 of connections without an authenticated request yet',
    integer(1, 10_000_000).optional(),
  ),
  VANE_OUTCOME_RETENTION_DAYS: setting(
    '0 (keep every report) or a number of days of at least 1',
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'not a number')
      .transform(Number)
      .refine((days) => days === 0 || days >= 1, 'between 0 and 1')
      .optional(),
  ),
})

/** Refused settings: one line per variable, naming it, what it got and what it accepts. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Checks every variable at once (see {@link envSchema}); throws a {@link ConfigError} listing all that are wrong. */
export function parseEnv(env: NodeJS.ProcessEnv = process.env): z.output<typeof envSchema> {
  const input: Record<string, string> = {}
  for (const name of Object.keys(envSchema.shape)) {
    const value = env[name]?.trim()
    if (value) input[name] = value
  }
  const parsed = envSchema.safeParse(input)
  if (parsed.success) return parsed.data
  const problems = new Map<string, string>()
  for (const issue of parsed.error.issues) {
    const name = String(issue.path[0])
    if (problems.has(name)) continue
    const meta = about.get(envSchema.shape[name as keyof typeof envSchema.shape])
    // a check that words its own error (the bootstrap key's) is shown as it is
    if (issue.code === 'custom' && issue.message.startsWith(`${name} `)) problems.set(name, issue.message)
    else {
      const got = meta?.secret
        ? `a value of ${input[name]?.length} characters (not shown)`
        : JSON.stringify(input[name])
      problems.set(name, `${name} is ${got}, but it must be ${meta?.accepts ?? 'valid'} (${issue.message})`)
    }
  }
  throw new ConfigError([...problems.values()])
}

/** The server's settings from the environment, checked; throws a {@link ConfigError} naming every bad variable. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const s = parseEnv(env)
  return {
    port: s.PORT,
    hostname: s.HOST,
    ...(s.DATABASE_URL !== undefined && { databaseUrl: s.DATABASE_URL }),
    ...(s.VANE_PG_SCHEMA !== undefined && { databaseSchema: s.VANE_PG_SCHEMA }),
    ...(s.VANE_DATA_DIR !== undefined && { dataDir: s.VANE_DATA_DIR }),
    ...(s.VANE_BOOTSTRAP_ADMIN_KEY !== undefined && { bootstrapAdminKey: s.VANE_BOOTSTRAP_ADMIN_KEY }),
    ...(s.LOG_LEVEL !== undefined && { logLevel: s.LOG_LEVEL }),
    rateLimit: { perSecond: s.VANE_RATE_LIMIT, burst: s.VANE_RATE_LIMIT * 2 },
    evaluationRateLimit: { perSecond: s.VANE_EVALUATION_RATE_LIMIT, burst: s.VANE_EVALUATION_RATE_LIMIT * 2 },
    ...(s.VANE_STREAM_SECRET !== undefined && { streamSecret: s.VANE_STREAM_SECRET }),
    ...(s.VANE_PUBLIC_URL !== undefined && { publicUrl: s.VANE_PUBLIC_URL }),
    ...(s.VANE_HEARTBEAT_MS !== undefined && { heartbeatMs: s.VANE_HEARTBEAT_MS }),
    ...(s.VANE_UPSTREAM !== undefined && { upstream: s.VANE_UPSTREAM }),
    ...(s.VANE_SDK_KEY !== undefined && { sdkKey: s.VANE_SDK_KEY }),
    ...(s.VANE_OUTCOME_RETENTION_DAYS !== undefined && { outcomeRetentionDays: s.VANE_OUTCOME_RETENTION_DAYS }),
    ...(s.VANE_AUTH_FAILURE_LIMIT !== undefined && { authFailureLimit: s.VANE_AUTH_FAILURE_LIMIT }),
    ...(s.VANE_TRUST_PROXY !== undefined && { trustProxy: s.VANE_TRUST_PROXY }),
    ...(s.VANE_STREAMS_PER_KEY !== undefined && { streamsPerKey: s.VANE_STREAMS_PER_KEY }),
    ...(s.VANE_STREAMS_PER_ADDRESS !== undefined && { streamsPerAddress: s.VANE_STREAMS_PER_ADDRESS }),
    ...(s.VANE_STREAM_CONTEXT_BYTES !== undefined && { streamContextBytes: s.VANE_STREAM_CONTEXT_BYTES }),
    ...(s.VANE_HEADERS_TIMEOUT_MS !== undefined && { headersTimeoutMs: s.VANE_HEADERS_TIMEOUT_MS }),
    ...(s.VANE_REQUEST_TIMEOUT_MS !== undefined && { requestTimeoutMs: s.VANE_REQUEST_TIMEOUT_MS }),
    ...(s.VANE_MAX_UNAUTHENTICATED_CONNECTIONS !== undefined && {
      maxUnauthenticatedConnections: s.VANE_MAX_UNAUTHENTICATED_CONNECTIONS,
    }),
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
