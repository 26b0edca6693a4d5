// A benchmarked `vane serve` process: the bench environment (see benchServerEnv), a free loopback port, ready
// once /readyz answers 200, requests over a keep-alive agent with the admin key, stopped with SIGTERM (which
// lets --cpu-prof write its profile) and SIGKILL after a grace period.
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { awaitServer, benchServerEnv, freePort, request, sleep } from './http.mjs'
import { spawnNode } from './lifecycle.mjs'

export const HOST = '127.0.0.1'

/** An admin key of its own for each run. */
export const newAdminKey = () => `vane_admin_bench_${randomBytes(16).toString('hex')}`

/**
 * Starts `node [nodeArgs] <cli> serve [args]` with `extra` environment and resolves once it is ready. The
 * server's last output lines are kept in `log` (an array of the caller's, so that it outlives a restart).
 * `fileLimit` raises the open-file limit first (see spawnNode).
 */
export async function startVane({
  cli,
  cwd,
  adminKey,
  extra = {},
  args = [],
  nodeArgs = [],
  name = 'server',
  log = [],
  keep,
  timeoutMs,
  fileLimit,
  maxSockets = 4,
}) {
  const port = await freePort(HOST)
  const env = benchServerEnv(process.env, { PORT: String(port), HOST, VANE_BOOTSTRAP_ADMIN_KEY: adminKey, ...extra })
  const child = spawnNode(
    [...nodeArgs, cli, 'serve', ...args],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
    { fileLimit },
  )
  const agent = new http.Agent({ keepAlive: true, maxSockets })
  const running = () => child.exitCode === null && child.signalCode === null
  const vane = {
    name,
    port,
    child,
    pid: child.pid,
    log,
    /** One request; the admin key unless `key` says otherwise. */
    request: (method, path, { key = adminKey, ...options } = {}) =>
      request({ host: HOST, port, agent }, method, path, { key, ...options }),
    /** An admin API call (`path` below /admin/v1); throws unless it succeeded, resolves with the parsed answer. */
    async admin(method, path, body) {
      const res = await vane.request(method, `/admin/v1${path}`, { body })
      if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 400)}`)
      return JSON.parse(res.text)
    },
    /** SIGTERM, then SIGKILL if it is still running after `graceMs`. */
    async stop(graceMs = 12_000) {
      agent.destroy()
      if (!running()) return
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([gone, sleep(graceMs)])
      if (running()) child.kill('SIGKILL')
    },
  }
  await awaitServer(child, { name, log, keep, probe: () => vane.request('GET', '/readyz'), timeoutMs })
  return vane
}
