// Delivery benchmark: one real `vane serve` process (SQLite, LOG_LEVEL=warn) on loopback, and
//  1. propagation: 200 admin changes one after another, each timed from just before the admin
//     request is sent to its `patch` (id = environment version) arriving on a /sdk/v1/stream;
//  2. fan-out: 10,000 /sdk/v1/stream and 2,000 /client/v1/stream connections held by two load
//     generator processes (stream-worker.mjs): one kill → every stream's patch, and server RSS per stream
//     (the client streams, and OFREP after them, on a restarted server: a clean memory baseline);
//  3. OFREP bulk evaluation of 500 mixed flags, a new user per request, with autocannon in its own
//     process (ofrep-worker.mjs) at 1, 10 and 50 connections.
// One file per phase in phases/; settings.mjs has the knobs, table.mjs the table and targets.
// Prints a table, checks the targets and writes bench-results/server.json at the repository root.
// Run: npx pnpm@12.4.2 --filter @vane/server bench   (after a build; or: cd server && node bench/run.mjs)
// Knobs: BENCH_SDK_STREAMS, BENCH_CLIENT_STREAMS, BENCH_OFREP_SECONDS, BENCH_CHANGES (propagation, 200),
// BENCH_PHASES=propagation,sdk,client,bare,ofrep, BENCH_CPU_PROF=1 (server runs with --cpu-prof; profiles land
// in bench-results/server-cpu-prof/), BENCH_CLI=<path to another build's cli.js>.
// A quick check that every phase runs:
//   BENCH_SDK_STREAMS=200 BENCH_CLIENT_STREAMS=100 BENCH_OFREP_SECONDS=1 BENCH_CHANGES=20 node bench/run.mjs
import '../../engine/bench/guard.mjs'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BOOLEAN, PROP_TARGETING } from '../../bench-kit/flags.mjs'
import { exitFailed, guardRun, killAll, onCleanup } from '../../bench-kit/lifecycle.mjs'
import { commitOf, loadTracker, machine, machineLine, resultsDir, writeResult } from '../../bench-kit/report.mjs'
import { newAdminKey, startVane } from '../../bench-kit/vane-server.mjs'
import { bareFanout, fanout, vaneTarget } from './phases/fanout.mjs'
import { ofrep } from './phases/ofrep.mjs'
import { propagation } from './phases/propagation.mjs'
import { commandOf, openFileLimit, rssBytes } from './proc.mjs'
import {
  CHANGES,
  CLIENT_STREAMS,
  CPU_PROF,
  DEADLINE_MS,
  FD_LIMIT,
  OFREP_LEVELS,
  OFREP_SECONDS,
  OPEN_CONCURRENCY,
  PHASES,
  SDK_STREAMS,
  STREAM_FLAGS,
  WORKERS,
} from './settings.mjs'
import { table } from './table.mjs'
import { FLAG_COUNT } from './workload.mjs'

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const resultFile = join(resultsDir, 'server.json')
/** The server to run; BENCH_CLI points at another build for A/B comparisons. */
const cli = process.env.BENCH_CLI ?? join(serverDir, 'dist', 'cli.js')
const ADMIN_KEY = newAdminKey()

guardRun({ name: 'bench', deadlineMs: DEADLINE_MS })
const { load, phase, note: loadNote } = loadTracker()
const serverLog = []

/** `vane serve` on `dataDir` with the open-file limit raised; checks that its pid is the server's own. */
async function startServer(dataDir) {
  const profDir = join(resultsDir, 'server-cpu-prof')
  if (CPU_PROF) mkdirSync(profDir, { recursive: true })
  const vane = await startVane({
    cli,
    cwd: serverDir,
    adminKey: ADMIN_KEY,
    // every stream comes from one address and one key per kind: the caps that protect a server from one client are off
    extra: { VANE_DATA_DIR: dataDir, VANE_STREAMS_PER_KEY: '0', VANE_STREAMS_PER_ADDRESS: '0' },
    nodeArgs: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    log: serverLog,
    fileLimit: FD_LIMIT,
    maxSockets: 16,
  })
  const comm = commandOf(vane.pid)
  if (comm !== 'node' && comm !== 'MainThread') throw new Error(`pid ${vane.pid} is "${comm}", not the server`)
  return vane
}

/** The environment and keys the stream phases use. */
async function setUpStreams(vane) {
  await vane.admin('POST', '/environments', { key: 'stream' })
  for (const key of STREAM_FLAGS) await vane.admin('PUT', `/flags/${key}`, BOOLEAN)
  await vane.admin('PUT', '/environments/stream/flags/prop', PROP_TARGETING)
  for (const key of ['fanout-sdk', 'fanout-client'])
    await vane.admin('PUT', `/environments/stream/flags/${key}`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
  const key = async (kind, name) => (await vane.admin('POST', '/keys', { kind, name, environment: 'stream' })).secret
  return { serverKey: await key('server', 'bench-sdk'), clientKey: await key('client', 'bench-client') }
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const started = Date.now()
// read before the server starts: what it runs (a build made from this tree)
const { commit, dirty } = commitOf('server/src', 'engine/src')
const dataDir = mkdtempSync(join(os.tmpdir(), 'vane-bench-'))
onCleanup(() => rmSync(dataDir, { recursive: true, force: true }))
const result = { generatedAt: new Date().toISOString() }
let vane
let failure
try {
  process.stderr.write('starting vane serve…\n')
  vane = await startServer(dataDir)
  result.server = {
    pid: vane.pid,
    openFiles: openFileLimit(vane.pid),
    storage: 'SQLite',
    rssAtStartBytes: rssBytes(vane.pid),
  }
  const { serverKey, clientKey } = await setUpStreams(vane)

  if (PHASES.has('propagation')) {
    phase('propagation', `propagation: ${CHANGES} changes…`)
    result.propagation = await propagation(vane, serverKey)
  }
  result.fanout = []
  if (PHASES.has('sdk')) {
    phase('sdk', `fan-out: ${SDK_STREAMS} /sdk/v1/stream connections…`)
    const sdk = { kind: 'sdk', total: SDK_STREAMS, path: '/sdk/v1/stream', method: 'GET', key: serverKey }
    result.fanout.push(await fanout({ ...sdk, flag: 'fanout-sdk', sourceBase: 2, target: vaneTarget(vane) }))
  }
  if (PHASES.has('client')) {
    if (PHASES.has('sdk')) {
      // the garbage of 10,000 closed streams would be collected while the client streams open,
      // and hide their memory: a fresh process (same database) gives them a clean baseline
      process.stderr.write('restarting vane serve for a clean memory baseline…\n')
      result.server.rssAtEndBytes = rssBytes(vane.pid)
      await vane.stop()
      vane = await startServer(dataDir)
      result.server.restartedBeforeClientStreams = { pid: vane.pid, rssAtStartBytes: rssBytes(vane.pid) }
    }
    phase('client', `fan-out: ${CLIENT_STREAMS} /client/v1/stream connections…`)
    const client = { kind: 'client', total: CLIENT_STREAMS, path: '/client/v1/stream', method: 'POST', key: clientKey }
    result.fanout.push(await fanout({ ...client, flag: 'fanout-client', sourceBase: 4, target: vaneTarget(vane) }))
  }
  if (PHASES.has('bare')) {
    phase('bare', `fan-out floor: ${SDK_STREAMS} streams on node:http alone…`)
    result.fanout.push(await bareFanout(SDK_STREAMS))
  }
  if (PHASES.has('ofrep')) {
    phase('ofrepSetup', `OFREP: setting up ${FLAG_COUNT} flags…`)
    result.ofrep = await ofrep(vane, phase)
  }
  const last = result.server.restartedBeforeClientStreams ?? result.server
  last.rssAtEndBytes = rssBytes(vane.pid)
} catch (error) {
  failure = error
} finally {
  await vane?.stop().catch(() => {})
  killAll()
}
if (failure !== undefined) exitFailed('bench', failure, { server: serverLog })

const { lines, targets } = table(result)
const header = `${machineLine()}, vane at ${commit ?? '?'}${dirty ? ' + uncommitted changes' : ''}; SQLite, LOG_LEVEL=warn, open files ${result.server.openFiles?.soft}`
console.log(`${header}\n${loadNote()}\n${lines.join('\n')}`)

const read = (path) => {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return undefined
  }
}
Object.assign(result, {
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: {
    ...machine(),
    ephemeralPorts: read('/proc/sys/net/ipv4/ip_local_port_range'),
    loadAverageAtEachPhase: load,
    somaxconn: read('/proc/sys/net/core/somaxconn'),
  },
  vane: { commit, uncommittedChanges: dirty },
  settings: {
    sdkStreams: SDK_STREAMS,
    clientStreams: CLIENT_STREAMS,
    loadGenerators: WORKERS,
    openConcurrencyPerGenerator: OPEN_CONCURRENCY,
    ofrepSeconds: OFREP_SECONDS,
    ofrepLevels: OFREP_LEVELS,
    cpuProfile: CPU_PROF,
    serverEnv: {
      LOG_LEVEL: 'warn',
      VANE_RATE_LIMIT: '100000',
      VANE_EVALUATION_RATE_LIMIT: '100000',
      NODE_ENV: 'production',
      VANE_STREAMS_PER_KEY: '0',
      VANE_STREAMS_PER_ADDRESS: '0',
    },
  },
  versions: {
    autocannon: JSON.parse(readFileSync(join(serverDir, 'node_modules/autocannon/package.json'), 'utf8')).version,
  },
  targets,
  serverWarnings: serverLog.slice(-20),
})
writeResult(resultFile, result)
console.log(`\nwrote ${resultFile} (${result.durationSeconds} s)`)
process.exit(0)
