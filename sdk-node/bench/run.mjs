// Node SDK benchmark: what the client adds on top of the engine, on loopback only.
//  1. getters: client.getBoolean / getBooleanDetails (getString… for the split) against
//     evaluator.evaluate on the very same compiled snapshot, for the engine benchmark's
//     W1-W3 over its 10,000-context pool; and the OpenFeature server SDK path
//     (getBooleanValue) with the VaneProvider and with OpenFeature's InMemoryProvider;
//  2. heap retained by a client holding a 10,000-flag snapshot (and by the bare engine);
//  3. telemetry: a getter with telemetry off / on / on inside a span, and the span
//     processor's cost per span (BasicTracerProvider, no-op exporter, with and without it);
//  4. propagation: a real `vane serve`, 200 admin changes one after another, each timed from
//     just before the admin request to the client's `change` event for that flag.
// One file per phase in phases/; settings.mjs has the knobs, table.mjs the table and targets.
// Prints a table, checks the target and writes bench-results/sdk-node.json at the repository root.
// Run: npx pnpm@12.4.2 --filter @vane/sdk-node bench   (after a build of every package: it imports sdk-node/dist and
// engine/dist and runs server/dist/cli.js; or: cd sdk-node && node --expose-gc --no-flush-bytecode bench/run.mjs)
// Knobs: BENCH_TIME_MS (per timed task, default 300), BENCH_ROUNDS (getter rounds, default 3), BENCH_CHANGES
// (propagation, 200), BENCH_PHASES=memory,getters,openfeature,telemetry,propagation (the server is started
// whatever the phases). A quick check that every phase runs: BENCH_TIME_MS=20 BENCH_ROUNDS=1 BENCH_CHANGES=20
import '../../engine/bench/guard.mjs'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { OpenFeature } from '@openfeature/server-sdk'
import { exitFailed, guardRun, killAll, onCleanup } from '../../bench-kit/lifecycle.mjs'
import {
  commitOf,
  installedVersion,
  loadTracker,
  machine,
  machineLine,
  repoDir,
  resultsDir,
  writeResult,
} from '../../bench-kit/report.mjs'
import { newAdminKey, startVane } from '../../bench-kit/vane-server.mjs'
import { BATCH } from '../../engine/bench/harness.mjs'
import { MANY_FLAGS, POOL_SIZE } from '../../engine/bench/workloads.mjs'
import { getters } from './phases/getters.mjs'
import { memory } from './phases/memory.mjs'
import { openFeature } from './phases/openfeature.mjs'
import { propagation } from './phases/propagation.mjs'
import { telemetry } from './phases/telemetry.mjs'
import { CHANGES, DEADLINE_MS, PHASES, ROUNDS, TIME } from './settings.mjs'
import { table } from './table.mjs'
import { polledClient, setUp } from './workloads.mjs'

if (typeof global.gc !== 'function')
  throw new Error('run with --expose-gc (npx pnpm@12.4.2 --filter @vane/sdk-node bench)')

const sdkDir = fileURLToPath(new URL('..', import.meta.url))
const resultFile = join(resultsDir, 'sdk-node.json')
const cli = join(repoDir, 'server', 'dist', 'cli.js')
const version = (pkg) => installedVersion(sdkDir, pkg)

guardRun({ name: 'bench', deadlineMs: DEADLINE_MS })
const { load, phase, note: loadNote } = loadTracker()
const serverLog = []

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const started = Date.now()
const dataDir = mkdtempSync(join(os.tmpdir(), 'vane-sdk-bench-'))
onCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
const result = { generatedAt: new Date().toISOString() }
const clients = []
let server
let failure
try {
  phase('server', 'starting vane serve…')
  server = await startVane({
    cli,
    cwd: repoDir,
    adminKey: newAdminKey(),
    extra: { VANE_DATA_DIR: dataDir },
    log: serverLog,
  })
  const bench = await setUp(server)
  if (PHASES.has('memory')) {
    phase('memory', `memory: a client holding ${MANY_FLAGS} flags…`)
    result.memory = await memory()
  }
  // every polled client polls once, now, one after the other (a connection left idle for long may be closed
  // by the server as it is reused, and a failed poll is only retried a poll interval later)
  const { client, fetches } = await polledClient(bench)
  clients.push(client)
  // outcome reports off (reportIntervalMs: 0): nothing is sent, the per-variant counting on root spans still runs
  const telemetryOn = (await polledClient(bench, { telemetry: { reportIntervalMs: 0 } })).client
  clients.push(telemetryOn)
  const telemetryQuiet = (await polledClient(bench, { telemetry: { reportIntervalMs: 0, events: false } })).client
  clients.push(telemetryQuiet)
  if (PHASES.has('getters')) {
    phase('getters', `getters: W1-W3, ${ROUNDS} rounds…`)
    result.getters = await getters(client, fetches)
  }
  if (PHASES.has('openfeature')) {
    phase('openfeature', 'OpenFeature server SDK…')
    result.openFeature = await openFeature(client)
  }
  if (PHASES.has('telemetry')) {
    phase('telemetry', 'telemetry and span processor…')
    result.telemetry = await telemetry(client, telemetryOn, telemetryQuiet)
  }
  if (PHASES.has('propagation')) {
    phase('propagation', `propagation: ${CHANGES} admin changes…`)
    result.propagation = await propagation(bench)
  }
} catch (error) {
  failure = error
} finally {
  await OpenFeature.close().catch(() => {})
  await Promise.all(clients.map((c) => c.close().catch(() => {})))
  await server?.stop(5_000).catch(() => {})
  killAll()
}
if (failure !== undefined) exitFailed('bench', failure, { server: serverLog })

const { lines, targets } = table(result)
const { commit, dirty } = commitOf('sdk-node/src', 'engine/src')
const header = `${machineLine()}, vane at ${commit ?? '?'}${dirty ? ' + uncommitted changes' : ''}`
console.log(`${header}\n${loadNote()}\n${lines.join('\n')}`)

Object.assign(result, {
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: { ...machine(), v8: process.versions.v8, loadAverageAtEachPhase: load },
  vane: { commit, uncommittedChangesInSdkOrEngineSrc: dirty },
  settings: {
    poolSize: POOL_SIZE,
    batch: BATCH,
    tinybenchTimeMs: TIME,
    getterRounds: ROUNDS,
    phases: [...PHASES],
    execArgv: process.execArgv,
    server: { storage: 'SQLite', LOG_LEVEL: 'warn', VANE_RATE_LIMIT: '100000', NODE_ENV: 'production' },
  },
  versions: {
    tinybench: version('tinybench'),
    '@openfeature/server-sdk': version('@openfeature/server-sdk'),
    '@opentelemetry/api': version('@opentelemetry/api'),
    '@opentelemetry/sdk-trace-base': version('@opentelemetry/sdk-trace-base'),
    '@opentelemetry/context-async-hooks': version('@opentelemetry/context-async-hooks'),
  },
  targets,
  serverWarnings: serverLog.slice(-20),
})
writeResult(resultFile, result)
console.log(`\nwrote ${resultFile} (${result.durationSeconds} s)`)
process.exit(0)
