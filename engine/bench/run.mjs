// Engine benchmark: Vane against GrowthBook, flagd-core, Unleash and hand-written code.
// Each contestant runs in a forked process of its own (bench/contestant.mjs), one after
// the other; this script prints the table, checks the targets and writes
// bench-results/engine.json at the repository root.
// Run: npx pnpm@12.4.2 bench   (or, after a build: cd engine && node --expose-gc bench/run.mjs)
import './guard.mjs'
import { fork } from 'node:child_process'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { fmtNs, lpad, pad } from '../../bench-kit/figures.mjs'
import { commitOf, installedVersion, machine, writeResult } from '../../bench-kit/report.mjs'
import { BATCH } from './harness.mjs'
import { ALL_FLAGS, MANY_FLAGS, POOL_SIZE } from './workloads.mjs'

const CONTESTANTS = ['vane', 'hand', 'growthbook', 'flagd', 'unleash']
const PEERS = ['growthbook', 'flagd', 'unleash']
const WORKLOADS = {
  W1: 'plain "on" boolean flag',
  W2: 'five rules (mostly miss) then a 10 % rollout',
  W3: '3-way split 33.333/33.333/33.334',
  W4: `evaluate all ${ALL_FLAGS} mixed flags`,
}
const TARGETS_NS = { W1: 40, W2: 300, W3: 200, W4: 100_000 }
/** flagd-core's times when the targets were set (the issue: "about 1 µs on W2 and 300 µs on W4"). */
const FLAGD_REFERENCE_NS = { W2: 1_000, W4: 300_000 }
const HEAP_TARGET_BYTES = 500_000

const engineDir = fileURLToPath(new URL('..', import.meta.url))
const resultFile = fileURLToPath(new URL('../../bench-results/engine.json', import.meta.url))
const version = (pkg) => installedVersion(engineDir, pkg)

function runContestant(name) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./contestant.mjs', import.meta.url)), [name], {
      cwd: engineDir,
      execArgv: ['--expose-gc', '--no-flush-bytecode'],
      // GrowthBook guards its debug logging with NODE_ENV checks: give every peer its production mode
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let report
    child.on('message', (m) => {
      report = m
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0 && report !== undefined) resolve(report)
      else reject(new Error(`contestant ${name} exited with code ${code}`))
    })
  })
}

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2))
const started = Date.now()
const rounds = []
const load = {}
for (let round = 0; round < ROUNDS; round++) {
  // alternate the order, so no contestant always runs first (or right after the same one)
  const order = round % 2 === 0 ? CONTESTANTS : [...CONTESTANTS].reverse()
  const reports = {}
  for (const name of order) {
    const avg = os.loadavg()[0]
    load[name] = [...(load[name] ?? []), avg]
    // other work on these 2 shared cores skews every figure: say so
    const busy = avg > 1.5 ? ` (load average ${avg.toFixed(2)}: other work is running, figures will be noisy)` : ''
    process.stderr.write(`round ${round + 1}/${ROUNDS}: ${name}…${busy}\n`)
    reports[name] = await runContestant(name)
  }
  rounds.push(reports)
}

// every process must have run the same engine build
const builds = [...new Set(rounds.flatMap((r) => Object.values(r).map((report) => report.engineDist)))]
if (builds.length > 1)
  process.stderr.write(`WARNING: engine/dist changed during the run (${builds.join(', ')}): rerun\n`)

// Per task, the round with the lower mean (interference from other processes only ever adds time);
// compile time likewise; retained heap is averaged over the rounds.
const reports = {}
for (const name of CONTESTANTS) {
  const all = rounds.map((r) => r[name])
  const merged = { ...all[0], tasks: {} }
  for (const task of Object.keys(all[0].tasks)) {
    merged.tasks[task] = all.map((r) => r.tasks[task]).sort((a, b) => a.meanNs - b.meanNs)[0]
  }
  if (all[0].memory !== undefined) {
    const mean = (field) => all.reduce((sum, r) => sum + r.memory[field], 0) / all.length
    merged.memory = {
      ...all[0].memory,
      heapAllBytes: mean('heapAllBytes'),
      heapManyBytes: mean('heapManyBytes'),
      compileAllMs: Math.min(...all.map((r) => r.memory.compileAllMs)),
      compileManyMs: Math.min(...all.map((r) => r.memory.compileManyMs)),
      compileManyRunsMs: all.flatMap((r) => r.memory.compileManyRunsMs),
    }
  }
  reports[name] = merged
}

// ---- figures ----------------------------------------------------------------------------
const fmtOps = (ops) =>
  ops >= 1e6 ? `${(ops / 1e6).toFixed(2)} M/s` : ops >= 1e3 ? `${(ops / 1e3).toFixed(2)} k/s` : `${ops.toFixed(0)} /s`
const fmtMB = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`

const rows = []
const lines = []
lines.push(
  `${pad('workload', 4)}  ${pad('contestant', 13)}${lpad('mean', 11)}${lpad('p50', 11)}${lpad('p99', 11)}${lpad('ops/s', 12)}${lpad('× Vane', 9)}`,
)
for (const [workload, title] of Object.entries(WORKLOADS)) {
  lines.push(`${workload}: ${title}`)
  const vane = reports.vane.tasks[workload]
  for (const name of CONTESTANTS) {
    const t = reports[name].tasks[workload]
    if (t === undefined) continue
    const ratio = t.meanNs / vane.meanNs
    rows.push({ workload, contestant: name, ...t, timeVsVane: ratio })
    lines.push(
      `${pad('', 4)}  ${pad(reports[name].label, 13)}${lpad(fmtNs(t.meanNs), 11)}${lpad(fmtNs(t.p50Ns), 11)}${lpad(fmtNs(t.p99Ns), 11)}${lpad(fmtOps(t.opsPerSecond), 12)}${lpad(`${ratio.toFixed(2)}×`, 9)}`,
    )
  }
}
const loop = reports.hand.tasks.loop
lines.push(
  `(per evaluation, from the better of ${ROUNDS} rounds by mean; W1-W3 samples are batches of ${BATCH}, so their p99 is the 99th percentile of ${BATCH}-evaluation means.`,
)
lines.push(
  ` The harness alone — cycling index plus a call — costs ${fmtNs(loop.meanNs)} per evaluation and is included in every W1-W3 figure.)`,
)

lines.push('')
lines.push(
  `${pad('memory', 18)}${lpad(`compile ${MANY_FLAGS}`, 16)}${lpad(`heap ${MANY_FLAGS}`, 14)}${lpad(`compile ${ALL_FLAGS}`, 14)}${lpad(`heap ${ALL_FLAGS}`, 12)}`,
)
for (const name of CONTESTANTS) {
  const m = reports[name].memory
  if (m === undefined) continue
  lines.push(
    `${pad(reports[name].label, 18)}${lpad(`${m.compileManyMs.toFixed(0)} ms`, 16)}${lpad(fmtMB(m.heapManyBytes), 14)}${lpad(`${m.compileAllMs.toFixed(1)} ms`, 14)}${lpad(fmtMB(m.heapAllBytes), 12)}`,
  )
}
lines.push(
  '(compile: from the JSON text of each contestant’s own configuration to ready-to-evaluate; 10000: best round’s median of 3;',
)
lines.push(
  ` heap: heapUsed after a full GC, with and without the compiled result held — ${ALL_FLAGS} flags: 4 copies held, per copy — mean of rounds)`,
)

// ---- agreement of outcomes ------------------------------------------------------------------
const agreement = {}
lines.push('')
lines.push('outcomes over the pool (share of contexts; agreement = same answer as Vane, context for context)')
for (const workload of ['W1', 'W2', 'W3']) {
  const base = reports.vane.outcomes[workload]
  agreement[workload] = {}
  const parts = []
  for (const name of CONTESTANTS) {
    const mine = reports[name].outcomes[workload]
    let same = 0
    for (let i = 0; i < base.length; i++) if (mine[i] === base[i]) same++
    agreement[workload][name] = same / base.length
    const shares = Object.entries(reports[name].checks[workload])
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k} ${v}%`)
      .join(' ')
    parts.push(`${reports[name].label}: ${shares}, agreement ${((100 * same) / base.length).toFixed(1)}%`)
  }
  lines.push(`  ${workload}  ${parts.join(' | ')}`)
}
// W2's rules are equivalent everywhere, its rollout hashes differ: split the comparison
const byRule = reports.vane.decidedByRule
const w2Split = {}
{
  const parts = []
  for (const name of CONTESTANTS) {
    const mine = reports[name].outcomes.W2
    const base = reports.vane.outcomes.W2
    let ruled = 0
    let ruledSame = 0
    let fell = 0
    let fellOn = 0
    for (let i = 0; i < base.length; i++) {
      if (byRule[i]) {
        ruled++
        if (mine[i] === base[i]) ruledSame++
      } else {
        fell++
        if (mine[i] === true) fellOn++
      }
    }
    w2Split[name] = { ruleDecidedAgreement: ruledSame / ruled, fallthroughOnShare: fellOn / fell }
    parts.push(
      `${reports[name].label} ${((100 * ruledSame) / ruled).toFixed(1)}% / ${((100 * fellOn) / fell).toFixed(2)}%`,
    )
  }
  const ruledShare = byRule.filter(Boolean).length / byRule.length
  lines.push(
    `  W2  contexts a rule decides (${(100 * ruledShare).toFixed(1)}%): agreement / the rest: share served on by the rollout — ${parts.join(' | ')}`,
  )
}

// ---- targets ------------------------------------------------------------------------------
const targets = []
const target = (name, value, limit, met, unit) => targets.push({ target: name, value, limit, unit, met })
for (const [workload, limit] of Object.entries(TARGETS_NS)) {
  target(
    `${workload} mean < ${fmtNs(limit)}`,
    reports.vane.tasks[workload].meanNs,
    limit,
    reports.vane.tasks[workload].meanNs < limit,
    'ns',
  )
}
target(
  `heap for ${ALL_FLAGS} flags < 0.5 MB`,
  reports.vane.memory.heapAllBytes,
  HEAP_TARGET_BYTES,
  reports.vane.memory.heapAllBytes < HEAP_TARGET_BYTES,
  'bytes',
)
for (const workload of Object.keys(WORKLOADS)) {
  const fastest = PEERS.map((p) => ({ p, ns: reports[p].tasks[workload].meanNs })).sort((a, b) => a.ns - b.ns)[0]
  const speedup = fastest.ns / reports.vane.tasks[workload].meanNs
  target(`${workload} ≥ 2× faster than the fastest peer (${reports[fastest.p].label})`, speedup, 2, speedup >= 2, '×')
}
// The absolute targets were set where flagd-core took ~1 µs on W2 and ~300 µs on W4; on a
// shared machine every figure drifts with its load, so the same targets as shares of flagd's
// time, measured in this run, say whether Vane kept its lead however busy the cores were.
for (const [workload, reference] of Object.entries(FLAGD_REFERENCE_NS)) {
  const share = TARGETS_NS[workload] / reference
  const limit = reports.flagd.tasks[workload].meanNs * share
  const value = reports.vane.tasks[workload].meanNs
  target(
    `${workload} < ${share.toFixed(2)} × flagd-core's time in this run (${fmtNs(limit)})`,
    value,
    limit,
    value < limit,
    'ns',
  )
}
for (const workload of ['W1', 'W2', 'W3']) {
  const ratio = reports.vane.tasks[workload].meanNs / reports.hand.tasks[workload].meanNs
  target(`${workload} within 2× of hand-written`, ratio, 2, ratio <= 2, '×')
}
lines.push('')
lines.push('targets')
for (const t of targets) {
  const value =
    t.unit === 'ns' ? fmtNs(t.value) : t.unit === 'bytes' ? fmtMB(t.value) : `${t.value.toFixed(2)}${t.unit}`
  lines.push(`  ${t.met ? 'met    ' : 'NOT MET'}  ${pad(t.target, 58)} ${value}`)
}

const { commit, dirty } = commitOf('engine/src')
const header = `${os.cpus()[0]?.model} × ${os.availableParallelism()}, Node ${process.version}, engine at ${commit ?? '?'}${dirty ? ' + uncommitted changes' : ''}`
console.log(`${header}\n\n${lines.join('\n')}`)

// ---- JSON -----------------------------------------------------------------------------------
const result = {
  generatedAt: new Date().toISOString(),
  durationSeconds: Math.round((Date.now() - started) / 1000),
  machine: { ...machine(), v8: process.versions.v8, loadAverageBeforeEachContestant: load },
  engine: { commit, uncommittedChangesInEngineSrc: dirty, distBuilds: builds },
  settings: {
    poolSize: POOL_SIZE,
    batch: BATCH,
    tinybenchTimeMs: Number(process.env.BENCH_TIME_MS ?? 500),
    rounds: ROUNDS,
    allFlags: ALL_FLAGS,
    manyFlags: MANY_FLAGS,
    nodeEnv: 'production',
    execArgv: ['--expose-gc', '--no-flush-bytecode'],
  },
  versions: {
    tinybench: version('tinybench'),
    '@growthbook/growthbook': version('@growthbook/growthbook'),
    '@openfeature/flagd-core': version('@openfeature/flagd-core'),
    'unleash-client': version('unleash-client'),
  },
  workloads: WORKLOADS,
  contestants: Object.fromEntries(CONTESTANTS.map((n) => [n, reports[n].label])),
  results: rows,
  harnessLoop: loop,
  memory: Object.fromEntries(CONTESTANTS.filter((n) => reports[n].memory).map((n) => [n, reports[n].memory])),
  outcomes: Object.fromEntries(CONTESTANTS.map((n) => [n, reports[n].checks])),
  agreementWithVane: agreement,
  w2RuleAndRollout: w2Split,
  targets,
  rounds: rounds.map((r) =>
    Object.fromEntries(CONTESTANTS.map((n) => [n, { tasks: r[n].tasks, memory: r[n].memory }])),
  ),
}
writeResult(resultFile, result)
console.log(`\nwrote ${resultFile} (${result.durationSeconds} s)`)
