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
// Prints a table, checks the target and writes bench-results/sdk-node.json at the repository root.
// Run: npx pnpm@12.4.2 --filter @vane/sdk-node bench   (after a build of every package: it imports sdk-node/dist and
// engine/dist and runs server/dist/cli.js; or: cd sdk-node && node --expose-gc --no-flush-bytecode bench/run.mjs)
// Knobs: BENCH_TIME_MS (per timed task, default 300), BENCH_ROUNDS (getter rounds, default 3),
// BENCH_PHASES=memory,getters,openfeature,telemetry,propagation (the server is started whatever the phases).
import '../../engine/bench/guard.mjs'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Bench } from 'tinybench'
import vane from '../../engine/bench/contestants/vane.mjs'
import { BATCH, cyclingTask, fullGc, measureBuild } from '../../engine/bench/harness.mjs'
import { buildMix, buildPool, MANY_FLAGS, POOL_SIZE, W1, W2, W3 } from '../../engine/bench/workloads.mjs'
import { compileSnapshot } from '../../engine/dist/index.js'
import {
  awaitServer,
  benchServerEnv,
  freePort as freePortOn,
  request as httpRequest,
} from '../../server/bench/http.mjs'
import { createClient } from '../dist/index.js'
import { VaneProvider } from '../dist/openfeature.js'

if (typeof global.gc !== 'function')
  throw new Error('run with --expose-gc (npx pnpm@12.4.2 --filter @vane/sdk-node bench)')

const env = process.env
const TIME = Number(env.BENCH_TIME_MS ?? 300)
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 3))
const PHASES = new Set((env.BENCH_PHASES ?? 'memory,getters,openfeature,telemetry,propagation').split(','))
const OVERHEAD_TARGET = 0.2
/** Awaited OpenFeature evaluations per timed sample (each is microseconds, not nanoseconds). */
const OF_BATCH = 100
/** Requests (root span + evaluation + children) per timed sample in the span phase. */
const SPAN_REQUESTS = 50
const CHILD_SPANS = 10
const CHANGES = 200
const WARMUP_CHANGES = 10
/** The whole run, server start to JSON; past it the server is killed and the run fails. */
const DEADLINE_MS = 175_000

const sdkDir = fileURLToPath(new URL('..', import.meta.url))
const repoDir = fileURLToPath(new URL('../..', import.meta.url))
const resultsDir = join(repoDir, 'bench-results')
const resultFile = join(resultsDir, 'sdk-node.json')
const cli = join(repoDir, 'server', 'dist', 'cli.js')
const HOST = '127.0.0.1'
const ADMIN_KEY = `vane_admin_bench_${randomBytes(16).toString('hex')}`
const BENCH_ENV = 'bench'
const PROP_ENV = 'propagation'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---- the server process: killed on the way out, whatever happens ---------------------------------
let server
const serverLog = []
function killServer() {
  if (server !== undefined && server.exitCode === null && server.signalCode === null) {
    try {
      server.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
}
process.on('exit', killServer)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`)
    killServer()
    process.exit(130)
  })
}
const watchdog = setTimeout(() => {
  process.stderr.write(`bench: over the ${DEADLINE_MS / 1000} s limit, killing the server\n`)
  killServer()
  process.exit(1)
}, DEADLINE_MS)
watchdog.unref()

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
let port
const request = (method, path, options = {}) =>
  httpRequest({ host: HOST, port, agent }, method, path, { key: ADMIN_KEY, ...options })

async function admin(method, path, body) {
  const res = await request(method, `/admin/v1${path}`, { body })
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${res.text.slice(0, 400)}`)
  return JSON.parse(res.text)
}

async function startServer(dataDir) {
  port = await freePortOn(HOST)
  const serverEnv = benchServerEnv(env, {
    PORT: String(port),
    HOST,
    VANE_DATA_DIR: dataDir,
    VANE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
  })
  server = spawn(process.execPath, [cli, 'serve'], { cwd: repoDir, env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  await awaitServer(server, { log: serverLog, probe: () => request('GET', '/readyz') })
}

async function stopServer() {
  if (server === undefined || server.exitCode !== null || server.signalCode !== null) return
  const gone = new Promise((resolve) => server.once('exit', resolve))
  server.kill('SIGTERM')
  await Promise.race([gone, sleep(5_000)])
  killServer()
}

/** The 1-minute load average as each phase starts: other work on these shared cores skews every figure. */
const load = {}
function phase(name, message) {
  const avg = os.loadavg()[0]
  load[name] = avg
  const busy = avg > 1.5 ? ` (load average ${avg.toFixed(2)}: other work is running, figures will be noisy)` : ''
  process.stderr.write(`${message}${busy}\n`)
}

async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
    await sleep(5)
  }
}

// ---- measuring -----------------------------------------------------------------------------------
/** cyclingTask's async twin: `batch` awaited calls, cycling through `pool`, its own call site per task. */
function asyncCyclingTask(pool, fn, batch) {
  const make = new Function(
    'pool',
    'fn',
    'batch',
    `'use strict'
    const n = pool.length
    const out = { sink: undefined }
    let i = 0
    async function task() {
      let r
      for (let k = 0; k < batch; k++) {
        r = await fn(pool[i])
        if (++i === n) i = 0
      }
      out.sink = r
    }
    return { task, out }`,
  )
  return make(pool, fn, batch)
}

/**
 * Times `tasks` ({ name, task, ops }) with tinybench over `rounds` rounds, the order rotated each round;
 * per task the round with the lowest median sample is kept (interference from other processes only adds
 * time). Comparisons use the median sample (p50): on shared cores the mean mostly measures preemption.
 */
async function timeTasks(tasks, { rounds = 1, time = TIME, async = false } = {}) {
  const perRound = []
  for (let round = 0; round < rounds; round++) {
    const shift = round % tasks.length
    const order = [...tasks.slice(shift), ...tasks.slice(0, shift)]
    const bench = new Bench({ time, warmupTime: 100, warmupIterations: 10, iterations: 10, throws: true })
    for (const t of order) bench.add(t.name, t.task)
    if (async) await bench.run()
    else bench.runSync()
    const figures = {}
    for (const task of bench.tasks) {
      const { latency } = task.result
      const ops = tasks.find((t) => t.name === task.name).ops
      const ns = (ms) => (ms * 1e6) / ops
      figures[task.name] = {
        opsPerSample: ops,
        samples: latency.samples.length,
        meanNs: ns(latency.mean),
        p50Ns: ns(latency.p50),
        p99Ns: ns(latency.p99),
        minNs: ns(latency.min),
        rmePercent: latency.rme,
      }
    }
    perRound.push(figures)
  }
  const best = {}
  for (const t of tasks) {
    best[t.name] = {
      ...perRound.map((r) => r[t.name]).sort((a, b) => a.p50Ns - b.p50Ns)[0],
      meanNsPerRound: perRound.map((r) => r[t.name].meanNs),
      p50NsPerRound: perRound.map((r) => r[t.name].p50Ns),
    }
  }
  return best
}

function summary(values) {
  const sorted = Float64Array.from(values).sort()
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
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

// ---- the workloads -------------------------------------------------------------------------------
const pool = buildPool()
const KINDS = { [W1.key]: 'plain', [W2.key]: 'rules', [W3.key]: 'split' }
const WORKLOADS = [
  { id: 'W1', spec: W1, title: 'plain "on" boolean flag', type: 'boolean', fallback: false },
  { id: 'W2', spec: W2, title: 'five rules (mostly miss) then a 10 % rollout', type: 'boolean', fallback: false },
  { id: 'W3', spec: W3, title: '3-way split 33.333/33.333/33.334', type: 'string', fallback: 'control' },
]
/** The engine benchmark's own snapshot of W1-W3: the client's bootstrap, and (as admin API bodies) the server's flags. */
const benchSnapshot = vane.config([W1, W2, W3])

/** The compiled snapshot a client evaluates with (a private field: the bench reads it to call the engine directly). */
const evaluatorOf = (client) => {
  const evaluator = client.evaluator
  if (evaluator === undefined || typeof evaluator.evaluate !== 'function')
    throw new Error('VaneClient no longer keeps its compiled snapshot in `evaluator`: update the bench')
  return evaluator
}

let serverKey
let propKey

/**
 * A client as the getter figures use it: started from a bootstrap snapshot, polling (stream: false) the real
 * server, which serves the same three flags; resolves once the one poll of the run has replaced the bootstrap.
 * `fetches()` counts every request it made, so the bench can show that getters never touch the network.
 */
async function polledClient(options = {}) {
  let fetches = 0
  const problems = []
  const client = createClient({
    url: `http://${HOST}:${port}`,
    sdkKey: serverKey,
    bootstrap: { ...structuredClone(benchSnapshot), environment: 'bootstrap' },
    stream: false,
    pollIntervalMs: 3_600_000,
    platform: {
      fetch: (input, init) => {
        fetches++
        return fetch(input, init).catch((error) => {
          problems.push(`${error.message}: ${error.cause?.code ?? error.cause?.message ?? '?'}`)
          throw error
        })
      },
    },
    ...options,
  })
  const stop = [
    client.on('stale', (e) => problems.push(e.message)),
    client.on('error', (e) => problems.push(e.message)),
  ]
  await client.waitForReady(5_000)
  await waitUntil(
    () => client.snapshotInfo?.environment === BENCH_ENV,
    20_000,
    () => `the first poll (${fetches} requests; ${problems.join('; ') || 'no error reported'})`,
  )
  for (const off of stop) off()
  return { client, fetches: () => fetches }
}

// ---- phase: setup --------------------------------------------------------------------------------
async function setup() {
  await admin('POST', '/environments', { key: BENCH_ENV })
  await admin('POST', '/environments', { key: PROP_ENV })
  for (const flag of Object.values(benchSnapshot.flags)) {
    const { key, version: _version, type, variants, ...targeting } = flag
    await admin('PUT', `/flags/${key}`, { type, variants })
    await admin('PUT', `/environments/${BENCH_ENV}/flags/${key}`, targeting)
  }
  await admin('PUT', '/flags/prop', { type: 'boolean', variants: { on: true, off: false } })
  await admin('PUT', `/environments/${PROP_ENV}/flags/prop`, {
    enabled: true,
    offVariant: 'off',
    fallthrough: { variant: 'on' },
    rules: [
      { id: 'r1', clauses: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'] }], serve: { variant: 'off' } },
    ],
  })
  serverKey = (await admin('POST', '/keys', { kind: 'server', name: 'bench-getters', environment: BENCH_ENV })).secret
  propKey = (await admin('POST', '/keys', { kind: 'server', name: 'bench-propagation', environment: PROP_ENV })).secret
}

// ---- phase: memory -------------------------------------------------------------------------------
async function memory() {
  const text = JSON.stringify(vane.config(buildMix(MANY_FLAGS)))
  // a port nothing listens on: this client's one poll fails at once, its bootstrap is all it ever has
  const closedUrl = `http://${HOST}:${await freePortOn(HOST)}`
  const fetchesSettled = []
  const newClient = (snapshot) =>
    createClient({
      url: closedUrl,
      sdkKey: 'vane_server_bench',
      bootstrap: snapshot,
      stream: false,
      pollIntervalMs: 3_600_000,
      platform: {
        fetch: (input, init) => {
          const p = fetch(input, init)
          fetchesSettled.push(p.catch(() => {}))
          return p
        },
      },
    })
  const settle = async (client) => {
    await client.waitForReady(5_000)
    await Promise.all(fetchesSettled.splice(0))
    await sleep(20)
    return client
  }
  // warm up every code path (compiler, client, fetch) so that their code is not counted as flag data
  const warm = await settle(newClient(vane.config(buildMix(200))))
  await warm.close()
  compileSnapshot(vane.config(buildMix(200)))

  // the snapshot object is built inside each build: whatever stays of it is retained by what was built
  const engine = await measureBuild(() => compileSnapshot(JSON.parse(text)))
  const client = await measureBuild(() => settle(newClient(JSON.parse(text))))
  const held = client.refs[0]
  const check = held.getBooleanDetails('flag-00000', false, pool[0])
  if (check.value !== true || check.errorCode !== undefined)
    throw new Error(`10k client: unexpected ${JSON.stringify(check)}`)
  const flags = Object.keys(held.evaluateAll(pool[0])).length
  if (flags !== MANY_FLAGS) throw new Error(`10k client: ${flags} flags, expected ${MANY_FLAGS}`)
  await held.close()
  engine.refs.length = 0
  client.refs.length = 0
  fullGc()
  return {
    flags: MANY_FLAGS,
    snapshotJsonBytes: Buffer.byteLength(text),
    clientBytes: client.bytes,
    engineBytes: engine.bytes,
    clientOverEngineBytes: client.bytes - engine.bytes,
    clientBytesPerFlag: client.bytes / MANY_FLAGS,
    clientStartMs: client.ms,
    engineCompileMs: engine.ms,
  }
}

// ---- phase: getters ------------------------------------------------------------------------------
async function getters(client, fetches) {
  const evaluator = evaluatorOf(client)
  const reference = compileSnapshot(structuredClone(benchSnapshot))
  const checks = {}
  for (const w of WORKLOADS) {
    const key = w.spec.key
    const get = w.type === 'boolean' ? client.getBoolean : client.getString
    const details = w.type === 'boolean' ? client.getBooleanDetails : client.getStringDetails
    const tally = {}
    let agree = 0
    for (const ctx of pool) {
      const raw = evaluator.evaluate(key, ctx, w.fallback)
      const value = get.call(client, key, w.fallback, ctx)
      const d = details.call(client, key, w.fallback, ctx)
      if (raw.errorCode !== undefined || d.errorCode !== undefined)
        throw new Error(`${w.id}: ${raw.errorCode ?? d.errorCode} ${raw.errorMessage ?? d.errorMessage}`)
      if (value !== raw.value || d.value !== raw.value || d.variant !== raw.variant)
        throw new Error(`${w.id}: the getter and the engine disagree for ${ctx.targetingKey}`)
      if (reference.evaluate(key, ctx, w.fallback).value === value) agree++
      tally[String(value)] = (tally[String(value)] ?? 0) + 1
    }
    checks[w.id] = {
      kind: KINDS[key],
      shares: Object.fromEntries(
        Object.entries(tally).map(([k, n]) => [k, Math.round((n / pool.length) * 10_000) / 100]),
      ),
      agreementWithEngineBenchSnapshot: agree / pool.length,
    }
  }

  const tasks = []
  const sinks = []
  const add = (name, fn) => {
    const { task, out } = cyclingTask(pool, fn, BATCH)
    tasks.push({ name, task, ops: BATCH })
    sinks.push(out)
  }
  add('loop', (ctx) => ctx)
  for (const w of WORKLOADS) {
    const key = w.spec.key
    const fallback = w.fallback
    add(`${w.id} engine`, (ctx) => evaluator.evaluate(key, ctx, fallback))
    if (w.type === 'boolean') {
      add(`${w.id} getter`, (ctx) => client.getBoolean(key, fallback, ctx))
      add(`${w.id} details`, (ctx) => client.getBooleanDetails(key, fallback, ctx))
    } else {
      add(`${w.id} getter`, (ctx) => client.getString(key, fallback, ctx))
      add(`${w.id} details`, (ctx) => client.getStringDetails(key, fallback, ctx))
    }
  }
  const before = fetches()
  const figures = await timeTasks(tasks, { rounds: ROUNDS })
  const networkCalls = fetches() - before
  if (sinks.some((s) => s.sink === undefined)) throw new Error('a getter task produced no result')
  if (networkCalls !== 0) throw new Error(`the getters made ${networkCalls} network requests`)
  const rows = WORKLOADS.map((w) => {
    const engine = figures[`${w.id} engine`]
    const getter = figures[`${w.id} getter`]
    const details = figures[`${w.id} details`]
    return {
      workload: w.id,
      title: w.title,
      getterMethod: w.type === 'boolean' ? 'getBoolean' : 'getString',
      detailsMethod: w.type === 'boolean' ? 'getBooleanDetails' : 'getStringDetails',
      engine,
      getter,
      details,
      // medians of 1000-call samples: what a call costs when no other process takes the core meanwhile
      getterOverhead: getter.p50Ns / engine.p50Ns - 1,
      detailsOverhead: details.p50Ns / engine.p50Ns - 1,
      getterOverheadByMean: getter.meanNs / engine.meanNs - 1,
      detailsOverheadByMean: details.meanNs / engine.meanNs - 1,
    }
  })
  return { rounds: ROUNDS, batch: BATCH, loop: figures.loop, networkCallsWhileTimed: networkCalls, checks, rows }
}

// ---- phase: OpenFeature --------------------------------------------------------------------------
async function openFeature(client) {
  await OpenFeature.setProviderAndWait(new VaneProvider(client))
  await OpenFeature.setProviderAndWait(
    'in-memory',
    new InMemoryProvider({ w1: { variants: { on: true, off: false }, defaultVariant: 'on', disabled: false } }),
  )
  const vaneOf = OpenFeature.getClient()
  const memoryOf = OpenFeature.getClient('in-memory')
  for (const ctx of pool.slice(0, 200)) {
    const checks = [
      [await vaneOf.getBooleanValue('w1', false, ctx), client.getBoolean('w1', false, ctx)],
      [await vaneOf.getBooleanValue('w2', false, ctx), client.getBoolean('w2', false, ctx)],
      [await vaneOf.getStringValue('w3', 'control', ctx), client.getString('w3', 'control', ctx)],
      [await memoryOf.getBooleanValue('w1', false, ctx), true],
    ]
    if (checks.some(([a, b]) => a !== b)) throw new Error(`OpenFeature disagrees: ${JSON.stringify(checks)}`)
  }
  const tasks = []
  const sinks = []
  const add = (name, fn) => {
    const { task, out } = asyncCyclingTask(pool, fn, OF_BATCH)
    tasks.push({ name, task, ops: OF_BATCH })
    sinks.push(out)
  }
  add('W1 vane', (ctx) => vaneOf.getBooleanValue('w1', false, ctx))
  add('W2 vane', (ctx) => vaneOf.getBooleanValue('w2', false, ctx))
  add('W3 vane', (ctx) => vaneOf.getStringValue('w3', 'control', ctx))
  add('W1 in-memory', (ctx) => memoryOf.getBooleanValue('w1', false, ctx))
  add('W1 vane details', (ctx) => vaneOf.getBooleanDetails('w1', false, ctx))
  const figures = await timeTasks(tasks, { rounds: 2, async: true })
  if (sinks.some((s) => s.sink === undefined)) throw new Error('an OpenFeature task produced no result')
  return { batch: OF_BATCH, figures }
}

// ---- phase: telemetry and spans ------------------------------------------------------------------
async function telemetry(offClient, on, quiet) {
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  const exporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
    forceFlush: async () => {},
  }
  try {
    const plain = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const tagged = new BasicTracerProvider({ spanProcessors: [on.spanProcessor(), new SimpleSpanProcessor(exporter)] })
    const plainTracer = plain.getTracer('bench')
    const taggedTracer = tagged.getTracer('bench')

    // @opentelemetry/api is an optional peer the SDK loads lazily: wait until evaluations tag spans
    await waitUntil(
      () =>
        [on, quiet].every((c) =>
          taggedTracer.startActiveSpan('probe', (span) => {
            c.getBoolean('w1', false, pool[0])
            span.end()
            return span.attributes['vane.flag.w1'] === 'on'
          }),
        ),
      5_000,
      'the SDK to load @opentelemetry/api',
    )

    // -- a getter with telemetry off and on, outside any span and inside one
    const tasks = []
    const sinks = []
    const add = (name, fn, wrap) => {
      const { task, out } = cyclingTask(pool, fn, BATCH)
      tasks.push({ name, task: wrap === undefined ? task : () => wrap(task), ops: BATCH })
      sinks.push(out)
    }
    const root = taggedTracer.startSpan('long-request')
    const inRoot = trace.setSpan(context.active(), root)
    const inSpan = (task) => context.with(inRoot, task)
    add('off', (ctx) => offClient.getBoolean('w1', false, ctx))
    add('on', (ctx) => on.getBoolean('w1', false, ctx))
    add('on, events off', (ctx) => quiet.getBoolean('w1', false, ctx))
    add('off, in a span', (ctx) => offClient.getBoolean('w1', false, ctx), inSpan)
    add('on, in a span', (ctx) => on.getBoolean('w1', false, ctx), inSpan)
    add('on, events off, in a span', (ctx) => quiet.getBoolean('w1', false, ctx), inSpan)
    const getterFigures = await timeTasks(tasks, { rounds: 2 })
    root.end()
    if (sinks.some((s) => s.sink === undefined)) throw new Error('a telemetry task produced no result')
    if (root.attributes['vane.flag.w1'] !== 'on') throw new Error('the long request span was not tagged')

    // -- span processor: requests of a root span, one evaluation, then N child spans
    let i = 0
    const requests = (tracer, children) => () => {
      for (let r = 0; r < SPAN_REQUESTS; r++) {
        tracer.startActiveSpan('request', (span) => {
          on.getBoolean('w1', false, pool[i])
          if (++i === pool.length) i = 0
          for (let k = 0; k < children; k++) tracer.startSpan('child').end()
          span.end()
        })
      }
    }
    // check: children started after the evaluation carry the flag only with the processor
    for (const [tracer, expected] of [
      [taggedTracer, 'on'],
      [plainTracer, undefined],
    ]) {
      tracer.startActiveSpan('request', (span) => {
        on.getBoolean('w1', false, pool[0])
        const child = tracer.startSpan('child')
        child.end()
        span.end()
        if (child.attributes['vane.flag.w1'] !== expected)
          throw new Error(`child span tagged ${child.attributes['vane.flag.w1']}, expected ${expected}`)
      })
    }
    const spanTasks = [
      { name: 'without, 0 children', task: requests(plainTracer, 0), ops: SPAN_REQUESTS },
      { name: 'with, 0 children', task: requests(taggedTracer, 0), ops: SPAN_REQUESTS },
      { name: `without, ${CHILD_SPANS} children`, task: requests(plainTracer, CHILD_SPANS), ops: SPAN_REQUESTS },
      { name: `with, ${CHILD_SPANS} children`, task: requests(taggedTracer, CHILD_SPANS), ops: SPAN_REQUESTS },
    ]
    const spanFigures = await timeTasks(spanTasks, { rounds: 2 })
    const without0 = spanFigures['without, 0 children'].p50Ns
    const with0 = spanFigures['with, 0 children'].p50Ns
    const withoutN = spanFigures[`without, ${CHILD_SPANS} children`].p50Ns
    const withN = spanFigures[`with, ${CHILD_SPANS} children`].p50Ns
    await plain.shutdown()
    await tagged.shutdown()
    return {
      getters: getterFigures,
      spans: {
        requestsPerSample: SPAN_REQUESTS,
        childSpans: CHILD_SPANS,
        perRequestNs: spanFigures,
        /** (with − without) over all N + 1 spans of a request. */
        overheadPerSpanNs: (withN - withoutN) / (CHILD_SPANS + 1),
        /** The slope: what each further child span costs more with the processor. */
        overheadPerChildSpanNs: (withN - withoutN - (with0 - without0)) / CHILD_SPANS,
        /** A request's root span alone (onStart, and onEnd counting its outcome per variant). */
        overheadPerRootSpanNs: with0 - without0,
        spanCostWithoutNs: (withoutN - without0) / CHILD_SPANS,
      },
    }
  } finally {
    trace.disable()
    context.disable()
    contextManager.disable()
  }
}

// ---- phase: propagation --------------------------------------------------------------------------
async function propagation() {
  const client = createClient({ url: `http://${HOST}:${port}`, sdkKey: propKey })
  try {
    await client.waitForReady(10_000)
    let pending
    client.on('change', (keys) => {
      const at = performance.now()
      if (keys.includes('prop') && pending !== undefined) pending(at)
    })
    const latencies = []
    const adminMs = []
    const nl = { targetingKey: 'bench', country: 'NL' }
    if (client.getBoolean('prop', true, nl) !== false) throw new Error('prop: rule r1 does not apply at start')
    for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
      const action = i % 2 === 0 ? 'disable' : 'enable'
      let timer
      const arrived = new Promise((resolve, reject) => {
        pending = resolve
        timer = setTimeout(() => reject(new Error(`change ${i} (${action}): no change event within 5 s`)), 5_000)
      })
      const t0 = performance.now()
      const res = await request('POST', `/admin/v1/environments/${PROP_ENV}/flags/prop/rules/r1/${action}`)
      const t1 = performance.now()
      if (res.status !== 200) throw new Error(`rule ${action}: HTTP ${res.status} ${res.text.slice(0, 300)}`)
      const at = await arrived.finally(() => clearTimeout(timer))
      pending = undefined
      // the rule serves `off` to NL: disabled, NL falls through to `on`
      const value = client.getBoolean('prop', action === 'enable', nl)
      if (value !== (action === 'disable')) throw new Error(`change ${i} (${action}): the client serves ${value}`)
      if (i >= WARMUP_CHANGES) {
        latencies.push(at - t0)
        adminMs.push(t1 - t0)
      }
    }
    return {
      changes: CHANGES,
      warmupChanges: WARMUP_CHANGES,
      transport: 'stream (SSE), telemetry off',
      latencyMs: summary(latencies),
      adminResponseMs: summary(adminMs),
    }
  } finally {
    await client.close()
  }
}

// ---- main ----------------------------------------------------------------------------------------
function git(...args) {
  try {
    return execFileSync('git', args, { cwd: repoDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}
const version = (pkg) => {
  try {
    return JSON.parse(readFileSync(join(realpathSync(join(sdkDir, 'node_modules', pkg)), 'package.json'), 'utf8'))
      .version
  } catch {
    return undefined
  }
}

if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (npx pnpm@12.4.2 -r build)`)
const started = Date.now()
const dataDir = mkdtempSync(join(os.tmpdir(), 'vane-sdk-bench-'))
const result = { generatedAt: new Date().toISOString() }
const clients = []
let failure
try {
  phase('server', 'starting vane serve…')
  await startServer(dataDir)
  await setup()
  if (PHASES.has('memory')) {
    phase('memory', `memory: a client holding ${MANY_FLAGS} flags…`)
    result.memory = await memory()
  }
  // every polled client polls once, now, one after the other (a connection left idle for long may be closed
  // by the server as it is reused, and a failed poll is only retried a poll interval later)
  const { client, fetches } = await polledClient()
  clients.push(client)
  // outcome reports off (reportIntervalMs: 0): nothing is sent, the per-variant counting on root spans still runs
  const telemetryOn = (await polledClient({ telemetry: { reportIntervalMs: 0 } })).client
  clients.push(telemetryOn)
  const telemetryQuiet = (await polledClient({ telemetry: { reportIntervalMs: 0, events: false } })).client
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
    result.propagation = await propagation()
  }
} catch (error) {
  failure = error
} finally {
  await OpenFeature.close().catch(() => {})
  await Promise.all(clients.map((c) => c.close().catch(() => {})))
  await stopServer().catch(() => {})
  killServer()
  agent.destroy()
  rmSync(dataDir, { recursive: true, force: true })
}
if (failure !== undefined) {
  process.stderr.write(`bench failed: ${failure.stack ?? failure}\n`)
  if (serverLog.length > 0) process.stderr.write(`server log (last lines):\n${serverLog.slice(-20).join('\n')}\n`)
  process.exit(1)
}

// ---- table ---------------------------------------------------------------------------------------
const fmtNs = (ns) =>
  ns >= 100_000 ? `${(ns / 1000).toFixed(0)} µs` : ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`
const fmtMs = (v) => (v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`)
const fmtMB = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`
const pct = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`
const signed = (ns) => `${ns >= 0 ? '+' : '−'}${fmtNs(Math.abs(ns))}`
const pad = (s, n) => String(s).padEnd(n)
const lpad = (s, n) => String(s).padStart(n)
const lines = []
const targets = []

const g = result.getters
if (g !== undefined) {
  lines.push(
    `getters vs the engine on the same compiled snapshot (per call, ${POOL_SIZE} contexts cycled, best of ${g.rounds} rounds by p50)`,
  )
  lines.push(
    `  ${pad('', 4)}${pad('path', 26)}${lpad('p50', 11)}${lpad('mean', 11)}${lpad('p99', 11)}${lpad('vs engine', 11)}`,
  )
  for (const r of g.rows) {
    lines.push(`  ${r.workload}: ${r.title}`)
    for (const [label, t, overhead] of [
      ['evaluator.evaluate', r.engine, undefined],
      [r.getterMethod, r.getter, r.getterOverhead],
      [r.detailsMethod, r.details, r.detailsOverhead],
    ]) {
      lines.push(
        `  ${pad('', 4)}${pad(label, 26)}${lpad(fmtNs(t.p50Ns), 11)}${lpad(fmtNs(t.meanNs), 11)}${lpad(fmtNs(t.p99Ns), 11)}${lpad(overhead === undefined ? '' : pct(overhead), 11)}`,
      )
    }
  }
  lines.push(
    `  (samples are batches of ${g.batch} calls: p50/p99 are of ${g.batch}-call means; "vs engine" compares p50s; the harness loop`,
  )
  lines.push(
    `   alone costs ${fmtNs(g.loop.p50Ns)} a call and is in every figure; network requests by the client while timed: ${g.networkCallsWhileTimed})`,
  )
  lines.push('')
  for (const r of g.rows) {
    for (const [method, overhead] of [
      [r.getterMethod, r.getterOverhead],
      [r.detailsMethod, r.detailsOverhead],
    ]) {
      targets.push({
        target: `${r.workload} ${method} overhead over the engine < 20 %`,
        value: overhead,
        limit: OVERHEAD_TARGET,
        met: overhead < OVERHEAD_TARGET,
      })
    }
  }
}

if (result.openFeature !== undefined) {
  const of = result.openFeature.figures
  lines.push(
    `OpenFeature server SDK ${version('@openfeature/server-sdk')}: awaited calls, batches of ${result.openFeature.batch}`,
  )
  lines.push(`  ${pad('call', 50)}${lpad('p50', 11)}${lpad('mean', 11)}${lpad('p99', 11)}${lpad('× getter', 10)}`)
  const nativeOf = (id) => g?.rows.find((r) => r.workload === id).getter.p50Ns
  for (const [name, label, native] of [
    ['W1 vane', 'W1 getBooleanValue, VaneProvider', nativeOf('W1')],
    ['W2 vane', 'W2 getBooleanValue, VaneProvider', nativeOf('W2')],
    ['W3 vane', 'W3 getStringValue, VaneProvider', nativeOf('W3')],
    ['W1 vane details', 'W1 getBooleanDetails, VaneProvider', nativeOf('W1')],
    ['W1 in-memory', 'W1 getBooleanValue, InMemoryProvider (the SDK alone)', undefined],
  ]) {
    const t = of[name]
    lines.push(
      `  ${pad(label, 50)}${lpad(fmtNs(t.p50Ns), 11)}${lpad(fmtNs(t.meanNs), 11)}${lpad(fmtNs(t.p99Ns), 11)}${lpad(native === undefined ? '' : `${(t.p50Ns / native).toFixed(0)}×`, 10)}`,
    )
  }
  lines.push('')
}

const m = result.memory
if (m !== undefined) {
  lines.push(`memory: ${m.flags} flags (the engine benchmark's mix, ${fmtMB(m.snapshotJsonBytes)} of snapshot JSON)`)
  lines.push(`  ${pad('', 42)}${lpad('retained heap', 15)}${lpad('per flag', 11)}${lpad('build', 10)}`)
  lines.push(
    `  ${pad('client (createClient with the bootstrap)', 42)}${lpad(fmtMB(m.clientBytes), 15)}${lpad(`${(m.clientBytes / m.flags).toFixed(0)} B`, 11)}${lpad(fmtMs(m.clientStartMs), 10)}`,
  )
  lines.push(
    `  ${pad('engine alone (compileSnapshot)', 42)}${lpad(fmtMB(m.engineBytes), 15)}${lpad(`${(m.engineBytes / m.flags).toFixed(0)} B`, 11)}${lpad(fmtMs(m.engineCompileMs), 10)}`,
  )
  lines.push(
    '  (heapUsed after a full GC, before and after, with a reference to what was built kept; the snapshot object is',
  )
  lines.push('   parsed inside the build, so whatever of it stays is counted)')
  lines.push('')
}

if (result.telemetry !== undefined) {
  const tg = result.telemetry.getters
  lines.push('telemetry: getBoolean on W1, per call')
  lines.push(`  ${pad('', 30)}${lpad('p50', 11)}${lpad('mean', 11)}${lpad('vs off', 12)}`)
  for (const [name, base] of [
    ['off', 'off'],
    ['on', 'off'],
    ['on, events off', 'off'],
    ['off, in a span', 'off, in a span'],
    ['on, in a span', 'off, in a span'],
    ['on, events off, in a span', 'off, in a span'],
  ]) {
    lines.push(
      `  ${pad(name, 30)}${lpad(fmtNs(tg[name].p50Ns), 11)}${lpad(fmtNs(tg[name].meanNs), 11)}${lpad(name === base ? '' : signed(tg[name].p50Ns - tg[base].p50Ns), 12)}`,
    )
  }
  lines.push(
    '  (on: telemetry { reportIntervalMs: 0 }: evaluation events go to the no-op loggers of @opentelemetry/api(-logs), no logs SDK;',
  )
  lines.push(
    '   in a span: an active span of a BasicTracerProvider with the client’s span processor, tagged by every call)',
  )
  const sp = result.telemetry.spans
  lines.push(
    `span processor: requests of a root span, one getBoolean, then child spans; BasicTracerProvider, SimpleSpanProcessor(no-op exporter)`,
  )
  lines.push(`  ${pad('per request (p50)', 34)}${lpad('without', 11)}${lpad('with', 11)}${lpad('difference', 12)}`)
  for (const n of [0, sp.childSpans]) {
    const without = sp.perRequestNs[`without, ${n} children`].p50Ns
    const withIt = sp.perRequestNs[`with, ${n} children`].p50Ns
    lines.push(
      `  ${pad(`root + ${n} child spans`, 34)}${lpad(fmtNs(without), 11)}${lpad(fmtNs(withIt), 11)}${lpad(signed(withIt - without), 12)}`,
    )
  }
  lines.push(
    `  with the processor, per span: ${signed(sp.overheadPerSpanNs)} over all ${sp.childSpans + 1} spans of a request; per child span ${signed(sp.overheadPerChildSpanNs)},`,
  )
  lines.push(
    `  per root span ${signed(sp.overheadPerRootSpanNs)} (its outcome counted per variant); a child span itself costs ${fmtNs(sp.spanCostWithoutNs)}`,
  )
  lines.push('')
}

const p = result.propagation
if (p !== undefined) {
  lines.push(
    `propagation: ${p.changes} admin changes one after another (rule disable/enable), request sent → the client's change event`,
  )
  lines.push(`  (SSE stream, telemetry off, real server: SQLite, LOG_LEVEL=warn)`)
  lines.push(`  ${pad('', 22)}${lpad('p50', 10)}${lpad('p99', 10)}${lpad('max', 10)}`)
  lines.push(
    `  ${pad('change → change event', 22)}${lpad(fmtMs(p.latencyMs.p50), 10)}${lpad(fmtMs(p.latencyMs.p99), 10)}${lpad(fmtMs(p.latencyMs.max), 10)}`,
  )
  lines.push(
    `  ${pad('(admin response)', 22)}${lpad(fmtMs(p.adminResponseMs.p50), 10)}${lpad(fmtMs(p.adminResponseMs.p99), 10)}${lpad(fmtMs(p.adminResponseMs.max), 10)}`,
  )
  lines.push('')
}

if (targets.length > 0) {
  lines.push('targets')
  for (const t of targets) lines.push(`  ${t.met ? 'met    ' : 'NOT MET'}  ${pad(t.target, 58)} ${pct(t.value)}`)
}

const cpus = os.cpus()
const commit = git('rev-parse', '--short', 'HEAD')
const dirty = git('status', '--porcelain', '--', 'sdk-node/src', 'engine/src')
const header = `${cpus[0]?.model} × ${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, vane at ${commit ?? '?'}${dirty ? ' + uncommitted changes' : ''}`
const maxLoad = Math.max(0, ...Object.values(load))
const loadNote =
  maxLoad > 1.5
    ? `\nload average up to ${maxLoad.toFixed(1)} during the run (${os.availableParallelism()} cores): other work was running, figures are pessimistic\n`
    : ''
console.log(`${header}\n${loadNote}\n${lines.join('\n')}`)

Object.assign(result, {
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: {
    cpuModel: cpus[0]?.model,
    logicalCpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverageAtEachPhase: load,
  },
  vane: { commit, uncommittedChangesInSdkOrEngineSrc: dirty === undefined ? undefined : dirty.length > 0 },
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
mkdirSync(resultsDir, { recursive: true })
writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`)
console.log(`\nwrote ${resultFile} (${result.durationSeconds} s)`)
process.exit(0)
