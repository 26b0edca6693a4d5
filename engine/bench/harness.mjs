// Measurement helpers shared by every contestant process.

/** Evaluations per timed sample for the single-flag workloads: keeps timer overhead out of the figure. */
export const BATCH = 1000

/**
 * A timed task: `batch` evaluations, cycling through `pool`. The loop is generated
 * afresh for each task (same source for every contestant) so that its call site has
 * its own feedback and sees exactly one `fn`, as an application's call site would;
 * the index cost is identical for every contestant. The last result is kept in
 * `out.sink` so no evaluation can be optimized away. With `async`, the task awaits
 * each call (for APIs that return promises).
 */
export function cyclingTask(pool, fn, batch, { async = false } = {}) {
  const make = new Function(
    'pool',
    'fn',
    'batch',
    `'use strict'
    const n = pool.length
    const out = { sink: undefined }
    let i = 0
    ${async ? 'async ' : ''}function task() {
      let r
      for (let k = 0; k < batch; k++) {
        r = ${async ? 'await ' : ''}fn(pool[i])
        if (++i === n) i = 0
      }
      out.sink = r
    }
    return { task, out }`,
  )
  return make(pool, fn, batch)
}

/** A tinybench task's latency figures per operation, for samples of `ops` operations each. */
export function perOperation(latency, ops) {
  const ns = (ms) => (ms * 1e6) / ops
  return {
    opsPerSample: ops,
    samples: latency.samples.length,
    meanNs: ns(latency.mean),
    p50Ns: ns(latency.p50),
    p99Ns: ns(latency.p99),
    minNs: ns(latency.min),
    rmePercent: latency.rme,
  }
}

export function fullGc() {
  // several passes: weak references and finalizers settle over more than one
  for (let i = 0; i < 4; i++) global.gc()
}

/**
 * Heap retained by what `build` returns — heapUsed after a full GC, before and after,
 * with `copies` results held at once and the difference divided by `copies` — and the
 * mean time of one build.
 */
export async function measureBuild(build, copies = 1) {
  fullGc()
  const before = process.memoryUsage().heapUsed
  const refs = []
  let ns = 0n
  for (let i = 0; i < copies; i++) {
    const start = process.hrtime.bigint()
    refs.push(await build())
    ns += process.hrtime.bigint() - start
  }
  fullGc()
  const after = process.memoryUsage().heapUsed
  return { refs, ms: Number(ns) / 1e6 / copies, bytes: (after - before) / copies }
}

/** Milliseconds `build` takes (nothing retained between runs). */
export async function timeBuild(build, dispose) {
  fullGc()
  const start = process.hrtime.bigint()
  const ref = await build()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  dispose(ref)
  return ms
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
