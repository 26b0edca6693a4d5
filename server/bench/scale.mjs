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
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { fmtMs as ms, summary } from '../../bench-kit/figures.mjs'
import { BOOLEAN, PROP_TARGETING } from '../../bench-kit/flags.mjs'
import { sleep } from '../../bench-kit/http.mjs'
import { exitFailed, guardRun, killAll } from '../../bench-kit/lifecycle.mjs'
import { resultsDir, writeResult } from '../../bench-kit/report.mjs'
import { HOST, newAdminKey, startVane } from '../../bench-kit/vane-server.mjs'
import { followById } from './sse.mjs'

const env = process.env
const DATABASE_URL = env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const CHANGES = Number(env.BENCH_CHANGES ?? 200)
const WARMUP_CHANGES = 10
const TARGET_P99_MS = 100
const DEADLINE_MS = 120_000
const ADMIN_KEY = newAdminKey()
const SCHEMA = `vane_bench_${randomBytes(6).toString('hex')}`

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const cli = env.BENCH_CLI ?? join(serverDir, 'dist', 'cli.js')

guardRun({ name: 'bench:scale', deadlineMs: DEADLINE_MS })

const logs = new Map()
const servers = []
/** Starts `vane serve` with `extra` environment (and `args`), resolves once /readyz answers 200. */
async function startServer(name, extra, args = []) {
  const log = []
  logs.set(name, log)
  const vane = await startVane({
    cli,
    cwd: serverDir,
    adminKey: ADMIN_KEY,
    extra,
    args,
    name,
    log,
    keep: 50,
    timeoutMs: 30_000,
  })
  servers.push(vane)
  return vane
}

/** A stream on `vane` whose patches are looked up by id. */
const follow = (vane, key) => followById({ host: HOST, port: vane.port, key, timeoutMs: 10_000 })

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const db = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5_000 })
await db.connect()
await db.query(`CREATE SCHEMA "${SCHEMA}"`)
const result = { generatedAt: new Date().toISOString(), changes: CHANGES, warmupChanges: WARMUP_CHANGES }
let failure
try {
  const pgEnv = { DATABASE_URL, VANE_PG_SCHEMA: SCHEMA }
  process.stderr.write(`starting three instances on PostgreSQL (schema ${SCHEMA})…\n`)
  const a = await startServer('A', pgEnv)
  const [, c] = await Promise.all([startServer('B', pgEnv), startServer('C', pgEnv)])

  await a.admin('POST', '/environments', { key: 'scale' })
  await a.admin('PUT', '/flags/prop', BOOLEAN)
  await a.admin('PUT', '/environments/scale/flags/prop', PROP_TARGETING)
  const relayKey = (await a.admin('POST', '/keys', { kind: 'server', name: 'relay', environment: 'scale' })).secret
  const sdkKey = (await a.admin('POST', '/keys', { kind: 'server', name: 'bench', environment: 'scale' })).secret
  process.stderr.write('starting a relay in front of C…\n')
  const relay = await startServer('relay', {}, ['--upstream', `http://${HOST}:${c.port}`, '--sdk-key', relayKey])

  const onA = await follow(a, sdkKey)
  const onC = await follow(c, sdkKey)
  const onRelay = await follow(relay, sdkKey)
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
    const res = await a.request('POST', `/admin/v1/environments/scale/flags/prop/rules/r1/${action}`)
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
  const relayState = JSON.parse((await relay.request('GET', '/readyz')).text)
  result.latencyMs = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summary(v)]))
  result.relay = { puts: relayState.upstream?.puts, patches: relayState.upstream?.patches }
} catch (error) {
  failure = error
} finally {
  for (const vane of servers) if (vane.child.exitCode === null) vane.child.kill('SIGTERM')
  await sleep(500)
  killAll()
  await db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {})
  await db.end().catch(() => {})
}
if (failure !== undefined) exitFailed('bench:scale', failure, Object.fromEntries(logs), 10)

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
writeResult(join(resultsDir, 'scale.json'), result)
process.stderr.write('wrote bench-results/scale.json\n')
