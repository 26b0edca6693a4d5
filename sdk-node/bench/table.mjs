// The Node SDK benchmark's table and its targets, from the result it writes.
import { fileURLToPath } from 'node:url'
import { fmtMs, fmtNs, lpad, pad } from '../../bench-kit/figures.mjs'
import { installedVersion } from '../../bench-kit/report.mjs'
import { POOL_SIZE } from '../../engine/bench/workloads.mjs'
import { OVERHEAD_TARGET } from './settings.mjs'

const sdkDir = fileURLToPath(new URL('..', import.meta.url))
const fmtMB = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`
const pct = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} %`
const signed = (ns) => `${ns >= 0 ? '+' : '−'}${fmtNs(Math.abs(ns))}`

/** The table's lines, and the targets met or not (which the result also keeps). */
export function table(result) {
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
      `OpenFeature server SDK ${installedVersion(sdkDir, '@openfeature/server-sdk')}: awaited calls, batches of ${result.openFeature.batch}`,
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
  return { lines, targets }
}
