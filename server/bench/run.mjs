// Delivery benchmark: one real `vane serve` process (SQLite, LOG_LEVEL=warn) on loopback, and
//  1. propagation: 200 admin changes one after another, each timed from just before the admin
//     request is sent to its `patch` (id = environment version) arriving on a /sdk/v1/stream;
//  2. fan-out: 10,000 /sdk/v1/stream and 2,000 /client/v1/stream connections held by two load
//     generator processes (stream-worker.mjs): one kill → every stream's patch, and server RSS per stream
//     (the client streams, and OFREP after them, on a restarted server: a clean memory baseline);
//  3. OFREP bulk evaluation of 500 mixed flags, a new user per request, with autocannon in its own
//     process (ofrep-worker.mjs) at 1, 10 and 50 connections.
// Prints a table, checks the targets and writes bench-results/server.json at the repository root.
// Run: npx pnpm@12.4.2 --filter @vane/server bench   (after a build; or: cd server && node bench/run.mjs)
// Knobs: BENCH_SDK_STREAMS, BENCH_CLIENT_STREAMS, BENCH_OFREP_SECONDS, BENCH_PHASES=propagation,sdk,client,bare,ofrep,
// BENCH_CPU_PROF=1 (server runs with --cpu-prof; profiles land in bench-results/server-cpu-prof/),
// BENCH_CLI=<path to another build's cli.js>.
import '../../engine/bench/guard.mjs'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { awaitServer, benchServerEnv, freePort as freePortOn, request as httpRequest, withTimeout } from './http.mjs'
import { openSse } from './sse.mjs'
import { buildFlags, FLAG_COUNT } from './workload.mjs'

const env = process.env
const SDK_STREAMS = Number(env.BENCH_SDK_STREAMS ?? 10_000)
const CLIENT_STREAMS = Number(env.BENCH_CLIENT_STREAMS ?? 2_000)
const OFREP_SECONDS = Number(env.BENCH_OFREP_SECONDS ?? 10)
const OFREP_LEVELS = [1, 10, 50]
const PHASES = new Set((env.BENCH_PHASES ?? 'propagation,sdk,client,bare,ofrep').split(','))
const CPU_PROF = env.BENCH_CPU_PROF === '1'
const CHANGES = 200
const WARMUP_CHANGES = 10
const WORKERS = 2
/** Streams each load generator opens at once (keeps the server's accept queue, 511 deep, from overflowing). */
const OPEN_CONCURRENCY = 64
/** The whole run, server start to JSON; past it everything is killed and the run fails. */
const DEADLINE_MS = 175_000
const FD_LIMIT = 65_536
const STREAM_FLAGS = ['prop', 'fanout-sdk', 'fanout-client']
/** "A few KB per connection" read as at most 5 KB. */
const TARGETS = {
  propagationP99Ms: 50,
  fanoutP99Ms: 250,
  rssPerStreamBytes: 5 * 1024,
  ofrepRps50: 2_000,
  ofrepP99Ms50: 50,
}

const serverDir = fileURLToPath(new URL('..', import.meta.url))
const repoDir = fileURLToPath(new URL('../..', import.meta.url))
const resultsDir = join(repoDir, 'bench-results')
const resultFile = join(resultsDir, 'server.json')
/** The server to run; BENCH_CLI points at another build for A/B comparisons. */
const cli = env.BENCH_CLI ?? join(serverDir, 'dist', 'cli.js')
const HOST = '127.0.0.1'
const ADMIN_KEY = `vane_admin_bench_${randomBytes(16).toString('hex')}`
const base = process.hrtime.bigint()
/** Milliseconds on the monotonic clock every bench process shares (CLOCK_MONOTONIC), from `base`. */
const clock = () => Number(process.hrtime.bigint() - base) / 1e6

// ---- child processes: every one is tracked and killed on the way out, whatever happens ----------
const children = new Set()
function track(child) {
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}
/** The server's SQLite directory, removed on the way out too. */
let dataDir
function killAll() {
  for (const child of children) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`)
    killAll()
    process.exit(130)
  })
}
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: over the ${DEADLINE_MS / 1000} s limit, killing everything\n`)
  killAll()
  process.exit(1)
}, DEADLINE_MS)
watchdog.unref()

/** `node <args>` under bash with the open-file limit raised (to the hard limit when 65536 is not allowed). */
function spawnNode(args, options) {
  const raise = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`
  return track(spawn('bash', ['-c', raise, process.execPath, ...args], options))
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The 1-minute load average as each phase starts: other work on these shared cores skews every figure. */
const load = {}
function phase(name, message) {
  const avg = os.loadavg()[0]
  load[name] = avg
  const busy = avg > 1.5 ? ` (load average ${avg.toFixed(2)}: other work is running, figures will be noisy)` : ''
  process.stderr.write(`${message}${busy}\n`)
}

// ---- HTTP to the server ------------------------------------------------------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
let port
const request = (method, path, { key = ADMIN_KEY, ...options } = {}) =>
  httpRequest({ host: HOST, port, agent }, method, path, { key, ...options })

async function admin(method, path, body) {
  const res = await request(method, `/admin/v1${path}`, { body })
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 400)}`)
  return JSON.parse(res.text)
}

/** Runs `fn` over `items` with `concurrency` requests in flight. */
async function inParallel(items, concurrency, fn) {
  let next = 0
  const lane = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
}

// ---- the server process ----------------------------------------------------------------------
let server
let serverPid
const serverLog = []

function rssBytes() {
  const status = readFileSync(`/proc/${serverPid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]) * 1024
}
/** Server CPU time (user + system, every thread), in ms. */
function serverCpuMs() {
  const fields = readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()
/**
 * The server's main (event-loop) thread: time on a CPU and time runnable but waiting for one,
 * in ms (/proc/<pid>/task/<pid>/schedstat). The wait shows how much other processes held it back.
 */
function mainThread() {
  const [run, wait] = readFileSync(`/proc/${serverPid}/task/${serverPid}/schedstat`, 'utf8').split(' ').map(Number)
  return { onCpuMs: run / 1e6, waitingMs: wait / 1e6 }
}
const since = (before) => {
  const now = mainThread()
  return { onCpuMs: now.onCpuMs - before.onCpuMs, waitingMs: now.waitingMs - before.waitingMs }
}

async function metric(name, labels = '') {
  const res = await request('GET', '/metrics')
  const line = res.text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

async function startServer(dataDir) {
  port = await freePortOn(HOST)
  const serverEnv = benchServerEnv(env, {
    PORT: String(port),
    HOST,
    VANE_DATA_DIR: dataDir,
    VANE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
  })
  const profDir = join(resultsDir, 'server-cpu-prof')
  if (CPU_PROF) mkdirSync(profDir, { recursive: true })
  const args = [...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), cli, 'serve']
  server = spawnNode(args, { cwd: serverDir, env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  serverPid = server.pid // bash execs node: same pid
  await awaitServer(server, { log: serverLog, probe: () => request('GET', '/readyz') })
  const comm = readFileSync(`/proc/${serverPid}/comm`, 'utf8').trim()
  if (comm !== 'node' && comm !== 'MainThread') throw new Error(`pid ${serverPid} is "${comm}", not the server`)
}

async function stopServer() {
  if (server === undefined || server.exitCode !== null) return
  const gone = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGTERM') // lets --cpu-prof write its profile
  await Promise.race([gone, sleep(12_000)])
  if (server.exitCode === null) server.kill('SIGKILL')
}

function openFileLimit(pid) {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8')
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits)
  return m === null ? undefined : { soft: m[1], hard: m[2] }
}

// ---- figures ---------------------------------------------------------------------------------
function summary(values) {
  const sorted = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort()
  const at = (q) =>
    sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length
  return {
    count: sorted.length,
    min: sorted[0],
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    mean,
  }
}
const ms = (v) => (Number.isFinite(v) ? (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`) : '—')
const kb = (v) => `${(v / 1024).toFixed(1)} KB`
const mb = (v) => `${(v / 1024 / 1024).toFixed(0)} MB`
const pad = (s, n) => String(s).padEnd(n)
const lpad = (s, n) => String(s).padStart(n)

// ---- phase 1: propagation ----------------------------------------------------------------------
async function propagation(serverKey) {
  const events = new Map()
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
    headers: { authorization: `Bearer ${serverKey}` },
    now: () => performance.now(),
    onEvent: (event, at) => {
      if (event.event === 'put') {
        putVersion = Number(event.id)
        primed()
        return
      }
      const record = { at, event }
      const waiter = waiters.get(event.id)
      if (waiter === undefined) events.set(event.id, record)
      else waiter(record)
    },
  })
  await withTimeout(ready, 5_000, 'propagation put')
  const waitFor = (id) => {
    const seen = events.get(id)
    if (seen !== undefined) return Promise.resolve(seen)
    return withTimeout(new Promise((resolve) => waiters.set(id, resolve)), 5_000, `patch ${id}`)
  }
  const latencies = []
  const adminMs = []
  let version = putVersion
  let thread
  try {
    for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
      if (i === WARMUP_CHANGES) thread = mainThread()
      const expected = String(version + 1)
      const action = i % 2 === 0 ? 'disable' : 'enable'
      const t0 = performance.now()
      const arrived = waitFor(expected)
      const res = await request('POST', `/admin/v1/environments/stream/flags/prop/rules/r1/${action}`)
      const t1 = performance.now()
      if (res.status !== 200) throw new Error(`rule ${action}: HTTP ${res.status} ${res.text.slice(0, 300)}`)
      const { at, event } = await arrived
      const patch = JSON.parse(event.data)
      const enabled = patch.value?.rules?.[0]?.enabled !== false
      if (event.event !== 'patch' || patch.key !== 'prop' || enabled !== (action === 'enable'))
        throw new Error(`event ${expected} is not the ${action} of prop: ${event.data.slice(0, 300)}`)
      if (i >= WARMUP_CHANGES) {
        latencies.push(at - t0)
        adminMs.push(t1 - t0)
      }
      events.delete(expected)
      waiters.delete(expected)
      version++
    }
  } finally {
    stream.close()
  }
  return {
    changes: CHANGES,
    warmupChanges: WARMUP_CHANGES,
    latencyMs: summary(latencies),
    adminResponseMs: summary(adminMs),
    serverMainThreadPerChangeMs: Object.fromEntries(Object.entries(since(thread)).map(([k, v]) => [k, v / CHANGES])),
  }
}

// ---- phase 2: fan-out ------------------------------------------------------------------------
/** What the fan-out measures on `vane serve`: its kill endpoint and its own metrics. */
const vaneTarget = {
  async kill(flag, kind) {
    const killed = await request('POST', `/admin/v1/environments/stream/flags/${flag}/kill`, {
      body: { reason: `bench: ${kind} fan-out` },
    })
    if (killed.status !== 200) throw new Error(`kill ${flag}: HTTP ${killed.status} ${killed.text.slice(0, 300)}`)
  },
  heapUsed: () => metric('vane_nodejs_heap_size_used_bytes'),
  openStreams: (kind) => metric('vane_open_streams', `{kind="${kind}"}`),
}

/**
 * The same fan-out against node:http alone (bench/bare-sse-server.mjs): what any Node server pays per
 * connection and per write, measured in this run, for Vane's figures to be read against.
 */
async function bareFanout(total) {
  const bare = spawnNode([fileURLToPath(new URL('./bare-sse-server.mjs', import.meta.url))], {
    cwd: serverDir,
    env: { ...env, HOST },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const ask = (type) =>
    withTimeout(
      new Promise((resolve) => {
        const on = (m) => {
          if (m.type !== type) return
          bare.off('message', on)
          resolve(m)
        }
        bare.on('message', on)
      }),
      10_000,
      `bare server ${type}`,
    )
  const listening = ask('listening')
  const saved = { port, serverPid }
  try {
    port = (await listening).port
    serverPid = bare.pid
    const target = {
      kill: async () => bare.send('kill'),
      heapUsed: async () => {
        const answer = ask('heap')
        bare.send('heap')
        return (await answer).bytes
      },
      openStreams: async () => {
        const answer = ask('heap')
        bare.send('heap')
        return (await answer).open
      },
    }
    return await fanout({ kind: 'node:http', total, path: '/', method: 'GET', key: 'none', sourceBase: 6, target })
  } finally {
    port = saved.port
    serverPid = saved.serverPid
    if (bare.exitCode === null) bare.kill('SIGKILL')
  }
}

function startWorker() {
  const worker = spawnNode([fileURLToPath(new URL('./stream-worker.mjs', import.meta.url))], {
    cwd: serverDir,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const inbox = []
  const waiting = []
  worker.on('message', (m) => {
    const i = waiting.findIndex((w) => w.type === m.type)
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m)
    else inbox.push(m)
    if (m.type === 'failed') for (const w of waiting.splice(0)) w.reject(new Error(m.error))
  })
  worker.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`stream worker exited (${code})`))
  })
  worker.next = (type, timeoutMs) => {
    const i = inbox.findIndex((m) => m.type === type)
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0])
    return withTimeout(
      new Promise((resolve, reject) => waiting.push({ type, resolve, reject })),
      timeoutMs,
      `worker ${type}`,
    )
  }
  return worker
}

/**
 * Opens `total` streams across the workers, reads the server's RSS before and after,
 * kills `flag` and collects when each stream's patch arrived.
 */
async function fanout({ kind, total, path, method, key, flag, sourceBase, target = vaneTarget }) {
  const workers = Array.from({ length: WORKERS }, startWorker)
  try {
    await Promise.all(workers.map((w) => w.next('ready', 10_000)))
    await sleep(500)
    const rssBefore = rssBytes()
    const heapBefore = await target.heapUsed()
    /** Opens `count` more streams across the workers; resolves with what they report. */
    const openMore = async (count) => {
      workers.forEach((w, i) => {
        w.send({
          type: 'open',
          count: Math.floor(count / WORKERS) + (i < count % WORKERS ? 1 : 0),
          concurrency: OPEN_CONCURRENCY,
          host: HOST,
          port,
          // a source address per worker: each gets the whole ephemeral port range to itself
          localAddress: `127.0.0.${sourceBase + i}`,
          method,
          path,
          headers: { authorization: `Bearer ${key}` },
          ...(kind === 'client' && { contextPrefix: `client-${i}`, seed: 1000 + i }),
          base: String(base),
        })
      })
      return Promise.all(workers.map((w) => w.next('opened', 90_000)))
    }
    // the first tenth also warms the server up (compiled code, young generation): the RSS growth
    // over the other nine tenths is the marginal cost of a stream
    const warm = Math.max(1, Math.round(total / 10))
    const openStarted = performance.now()
    const openedWarm = await openMore(warm)
    let openMs = performance.now() - openStarted
    await sleep(1_000)
    const rssWarm = rssBytes()
    const heapWarm = await target.heapUsed()
    const restStarted = performance.now()
    const openedRest = await openMore(total - warm)
    openMs += performance.now() - restStarted
    const openSeconds = openMs / 1000
    const warmCount = openedWarm.reduce((s, o) => s + o.opened, 0)
    const restCount = openedRest.reduce((s, o) => s + o.opened, 0)
    const openedCount = warmCount + restCount
    const putIds = {}
    for (const o of openedRest) for (const [id, n] of Object.entries(o.putIds)) putIds[id] = (putIds[id] ?? 0) + n
    const errors = [...openedWarm, ...openedRest].flatMap((o) => o.errors)
    if (openedCount === 0) throw new Error(`${kind}: no stream opened: ${errors.join('; ')}`)
    await sleep(1_500)
    const rssAfter = rssBytes()
    const heapAfter = await target.heapUsed()
    const openStreams = await target.openStreams(kind)

    const allReceived = Promise.all(workers.map((w) => w.next('received', 10_000)))
    allReceived.catch(() => {})
    const thread = mainThread()
    const t0 = clock()
    await target.kill(flag, kind)
    const killResponseMs = clock() - t0
    await allReceived.catch(() => {})
    const serverThread = since(thread)
    for (const w of workers) w.send({ type: 'report' })
    const collected = await Promise.all(workers.map((w) => w.next('report', 10_000)))
    const latencies = collected.flatMap((r) => r.arrivals.map((a) => a - t0))
    const ids = {}
    for (const r of collected) for (const [id, n] of Object.entries(r.ids)) ids[id] = (ids[id] ?? 0) + n
    const received = collected.reduce((s, r) => s + r.received, 0)
    const closedEarly = collected.reduce((s, r) => s + r.closedEarly, 0)
    for (const w of workers) w.send({ type: 'close' })
    await Promise.all(workers.map((w) => w.next('closed', 10_000).catch(() => undefined)))
    return {
      kind,
      path,
      streams: total,
      opened: openedCount,
      openErrors: errors,
      openSeconds,
      opensPerSecond: openedCount / openSeconds,
      putIds,
      openStreamsMetric: openStreams,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssWithTenthBytes: rssWarm,
      rssPerStreamBytes: (rssAfter - rssBefore) / openedCount,
      rssMarginalPerStreamBytes: (rssAfter - rssWarm) / restCount,
      heapUsedBeforeBytes: heapBefore,
      heapUsedWithTenthBytes: heapWarm,
      heapUsedAfterBytes: heapAfter,
      heapPerStreamBytes: (heapAfter - heapBefore) / openedCount,
      heapMarginalPerStreamBytes: (heapAfter - heapWarm) / restCount,
      killResponseMs,
      received,
      closedEarly,
      patchIds: ids,
      killToPatchMs: summary(latencies),
      // from the kill request to every patch in (or the 10 s wait over)
      serverMainThreadMs: serverThread,
    }
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL')
  }
}

// ---- phase 3: OFREP bulk -----------------------------------------------------------------------
function runOfrep(key, connections, seconds, prefix) {
  const worker = spawnNode([fileURLToPath(new URL('./ofrep-worker.mjs', import.meta.url))], {
    cwd: serverDir,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const done = new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (m.type === 'ready')
        worker.send({ url: `http://${HOST}:${port}`, key, connections, seconds, seed: connections, prefix })
      else if (m.type === 'result') resolve(m)
      else if (m.type === 'error') reject(new Error(m.error))
    })
    worker.on('exit', (code) => reject(new Error(`ofrep worker exited (${code})`)))
  })
  return withTimeout(done, (seconds + 30) * 1000, `autocannon ${connections}`).finally(() => {
    if (worker.exitCode === null) worker.kill('SIGKILL')
  })
}

async function ofrep() {
  // definitions are shared by every environment: archive the stream phases' flags, so exactly 500 remain
  for (const key of STREAM_FLAGS) await admin('DELETE', `/flags/${key}`)
  await admin('POST', '/environments', { key: 'ofrep' })
  const { secret } = await admin('POST', '/keys', { kind: 'server', name: 'bench-ofrep', environment: 'ofrep' })
  const flags = buildFlags()
  const setupStarted = performance.now()
  await inParallel(flags, 8, async (flag) => {
    await admin('PUT', `/flags/${flag.key}`, flag.definition)
    await admin('PUT', `/environments/ofrep/flags/${flag.key}`, flag.targeting)
  })
  const setupSeconds = (performance.now() - setupStarted) / 1000

  // one request by hand: every flag evaluated, none failed, and rules and splits doing their work
  const probe = await request('POST', '/ofrep/v1/evaluate/flags', {
    key: secret,
    body: {
      context: {
        targetingKey: 'probe',
        email: 'a@example.com',
        country: 'US',
        plan: 'free',
        appVersion: '3.1.0',
        age: 30,
      },
    },
  })
  if (probe.status !== 200) throw new Error(`OFREP probe: HTTP ${probe.status} ${probe.text.slice(0, 300)}`)
  const body = JSON.parse(probe.text)
  const failed = body.flags.filter((f) => f.errorCode !== undefined)
  if (body.flags.length !== FLAG_COUNT || failed.length > 0)
    throw new Error(`OFREP probe: ${body.flags.length} flags, ${failed.length} failed (${JSON.stringify(failed[0])})`)
  const staff = body.flags.find((f) => f.key === 'flag-00002')
  if (staff.value !== true || staff.metadata.ruleId !== 'staff')
    throw new Error(`OFREP probe: rule not applied: ${JSON.stringify(staff)}`)

  process.stderr.write('  OFREP warm-up (3 s, not reported)…\n')
  await runOfrep(secret, 10, 3, 'warmup')
  const levels = []
  for (const connections of OFREP_LEVELS) {
    phase(`ofrep${connections}`, `  OFREP ${connections} connection${connections > 1 ? 's' : ''}, ${OFREP_SECONDS} s…`)
    const cpuBefore = serverCpuMs()
    const thread = mainThread()
    const started = performance.now()
    const run = await runOfrep(secret, connections, OFREP_SECONDS, `c${connections}`)
    const wall = performance.now() - started
    const r = run.result
    levels.push({
      connections,
      seconds: OFREP_SECONDS,
      requestsPerSecond: r.requests.average,
      completed2xx: r['2xx'],
      latencyMs: summary(run.times),
      autocannonLatencyMs: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
      bytesPerSecond: r.throughput.average,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
      serverCpuShare: (serverCpuMs() - cpuBefore) / wall,
      serverMainThreadWaitingShare: since(thread).waitingMs / wall,
      loadGeneratorCpuShare: run.clientCpuShare,
    })
  }
  return { flags: FLAG_COUNT, responseBytes: probe.bytes, setupSeconds, levels }
}

// ---- main ----------------------------------------------------------------------------------------
function git(...args) {
  try {
    return execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const started = Date.now()
// read before the server starts: what it runs (a build made from this tree)
const commit = git('rev-parse', '--short', 'HEAD')
const dirty = git('status', '--porcelain', '--', 'server/src', 'engine/src')
dataDir = mkdtempSync(join(os.tmpdir(), 'vane-bench-'))
const result = { generatedAt: new Date().toISOString() }
let failure
try {
  process.stderr.write('starting vane serve…\n')
  await startServer(dataDir)
  result.server = {
    pid: serverPid,
    openFiles: openFileLimit(serverPid),
    storage: 'SQLite',
    rssAtStartBytes: rssBytes(),
  }

  await admin('POST', '/environments', { key: 'stream' })
  const boolean = { type: 'boolean', variants: { on: true, off: false } }
  for (const key of STREAM_FLAGS) await admin('PUT', `/flags/${key}`, boolean)
  await admin('PUT', '/environments/stream/flags/prop', {
    enabled: true,
    offVariant: 'off',
    fallthrough: { variant: 'on' },
    rules: [
      { id: 'r1', clauses: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'] }], serve: { variant: 'off' } },
    ],
  })
  for (const key of ['fanout-sdk', 'fanout-client'])
    await admin('PUT', `/environments/stream/flags/${key}`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
  const serverKey = (await admin('POST', '/keys', { kind: 'server', name: 'bench-sdk', environment: 'stream' })).secret
  const clientKey = (await admin('POST', '/keys', { kind: 'client', name: 'bench-client', environment: 'stream' }))
    .secret

  if (PHASES.has('propagation')) {
    phase('propagation', `propagation: ${CHANGES} changes…`)
    result.propagation = await propagation(serverKey)
  }
  result.fanout = []
  if (PHASES.has('sdk')) {
    phase('sdk', `fan-out: ${SDK_STREAMS} /sdk/v1/stream connections…`)
    const sdk = {
      kind: 'sdk',
      total: SDK_STREAMS,
      path: '/sdk/v1/stream',
      method: 'GET',
      key: serverKey,
      flag: 'fanout-sdk',
    }
    result.fanout.push(await fanout({ ...sdk, sourceBase: 2 }))
  }
  if (PHASES.has('client')) {
    if (PHASES.has('sdk')) {
      // the garbage of 10,000 closed streams would be collected while the client streams open,
      // and hide their memory: a fresh process (same database) gives them a clean baseline
      process.stderr.write('restarting vane serve for a clean memory baseline…\n')
      result.server.rssAtEndBytes = rssBytes()
      await stopServer()
      await startServer(dataDir)
      result.server.restartedBeforeClientStreams = { pid: serverPid, rssAtStartBytes: rssBytes() }
    }
    phase('client', `fan-out: ${CLIENT_STREAMS} /client/v1/stream connections…`)
    const client = { kind: 'client', total: CLIENT_STREAMS, path: '/client/v1/stream', method: 'POST', key: clientKey }
    result.fanout.push(await fanout({ ...client, flag: 'fanout-client', sourceBase: 4 }))
  }
  if (PHASES.has('bare')) {
    phase('bare', `fan-out floor: ${SDK_STREAMS} streams on node:http alone…`)
    result.fanout.push(await bareFanout(SDK_STREAMS))
  }
  if (PHASES.has('ofrep')) {
    phase('ofrepSetup', `OFREP: setting up ${FLAG_COUNT} flags…`)
    result.ofrep = await ofrep()
  }
  const last = result.server.restartedBeforeClientStreams ?? result.server
  last.rssAtEndBytes = rssBytes()
} catch (error) {
  failure = error
} finally {
  await stopServer().catch(() => {})
  killAll()
}
if (failure !== undefined) {
  process.stderr.write(`bench failed: ${failure.stack ?? failure}\n`)
  if (serverLog.length > 0) process.stderr.write(`server log (last lines):\n${serverLog.slice(-20).join('\n')}\n`)
  process.exit(1)
}

// ---- table -------------------------------------------------------------------------------------
const lines = []
const p = result.propagation
if (p !== undefined) {
  lines.push(
    `propagation: ${p.changes} admin changes one after another (rule disable/enable), request sent → patch on /sdk/v1/stream`,
  )
  lines.push(`  ${pad('', 22)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}`)
  lines.push(
    `  ${pad('change → patch', 22)}${lpad(ms(p.latencyMs.p50), 10)}${lpad(ms(p.latencyMs.p99), 10)}${lpad(ms(p.latencyMs.max), 10)}`,
  )
  lines.push(
    `  ${pad('(admin response)', 22)}${lpad(ms(p.adminResponseMs.p50), 10)}${lpad(ms(p.adminResponseMs.p99), 10)}${lpad(ms(p.adminResponseMs.max), 10)}`,
  )
  const t = p.serverMainThreadPerChangeMs
  lines.push(`  (server event loop per change: ${ms(t.onCpuMs)} on a CPU, ${ms(t.waitingMs)} waiting for one)`)
  lines.push('')
}
if (result.fanout.length > 0) {
  lines.push('fan-out: one kill → the patch on every open stream (load generators: 2 processes, raw sockets)')
  lines.push(
    `  ${pad('stream', 10)}${lpad('open', 8)}${lpad('opened in', 11)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}${lpad('received', 10)}${lpad('loop CPU', 10)}${lpad('waiting', 10)}`,
  )
  for (const f of result.fanout) {
    lines.push(
      `  ${pad(f.kind, 10)}${lpad(f.opened, 8)}${lpad(`${f.openSeconds.toFixed(1)} s`, 11)}${lpad(ms(f.killToPatchMs.p50), 10)}${lpad(ms(f.killToPatchMs.p99), 10)}${lpad(ms(f.killToPatchMs.max), 10)}${lpad(f.received, 10)}${lpad(ms(f.serverMainThreadMs.onCpuMs), 10)}${lpad(ms(f.serverMainThreadMs.waitingMs), 10)}`,
    )
  }
  lines.push(
    "  (loop CPU / waiting: the server's event loop from the kill request to the last patch: on a CPU / runnable but waiting for one)",
  )
  lines.push('server memory per idle stream')
  lines.push(
    `  ${pad('stream', 10)}${lpad('VmRSS before → all open', 26)}${lpad('RSS/stream', 12)}${lpad('beyond the first tenth: RSS', 29)}${lpad('heap', 10)}`,
  )
  for (const f of result.fanout) {
    lines.push(
      `  ${pad(f.kind, 10)}${lpad(`${mb(f.rssBeforeBytes)} → ${mb(f.rssAfterBytes)}`, 26)}${lpad(kb(f.rssPerStreamBytes), 12)}${lpad(kb(f.rssMarginalPerStreamBytes), 29)}${lpad(kb(f.heapMarginalPerStreamBytes), 10)}`,
    )
  }
  lines.push(
    '  (RSS/stream: (VmRSS with all open − before) / streams; beyond the first tenth: growth while the other 9/10 opened, per stream)',
  )
  const floor = result.fanout.find((f) => f.kind === 'node:http')
  if (floor !== undefined)
    lines.push(
      `  (node:http: the same streams on a bare Node HTTP server with no application — the floor any Node server pays; ${result.fanout
        .filter((f) => f !== floor)
        .map((f) => `${f.kind} ${(f.rssPerStreamBytes / floor.rssPerStreamBytes).toFixed(2)}× its RSS per stream`)
        .join(', ')})`,
    )
  lines.push('')
}
const o = result.ofrep
if (o !== undefined) {
  lines.push(
    `OFREP bulk: POST /ofrep/v1/evaluate/flags, ${o.flags} mixed flags (${(o.responseBytes / 1024).toFixed(0)} KB answers), a new user per request, ${OFREP_SECONDS} s per level`,
  )
  lines.push(
    `  ${pad('connections', 13)}${lpad('req/s', 9)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}${lpad('non-2xx', 9)}${lpad('server CPU', 12)}${lpad('loop waiting', 14)}${lpad('autocannon CPU', 16)}`,
  )
  for (const l of o.levels) {
    lines.push(
      `  ${pad(l.connections, 13)}${lpad(l.requestsPerSecond.toFixed(0), 9)}${lpad(ms(l.latencyMs.p50), 10)}${lpad(ms(l.latencyMs.p99), 10)}${lpad(ms(l.latencyMs.max), 10)}${lpad(l.non2xx + l.errors, 9)}${lpad(`${(100 * l.serverCpuShare).toFixed(0)} %`, 12)}${lpad(`${(100 * l.serverMainThreadWaitingShare).toFixed(0)} %`, 14)}${lpad(`${(100 * l.loadGeneratorCpuShare).toFixed(0)} %`, 16)}`,
    )
  }
  lines.push(
    "  (CPU: share of one core over the level; loop waiting: share of the time the server's event loop was runnable but had no CPU)",
  )
  lines.push('')
}

const targets = []
const target = (name, value, limit, met, unit) => targets.push({ target: name, value, limit, unit, met })
if (p !== undefined)
  target(
    'propagation p99 < 50 ms',
    p.latencyMs.p99,
    TARGETS.propagationP99Ms,
    p.latencyMs.p99 < TARGETS.propagationP99Ms,
    'ms',
  )
for (const f of result.fanout) {
  if (f.kind === 'node:http') continue
  const complete = f.received === f.streams
  target(
    `${f.kind} fan-out (${f.streams} streams) p99 < 250 ms, every stream patched`,
    f.killToPatchMs.p99,
    TARGETS.fanoutP99Ms,
    complete && f.killToPatchMs.p99 < TARGETS.fanoutP99Ms,
    'ms',
  )
  target(
    `${f.kind} server RSS per idle stream ≤ 5 KB`,
    f.rssPerStreamBytes,
    TARGETS.rssPerStreamBytes,
    f.rssPerStreamBytes <= TARGETS.rssPerStreamBytes,
    'bytes',
  )
}
const top = o?.levels.find((l) => l.connections === 50)
if (top !== undefined) {
  target(
    'OFREP at 50 connections ≥ 2,000 req/s',
    top.requestsPerSecond,
    TARGETS.ofrepRps50,
    top.requestsPerSecond >= TARGETS.ofrepRps50,
    'req/s',
  )
  target(
    'OFREP at 50 connections p99 < 50 ms',
    top.latencyMs.p99,
    TARGETS.ofrepP99Ms50,
    top.latencyMs.p99 < TARGETS.ofrepP99Ms50,
    'ms',
  )
  const limited = o.levels.some((l) => (l.statusCodes['429'] ?? 0) > 0)
  if (limited) lines.push('note: the evaluation rate limit (20,000/s per key) answered 429 during the OFREP run')
}
lines.push('targets')
for (const t of targets) {
  const value = t.unit === 'ms' ? ms(t.value) : t.unit === 'bytes' ? kb(t.value) : `${t.value.toFixed(0)} ${t.unit}`
  lines.push(`  ${t.met ? 'met    ' : 'NOT MET'}  ${pad(t.target, 66)} ${value}`)
}

const cpus = os.cpus()
const header = `${cpus[0]?.model} × ${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, vane at ${commit ?? '?'}${dirty ? ' + uncommitted changes' : ''}; SQLite, LOG_LEVEL=warn, open files ${result.server.openFiles?.soft}`
const maxLoad = Math.max(0, ...Object.values(load))
const loadNote =
  maxLoad > 1.5
    ? `\nload average up to ${maxLoad.toFixed(1)} during the run (${os.availableParallelism()} cores): other work was running, figures are pessimistic\n`
    : ''
console.log(`${header}\n${loadNote}\n${lines.join('\n')}`)

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
    cpuModel: cpus[0]?.model,
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ephemeralPorts: read('/proc/sys/net/ipv4/ip_local_port_range'),
    loadAverageAtEachPhase: load,
    somaxconn: read('/proc/sys/net/core/somaxconn'),
  },
  vane: { commit, uncommittedChanges: dirty === undefined ? undefined : dirty.length > 0 },
  settings: {
    sdkStreams: SDK_STREAMS,
    clientStreams: CLIENT_STREAMS,
    loadGenerators: WORKERS,
    openConcurrencyPerGenerator: OPEN_CONCURRENCY,
    ofrepSeconds: OFREP_SECONDS,
    ofrepLevels: OFREP_LEVELS,
    cpuProfile: CPU_PROF,
    serverEnv: { LOG_LEVEL: 'warn', VANE_RATE_LIMIT: '100000', NODE_ENV: 'production' },
  },
  versions: {
    autocannon: JSON.parse(readFileSync(join(serverDir, 'node_modules/autocannon/package.json'), 'utf8')).version,
  },
  targets,
  serverWarnings: serverLog.slice(-20),
})
mkdirSync(resultsDir, { recursive: true })
writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nwrote ${resultFile} (${result.durationSeconds} s)`)
process.exit(0)
