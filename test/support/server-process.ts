/**
 * @module test/support/server-process
 * The built server (`server/dist/cli.js`) as a real process on loopback: spawning, waiting for its
 * "vane listening" line, admin calls, bounded stops, and its output when a test fails.
 *
 * @example
 * const servers = new ServerPool()
 * afterEach(() => servers.stopAll())
 * it('…', async () => {
 *   const server = await servers.start({ env: { VANE_DATA_DIR: dir } })
 *   const res = await server.call('POST', '/admin/v1/environments', { key: 'production' })
 * })
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { onTestFailed } from 'vitest'
import { sleep } from './wait.js'

/** The CLI under test; `VANE_TEST_SERVER_CLI` points the suites at another build (e.g. a deliberately broken one). */
export const SERVER_CLI =
  process.env.VANE_TEST_SERVER_CLI ?? fileURLToPath(new URL('../../server/dist/cli.js', import.meta.url))

/** The bootstrap admin key every spawned server is given. */
export const ADMIN_SECRET = 'vane_admin_PCloy7U82-d371Ly58OKe1l7M-cAfnGc'

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
  /** The process's open-file limit (`ulimit -n`, set by bash before it execs node, so the pid stays node's). */
  fileLimit?: number
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
    void exit.then(() => {
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
    const argv = [process.execPath, SERVER_CLI, 'serve', ...(options.args ?? [])]
    const [command, ...args] =
      options.fileLimit === undefined
        ? argv
        : ['bash', '-c', `ulimit -n ${options.fileLimit} && exec "$0" "$@"`, ...argv]
    const child = spawn(command!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
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
        void exit.then(({ code, signal }) =>
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
    void exit.then(() => this.#running.delete(started))
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
