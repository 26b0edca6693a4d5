// One contestant, in a process of its own (forked by run.mjs): compile and heap
// figures first, on a fresh heap, then the W1-W4 timings with tinybench.
// Usage: node --expose-gc bench/contestant.mjs <name>
import './guard.mjs'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { Bench } from 'tinybench'
import { BATCH, cyclingTask, measureBuild, median, perOperation, timeBuild } from './harness.mjs'
import { ALL_FLAGS, buildMix, buildPool, MANY_FLAGS, W1, W2, W3 } from './workloads.mjs'

// GrowthBook reads process.env.NODE_ENV on every evaluation, and process.env is a
// C++-backed object in Node (~50 ns a read). A plain copy is what a bundler's `define`
// gives; every contestant gets it (only GrowthBook reads the environment while evaluating).
process.env = { ...process.env }

const name = process.argv[2]
const contestant = (await import(`./contestants/${name === 'hand' ? 'handwritten' : name}.mjs`)).default
const TIME = Number(process.env.BENCH_TIME_MS ?? 500)
const COMPILE_RUNS = 3
const ALL_COPIES = 4

const pool = contestant.contexts(buildPool())
// which engine build this process ran: another build landing mid-run would mix two engines
const distDir = new URL('../dist/', import.meta.url)
const distHash = createHash('sha256')
for (const file of readdirSync(distDir)
  .filter((f) => f.endsWith('.js'))
  .sort())
  distHash.update(file).update(readFileSync(new URL(file, distDir)))
const report = {
  name: contestant.name,
  label: contestant.label,
  engineDist: distHash.digest('hex').slice(0, 16),
  tasks: {},
  checks: {},
}

// ---- compile time and retained heap -------------------------------------------------
let instanceAll
const specsAll = buildMix(ALL_FLAGS)
if (contestant.load !== undefined) {
  const textAll = JSON.stringify(contestant.config(specsAll))
  const textMany = JSON.stringify(contestant.config(buildMix(MANY_FLAGS)))
  // warm the library's own code paths so its bytecode is not counted as flag data
  contestant.dispose(await contestant.load(JSON.stringify(contestant.config(buildMix(50)))))

  // several copies held at once, so that a few KB of GC noise do not swamp the small figure
  const all = await measureBuild(() => contestant.load(textAll), ALL_COPIES)
  instanceAll = all.refs.pop()
  for (const ref of all.refs) contestant.dispose(ref)
  all.refs.length = 0
  const many = await measureBuild(() => contestant.load(textMany))
  const times = [many.ms]
  contestant.dispose(many.refs.pop())
  for (let i = 1; i < COMPILE_RUNS; i++) {
    times.push(
      await timeBuild(
        () => contestant.load(textMany),
        (ref) => contestant.dispose(ref),
      ),
    )
  }
  report.memory = {
    heapAllBytes: all.bytes,
    compileAllMs: all.ms,
    heapManyBytes: many.bytes,
    compileManyMs: median(times),
    compileManyRunsMs: times,
    configBytesMany: Buffer.byteLength(textMany),
  }
}

// ---- correctness and outcome checks (also the pre-warm-up) ----------------------------
const instance =
  contestant.load === undefined ? undefined : await contestant.load(JSON.stringify(contestant.config([W1, W2, W3])))
const fns = { W1: contestant.one(instance, W1), W2: contestant.one(instance, W2), W3: contestant.one(instance, W3) }
if (contestant.all !== undefined) fns.W4 = contestant.all(instanceAll, specsAll)

for (const [workload, fn] of Object.entries(fns)) {
  if (workload === 'W4') {
    const tally = {}
    const contexts = pool.slice(0, 200)
    for (const ctx of contexts) {
      const values = contestant.values(fn(ctx))
      if (values.length !== ALL_FLAGS) throw new Error(`${name} W4: ${values.length} results, expected ${ALL_FLAGS}`)
      for (const v of values) tally[String(v)] = (tally[String(v)] ?? 0) + 1
    }
    report.checks[workload] = share(tally, contexts.length * ALL_FLAGS)
    continue
  }
  const tally = {}
  const outcomes = []
  for (const ctx of pool) {
    const v = contestant.value(fn(ctx))
    outcomes.push(v)
    tally[String(v)] = (tally[String(v)] ?? 0) + 1
  }
  report.checks[workload] = share(tally, pool.length)
  report.outcomes ??= {}
  report.outcomes[workload] = outcomes
  if (workload === 'W2' && contestant.decidedByRule !== undefined)
    report.decidedByRule = pool.map((ctx) => contestant.decidedByRule(fn(ctx)))
}

function share(tally, total) {
  return Object.fromEntries(Object.entries(tally).map(([k, n]) => [k, Math.round((n / total) * 10_000) / 100]))
}

// ---- timings --------------------------------------------------------------------------
const bench = new Bench({ time: TIME, warmupTime: 200, warmupIterations: 10, iterations: 10, throws: true })
const sinks = []
const perOp = {}
if (name === 'hand') {
  // the harness alone: cycling index plus a call to an identity function
  const { task, out } = cyclingTask(pool, (ctx) => ctx, BATCH)
  bench.add('loop', task)
  sinks.push(out)
  perOp.loop = BATCH
}
for (const [workload, fn] of Object.entries(fns)) {
  const batch = workload === 'W4' ? 1 : BATCH
  const { task, out } = cyclingTask(pool, fn, batch)
  bench.add(workload, task)
  sinks.push(out)
  perOp[workload] = batch
}
bench.runSync()
for (const task of bench.tasks) {
  const { latency, totalTime } = task.result
  const ops = perOp[task.name]
  report.tasks[task.name] = {
    ...perOperation(latency, ops),
    opsPerSecond: (ops * 1000) / latency.mean,
    totalMs: totalTime,
  }
}
if (sinks.some((s) => s.sink === undefined)) throw new Error('a task produced no result')

if (instance !== undefined) contestant.dispose(instance)
if (instanceAll !== undefined) contestant.dispose(instanceAll)
process.send(report)
