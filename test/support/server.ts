/**
 * @module test/support/server
 * A real `vane serve` process for cross-package suites, on 127.0.0.1 with a temporary SQLite data directory.
 *
 * Spawning, waiting for the "vane listening" log line, bounded stops and failure output are
 * `ServerPool`/`ServerProcess` from `./server-process.ts`, reused rather than copied. This module adds
 * what black-box suites need on top: one temporary `VANE_DATA_DIR` per process (removed by `stopAll`), admin
 * calls that fail loudly with the server's answer, and API-key creation.
 *
 * @example
 * const servers = new VaneServers()
 * afterAll(() => servers.stopAll())
 * const vane = await servers.start()
 * await vane.admin('POST', '/admin/v1/environments', { key: 'production' }, [201])
 * const secret = await vane.createKey({ kind: 'server', environment: 'production' })
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Reply, ServerPool, type ServerProcess } from './server-process.js'
import { sleep } from './wait.js'

// the browser SDK's suites take `sleep` from here
export { sleep }

/** What a key is for; `client` keys are the publishable browser keys with `allowedOrigins`. */
export interface KeyRequest {
  kind: 'server' | 'client'
  environment: string
  name?: string
  allowedOrigins?: string[]
}

/** One running server with helpers bound to it. */
export interface Vane {
  server: ServerProcess
  /** Base URL, e.g. `http://127.0.0.1:43127`. */
  url: string
  dataDir: string
  /**
   * Sends an admin request (JSON body, admin key) and returns the reply; throws with the method, path, status
   * and body when the status is not one of `expect` (any 2xx when omitted).
   */
  admin(method: string, path: string, body?: unknown, expect?: number[]): Promise<Reply>
  /** Creates an API key and returns its secret. */
  createKey(request: KeyRequest): Promise<string>
}

/** Starts Vane servers on fresh data directories; `stopAll` kills them and removes the directories. */
export class VaneServers {
  readonly #pool = new ServerPool()
  readonly #dirs = new Set<string>()
  /** Starts in flight: `stopAll` waits for them, so a server that comes up late is not left running. */
  readonly #starting = new Set<Promise<unknown>>()

  /**
   * Spawns `node server/dist/cli.js serve` (SQLite in a temporary directory); `env` adds or overrides variables,
   * `fileLimit` sets its open-file limit.
   */
  async start(env: Record<string, string> = {}, timeoutMs = 20_000, fileLimit?: number): Promise<Vane> {
    const dataDir = mkdtempSync(join(tmpdir(), 'vane-conformance-'))
    this.#dirs.add(dataDir)
    const starting = this.#pool.start({
      env: { VANE_DATA_DIR: dataDir, ...env },
      timeoutMs,
      ...(fileLimit !== undefined && { fileLimit }),
    })
    this.#starting.add(starting)
    const server = await starting.finally(() => this.#starting.delete(starting))
    const admin: Vane['admin'] = async (method, path, body, expect) => {
      const reply = await server.call(method, path, body)
      const ok = expect === undefined ? reply.status >= 200 && reply.status < 300 : expect.includes(reply.status)
      if (!ok)
        throw new Error(
          `${method} ${path} answered ${reply.status}, expected ${expect?.join('/') ?? '2xx'}: ${reply.text.slice(0, 2_000)}`,
        )
      return reply
    }
    const createKey = async (request: KeyRequest) => {
      const body = { name: request.name ?? `${request.kind}-${request.environment}`, ...request }
      const reply = await admin('POST', '/admin/v1/keys', body, [201])
      const secret = (reply.json as { secret?: unknown }).secret
      if (typeof secret !== 'string') throw new Error(`POST /admin/v1/keys returned no secret: ${reply.text}`)
      return secret
    }
    return { server, url: server.url, dataDir, admin, createKey }
  }

  /** Kills every server this instance started (bounded) and removes their data directories. */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.#starting])
    await this.#pool.stopAll()
    for (const dir of this.#dirs) rmSync(dir, { recursive: true, force: true })
    this.#dirs.clear()
  }
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the order of `items`. After a
 * failure no new call starts, and the first error is thrown only once the calls in flight have settled, so
 * nothing they start outlives the caller's clean-up.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array(items.length)
  const errors: unknown[] = []
  let next = 0
  const worker = async () => {
    while (next < items.length && errors.length === 0) {
      const index = next++
      try {
        results[index] = await fn(items[index]!, index)
      } catch (error) {
        errors.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0]
  return results
}
