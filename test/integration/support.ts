/**
 * @module test/integration/support
 * Helpers for suites that run the built server (`server/dist/cli.js`) as a real process and talk to it over
 * HTTP on loopback, then inspect its database directly.
 *
 * @example
 * const servers = new ServerPool()
 * afterEach(() => servers.stopAll())
 * it('…', async () => {
 *   const server = await servers.start({ VANE_DATA_DIR: dir })
 *   const res = await server.call('POST', '/admin/v1/environments', { key: 'production' })
 * })
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { onTestFailed } from 'vitest'

/** The CLI under test; `VANE_TEST_SERVER_CLI` points the suites at another build (e.g. a deliberately broken one). */
export const SERVER_CLI =
  process.env.VANE_TEST_SERVER_CLI ?? fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url))

/** PostgreSQL the PostgreSQL variants use; every run gets a schema of its own inside it. */
export const POSTGRES_URL = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** The bootstrap admin key every spawned server is given. */
export const ADMIN_SECRET = 'vane_admin_PCloy7U82-d371Ly58OKe1l7M-cAfnGc'

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A unique, valid PostgreSQL schema name such as `vane_test_3f9a0c12d4e5`. */
export const randomSchema = () => `vane_test_${randomBytes(6).toString('hex')}`

/** What came back from one request. `json` is the parsed body, or undefined when it was not JSON. */
export interface Reply {
  status: number
  headers: Headers
  text: string
  json: unknown
}

export interface StartOptions {
  /** Extra environment for the process (e.g. `VANE_DATA_DIR`, `DATABASE_URL`, `VANE_PG_SCHEMA`). */
  env: Record<string, string>
  /** How long to wait for the "listening" log line. Default 20 s. */
  timeoutMs?: number
  /** Arguments after `serve` (e.g. `--upstream URL --sdk-key K` for a relay). */
  args?: string[]
}

const KEEP_LINES = 60

/** A running `vane serve` process. */
export class ServerProcess {
  #recent: string[] = []
  #problems: string[] = []
  #stderr = ''
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  exited = false

  constructor(
    readonly child: ChildProcess,
    readonly url: string,
    exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {
    this.#exit = exit
    exit.then(() => {
      this.exited = true
    })
  }

  /** @internal fed by {@link ServerPool.start} */
  record(stream: 'stdout' | 'stderr', line: string): void {
    if (stream === 'stderr') this.#stderr = `${this.#stderr}${line}\n`.slice(-8_000)
    this.#recent.push(line)
    if (this.#recent.length > KEEP_LINES) this.#recent.shift()
    // pino levels: 40 warn, 50 error, 60 fatal; kept apart so request logs cannot push them out
    if (/"level":\s*[4-6]\d/.test(line) && this.#problems.length < 100) this.#problems.push(line)
  }

  /** Recent output, warnings and errors, and stderr: for failure messages. */
  output(): string {
    return [
      `--- server ${this.url} (pid ${this.child.pid}) warnings/errors:`,
      ...this.#problems,
      '--- stderr:',
      this.#stderr,
      `--- last ${KEEP_LINES} lines:`,
      ...this.#recent,
    ].join('\n')
  }

  /** Sends a request with the admin key, JSON-encoding `body`; each request gives up after `timeoutMs`. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 15_000,
  ): Promise<Reply> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_SECRET}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, headers: res.headers, text, json }
  }

  /** Sends `signal` and waits (bounded) for the process to end. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
    if (this.exited) return
    this.child.kill(signal)
    const timeout = sleep(timeoutMs).then(() => 'timeout' as const)
    if ((await Promise.race([this.#exit, timeout])) === 'timeout') {
      this.child.kill('SIGKILL')
      await Promise.race([this.#exit, sleep(5_000)])
      throw new Error(`server pid ${this.child.pid} did not exit within ${timeoutMs} ms of ${signal}`)
    }
  }

  /** How the process ended (waits for it). */
  exit() {
    return this.#exit
  }
}

/** Starts servers and makes sure none outlives its test. */
export class ServerPool {
  readonly #running = new Set<ServerProcess>()

  /**
   * Spawns `node server/dist/cli.js serve` on 127.0.0.1 with PORT=0 and resolves once it logs the
   * "vane listening" line with its URL. Rejects with the process's output when it exits or is too slow.
   * When called inside a test, the server's output is printed if that test fails.
   */
  async start(options: StartOptions): Promise<ServerProcess> {
    if (!existsSync(SERVER_CLI)) throw new Error(`${SERVER_CLI} is missing: build first (pnpm -r build)`)
    const env: NodeJS.ProcessEnv = {}
    // only what the server needs: an inherited DATABASE_URL must not turn a SQLite run into a PostgreSQL one
    for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT']) {
      const value = process.env[name]
      if (value !== undefined) env[name] = value
    }
    Object.assign(env, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      VANE_RATE_LIMIT: '1000000',
      VANE_BOOTSTRAP_ADMIN_KEY: ADMIN_SECRET,
      ...options.env,
    })
    const child = spawn(process.execPath, [SERVER_CLI, 'serve', ...(options.args ?? [])], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      child.once('error', () => resolve({ code: null, signal: null }))
    })

    const lines: { stream: 'stdout' | 'stderr'; line: string }[] = []
    let server: ServerProcess | undefined
    let onListening: ((url: string) => void) | undefined
    const feed = (stream: 'stdout' | 'stderr') => {
      let partial = ''
      child[stream]!.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n')
        partial = parts.pop() ?? ''
        for (const line of parts) {
          if (server) server.record(stream, line)
          else lines.push({ stream, line })
          if (onListening && stream === 'stdout' && line.includes('"url"')) {
            try {
              const parsed = JSON.parse(line) as { url?: unknown }
              if (typeof parsed.url === 'string') onListening(parsed.url)
            } catch {
              // not a JSON log line
            }
          }
        }
      })
    }
    feed('stdout')
    feed('stderr')

    const timeoutMs = options.timeoutMs ?? 20_000
    const early = () => lines.map((l) => `${l.stream}: ${l.line}`).join('\n')
    let timer: NodeJS.Timeout | undefined
    try {
      const url = await new Promise<string>((resolve, reject) => {
        onListening = resolve
        timer = setTimeout(
          () => reject(new Error(`no "listening" line within ${timeoutMs} ms:\n${early()}`)),
          timeoutMs,
        )
        exit.then(({ code, signal }) =>
          reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${early()}`)),
        )
      })
      server = new ServerProcess(child, url, exit)
    } catch (error) {
      child.kill('SIGKILL')
      await Promise.race([exit, sleep(5_000)])
      throw error
    } finally {
      clearTimeout(timer)
      onListening = undefined
    }
    for (const { stream, line } of lines) server.record(stream, line)
    this.#running.add(server)
    const started = server
    exit.then(() => this.#running.delete(started))
    try {
      onTestFailed(() => {
        console.error(started.output())
      })
    } catch {
      // not inside a test: the caller reports failures itself
    }
    return server
  }

  /** SIGKILLs every server still running and waits for each to exit. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((s) => s.stop('SIGKILL', 5_000).catch(() => {})))
  }
}

/** The database file of a SQLite data dir. */
export const sqliteFile = (dataDir: string) => join(dataDir, 'vane.db')

/** One `change_log` row, normalised across dialects. */
export interface ChangeRow {
  environment: string
  version: number
  entity: string
  key: string
  op: string
  payload: unknown
  createdAt: string
}

/** One `audit_log` row, normalised across dialects. */
export interface AuditRow {
  id: number
  at: string
  action: string
  entityType: string
  entityKey: string
  environment: string | null
  after: unknown
}

/** Direct, read-mostly access to a server's tables, bypassing the server. */
export interface DatabaseView {
  changes(environment: string): Promise<ChangeRow[]>
  audits(): Promise<AuditRow[]>
  environmentVersion(environment: string): Promise<number | undefined>
  /** Runs one SQL query (`?` placeholders on SQLite, `$1` on PostgreSQL) and returns its rows. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

const iso = (value: unknown) => new Date(value as string | Date).toISOString()
const parseJson = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value)

interface RawChange {
  environment: string
  version: number
  entity: string
  key: string
  op: string
  payload: unknown
  created_at: unknown
}
interface RawAudit {
  id: number
  at: unknown
  action: string
  entity_type: string
  entity_key: string
  environment: string | null
  after: unknown
}

function view(query: DatabaseView['query'], close: () => Promise<void>): DatabaseView {
  return {
    query,
    close,
    changes: async (environment) =>
      (
        await query<RawChange>(
          'SELECT environment, version, entity, key, op, payload, created_at FROM change_log WHERE environment = ? ORDER BY version',
          [environment],
        )
      ).map((r) => ({
        environment: r.environment,
        version: Number(r.version),
        entity: r.entity,
        key: r.key,
        op: r.op,
        payload: parseJson(r.payload),
        createdAt: iso(r.created_at),
      })),
    audits: async () =>
      (
        await query<RawAudit>(
          'SELECT id, at, action, entity_type, entity_key, environment, after FROM audit_log ORDER BY id',
        )
      ).map((r) => ({
        id: Number(r.id),
        at: iso(r.at),
        action: r.action,
        entityType: r.entity_type,
        entityKey: r.entity_key,
        environment: r.environment,
        after: parseJson(r.after),
      })),
    environmentVersion: async (environment) => {
      const rows = await query<{ version: number }>('SELECT version FROM environments WHERE key = ?', [environment])
      return rows[0] === undefined ? undefined : Number(rows[0].version)
    },
  }
}

/** Opens a SQLite database file (which must exist) with better-sqlite3. */
export function openSqliteView(file: string): DatabaseView & { db: Database.Database } {
  const db = new Database(file, { fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  return {
    db,
    ...view(
      async <T>(sql: string, params: unknown[] = []) => db.prepare(sql).all(...params) as T[],
      async () => {
        db.close()
      },
    ),
  }
}

/** Connects to `schema` in the test PostgreSQL database. */
export async function openPostgresView(schema: string, url = POSTGRES_URL): Promise<DatabaseView> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
  await client.connect()
  return view(
    async <T>(sql: string, params: unknown[] = []) => {
      let n = 0
      const text = sql.replace(/\?/g, () => `$${++n}`)
      return (await client.query(text, params)).rows as T[]
    },
    () => client.end(),
  )
}

/** Runs `fn` with a plain PostgreSQL client on the test database (creating and dropping schemas). */
export async function withPostgres<T>(fn: (client: pg.Client) => Promise<T>, url = POSTGRES_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/**
 * Checks the write log of one environment of a single-environment deployment and returns the changes paired
 * with their audit entries. Throws (with what is wrong) unless: the versions are exactly 1..N, the
 * environment's version is N, and the audit entries that stand for changes (flags and cohorts) are exactly
 * one per change, in the same order, for the same entity, written by the same transaction (same timestamp).
 */
export async function checkWriteLog(
  db: DatabaseView,
  environment: string,
): Promise<{ changes: ChangeRow[]; pairs: [ChangeRow, AuditRow][] }> {
  const changes = await db.changes(environment)
  const problems: string[] = []
  const versions = changes.map((c) => c.version)
  const expected = versions.map((_, i) => i + 1)
  if (JSON.stringify(versions) !== JSON.stringify(expected)) {
    const missing = expected.filter((v) => !versions.includes(v))
    const duplicated = versions.filter((v, i) => versions.indexOf(v) !== i)
    problems.push(
      `change_log versions of ${environment} are not 1..${versions.length}: missing ${missing.join(',') || '-'}, duplicated ${duplicated.join(',') || '-'}, first ${versions.slice(0, 10).join(',')}`,
    )
  }
  const envVersion = await db.environmentVersion(environment)
  if (envVersion !== changes.length)
    problems.push(`environment ${environment} is at version ${envVersion} but has ${changes.length} changes`)

  const audits = (await db.audits()).filter(
    (a) =>
      (a.entityType === 'flag' || a.entityType === 'cohort') &&
      (a.environment === null || a.environment === environment),
  )
  if (audits.length !== changes.length)
    problems.push(`${changes.length} changes but ${audits.length} flag/cohort audit entries`)
  const pairs: [ChangeRow, AuditRow][] = []
  for (let i = 0; i < Math.min(changes.length, audits.length); i++) {
    const change = changes[i]!
    const audit = audits[i]!
    pairs.push([change, audit])
    if (change.entity !== audit.entityType || change.key !== audit.entityKey || change.createdAt !== audit.at) {
      problems.push(
        `change ${change.version} (${change.entity} ${change.key} at ${change.createdAt}) does not match audit #${audit.id} (${audit.action} ${audit.entityType} ${audit.entityKey} at ${audit.at})`,
      )
      if (problems.length > 20) break
    }
  }
  if (problems.length > 0) throw new Error(`write log of ${environment} is inconsistent:\n${problems.join('\n')}`)
  return { changes, pairs }
}
