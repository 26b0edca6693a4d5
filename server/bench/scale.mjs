// Scale-out benchmark: propagation across instances and through a relay, on loopback.
//   three `vane serve` processes (A, B, C) on one PostgreSQL schema of their own (LOG_LEVEL=warn), and a relay
//   (`vane serve --upstream C --sdk-key K`, no database) in front of C. 200 admin changes one after another
//   (rule disable/enable), each sent to A and timed from just before the request to its `patch` arriving on
//     - a /sdk/v1/stream on A (the writer itself, for reference),
//     - a /sdk/v1/stream on C (A → PostgreSQL NOTIFY → C → stream),
//     - a /sdk/v1/stream on the relay (… → C → relay → stream: one relay hop).
// Prints a table, checks the target (p99 < 100 ms for both) and writes bench-results/scale.json.
// Run: cd server && node bench/scale.mjs   (after a build; or npx pnpm@12.4.2 --filter @vane/server bench:scale)
// Knobs: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; loopback only), BENCH_CHANGES (200),
// BENCH_CLI=<path to another build's cli.js>.
import '../../engine/bench/guard.mjs'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { awaitServer, benchServerEnv, freePort as freePortOn, request as httpRequest, withTimeout } from './http.mjs'
import { openSse } from './sse.mjs'

const env = process.env
const DATABASE_URL = env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const CHANGES = Number(env.BENCH_CHANGES ?? 200)
const WARMUP_CHANGES = 10
const TARGET_P99_MS = 100
const DEADLINE_MS = 120_000
const HOST = '127.0.0.1'
const ADMIN_KEY = `vane_admin_bench_${randomBytes(16).toString('hex')}`
const SCHEMA = `vane_bench_${randomBytes(6).toString('hex')}`

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const repoDir = fileURLToPath(new URL('../..', import.meta.url))
const resultsDir = join(repoDir, 'bench-results')
const cli = env.BENCH_CLI ?? join(serverDir, 'dist', 'cli.js')

// ---- processes: every one tracked and killed on the way out -------------------------------------
const children = new Set()
function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
const watchdog = setTimeout(() => {
  process.stderr.write(`bench:scale: over the ${DEADLINE_MS / 1000} s limit, killing everything\n`)
  killAll()
  process.exit(1)
}, DEADLINE_MS)
watchdog.unref()

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
const request = (port, method, path, { key = ADMIN_KEY, ...options } = {}) =>
  httpRequest({ host: HOST, port, agent }, method, path, { key, ...options })
async function admin(port, method, path, body) {
  const res = await request(port, method, `/admin/v1${path}`, { body })
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 400)}`)
  return JSON.parse(res.text)
}

const logs = new Map()
/** Starts `vane serve` with `extra` environment (and `args`), resolves once /readyz answers 200. */
async function startVane(name, extra, args = []) {
  const port = await freePortOn(HOST)
  const serverEnv = benchServerEnv(env, { PORT: String(port), HOST, VANE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY, ...extra })
  const child = spawn(process.execPath, [cli, 'serve', ...args], {
    cwd: serverDir,
    env: serverEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const log = []
  logs.set(name, log)
  await awaitServer(child, { name, log, keep: 50, probe: () => request(port, 'GET', '/readyz'), timeoutMs: 30_000 })
  return { name, port, child }
}

function summary(values) {
  const sorted = Float64Array.from(values).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  return {
    count: sorted.length,
    min: sorted[0],
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  }
}
const ms = (v) => (Math.abs(v) >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`)

/** A stream whose patches are looked up by id; `put` gives its starting version. */
async function follow(port, key) {
  const arrivals = new Map()
  const waiters = new Map()
  let putVersion
  let primed
  const ready = new Promise((resolve) => {
    primed = resolve
  })
  const stream = await openSse({
    host: HOST,
    port,
    path: '/sdk/v1/stream',
    headers: { authorization: `Bearer ${key}` },
    onEvent: (event, at) => {
      if (event.id === undefined) return
      if (event.event === 'put') {
        putVersion = Number(event.id)
        primed()
        return
      }
      const waiter = waiters.get(event.id)
      if (waiter === undefined) arrivals.set(event.id, { at, event })
      else waiter({ at, event })
    },
  })
  await withTimeout(ready, 5_000, `put on port ${port}`)
  return {
    stream,
    putVersion,
    arrival(id) {
      const seen = arrivals.get(id)
      if (seen !== undefined) return Promise.resolve(seen)
      return withTimeout(new Promise((resolve) => waiters.set(id, resolve)), 10_000, `patch ${id} on port ${port}`)
    },
  }
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const db = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 })
await db.connect()
await db.query(`CREATE SCHEMA "${SCHEMA}"`)
const result = { generatedAt: new Date().toISOString(), changes: CHANGES, warmupChanges: WARMUP_CHANGES }
let failure
try {
  const pgEnv = { DATABASE_URL, VANE_PG_SCHEMA: SCHEMA }
  process.stderr.write(`starting three instances on PostgreSQL (schema ${SCHEMA})…\n`)
  const a = await startVane('A', pgEnv)
  const [, c] = await Promise.all([startVane('B', pgEnv), startVane('C', pgEnv)])

  await admin(a.port, 'POST', '/environments', { key: 'scale' })
  await admin(a.port, 'PUT', '/flags/prop', { type: 'boolean', variants: { on: true, off: false } })
  await admin(a.port, 'PUT', '/environments/scale/flags/prop', {
    enabled: true,
    offVariant: 'off',
    fallthrough: { variant: 'on' },
    rules: [
      { id: 'r1', clauses: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'] }], serve: { variant: 'off' } },
    ],
  })
  const relayKey = (await admin(a.port, 'POST', '/keys', { kind: 'server', name: 'relay', environment: 'scale' }))
    .secret
  const sdkKey = (await admin(a.port, 'POST', '/keys', { kind: 'server', name: 'bench', environment: 'scale' })).secret
  process.stderr.write('starting a relay in front of C…\n')
  const relay = await startVane('relay', {}, ['--upstream', `http://${HOST}:${c.port}`, '--sdk-key', relayKey])

  const onA = await follow(a.port, sdkKey)
  const onC = await follow(c.port, sdkKey)
  const onRelay = await follow(relay.port, sdkKey)
  const start = onA.putVersion
  if (onC.putVersion !== start || onRelay.putVersion !== start)
    throw new Error(`streams start at ${start} (A), ${onC.putVersion} (C), ${onRelay.putVersion} (relay)`)

  process.stderr.write(`propagation: ${CHANGES} changes written on A…\n`)
  const times = { writer: [], crossInstance: [], relayHop: [], adminResponse: [], ackToC: [], ackToRelay: [] }
  for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
    const id = String(start + i + 1)
    const action = i % 2 === 0 ? 'disable' : 'enable'
    const arrivals = [onA.arrival(id), onC.arrival(id), onRelay.arrival(id)]
    const t0 = performance.now()
    const res = await request(a.port, 'POST', `/admin/v1/environments/scale/flags/prop/rules/r1/${action}`)
    const t1 = performance.now()
    if (res.status !== 200) throw new Error(`rule ${action}: HTTP ${res.status} ${res.text.slice(0, 300)}`)
    const [atA, atC, atRelay] = await Promise.all(arrivals)
    for (const { event } of [atA, atC, atRelay]) {
      const patch = JSON.parse(event.data)
      if (
        event.event !== 'patch' ||
        patch.key !== 'prop' ||
        (patch.value?.rules?.[0]?.enabled !== false) !== (action === 'enable')
      )
        throw new Error(`event ${id} is not the ${action} of prop: ${event.data.slice(0, 300)}`)
    }
    if (i >= WARMUP_CHANGES) {
      times.writer.push(atA.at - t0)
      times.crossInstance.push(atC.at - t0)
      times.relayHop.push(atRelay.at - t0)
      times.adminResponse.push(t1 - t0)
      // from A's answer (the commit acknowledged) on: what the fan-out adds to the write itself
      times.ackToC.push(atC.at - t1)
      times.ackToRelay.push(atRelay.at - t1)
    }
  }
  for (const f of [onA, onC, onRelay]) f.stream.close()
  const relayState = JSON.parse((await request(relay.port, 'GET', '/readyz')).text)
  result.latencyMs = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summary(v)]))
  result.relay = { puts: relayState.upstream?.puts, patches: relayState.upstream?.patches }
} catch (error) {
  failure = error
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
  await sleep(500)
  killAll()
  await db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {})
  await db.end().catch(() => {})
}
if (failure !== undefined) {
  process.stderr.write(`bench:scale failed: ${failure.stack ?? failure}\n`)
  for (const [name, log] of logs) process.stderr.write(`--- ${name}:\n${log.slice(-10).join('\n')}\n`)
  process.exit(1)
}

const l = result.latencyMs
const rows = [
  ['write on A → stream on A', l.writer],
  ['write on A → stream on C', l.crossInstance],
  ['… → C → relay → stream', l.relayHop],
  ['(admin response on A)', l.adminResponse],
  ['A answered → stream on C', l.ackToC],
  ['A answered → relay stream', l.ackToRelay],
]
const load = os.loadavg()[0]
const lines = [
  `${os.cpus()[0]?.model} × ${os.availableParallelism()}, Node ${process.version}; PostgreSQL on loopback, 3 instances + 1 relay, LOG_LEVEL=warn; load average ${load.toFixed(1)}`,
  '',
  `propagation: ${CHANGES} changes one after another (rule disable/enable) sent to A, request sent → patch on the stream`,
  `  ${''.padEnd(28)}${'p50'.padStart(10)}${'p99'.padStart(10)}${'max'.padStart(10)}`,
  ...rows.map(
    ([name, s]) => `  ${name.padEnd(28)}${ms(s.p50).padStart(10)}${ms(s.p99).padStart(10)}${ms(s.max).padStart(10)}`,
  ),
  `  (the relay received ${result.relay.puts} put and ${result.relay.patches} patches from C)`,
  '',
  'targets',
]
result.targets = [
  {
    target: `cross-instance p99 < ${TARGET_P99_MS} ms`,
    value: l.crossInstance.p99,
    met: l.crossInstance.p99 < TARGET_P99_MS,
  },
  {
    target: `through one relay hop p99 < ${TARGET_P99_MS} ms`,
    value: l.relayHop.p99,
    met: l.relayHop.p99 < TARGET_P99_MS,
  },
]
for (const t of result.targets) lines.push(`  ${t.met ? 'met    ' : 'NOT MET'}  ${t.target.padEnd(40)} ${ms(t.value)}`)
console.log(lines.join('\n'))
result.machine = {
  cpuModel: os.cpus()[0]?.model,
  availableParallelism: os.availableParallelism(),
  loadAverage: load,
  node: process.version,
}
mkdirSync(resultsDir, { recursive: true })
writeFileSync(join(resultsDir, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`)
process.stderr.write('wrote bench-results/scale.json\n')
