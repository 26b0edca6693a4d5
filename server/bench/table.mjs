// The delivery benchmark's table and its targets, from the result it writes.
import { lpad, fmtMs as ms, pad } from '../../bench-kit/figures.mjs'
import { OFREP_SECONDS, TARGETS } from './settings.mjs'

const kb = (v) => `${(v / 1024).toFixed(1)} KB`
const mb = (v) => `${(v / 1024 / 1024).toFixed(0)} MB`

/** The table's lines, and the targets met or not (which the result also keeps). */
export function table(result) {
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
    if (limited)
      lines.push('note: the evaluation rate limit (VANE_EVALUATION_RATE_LIMIT) answered 429 during the OFREP run')
  }
  lines.push('targets')
  for (const t of targets) {
    const value = t.unit === 'ms' ? ms(t.value) : t.unit === 'bytes' ? kb(t.value) : `${t.value.toFixed(0)} ${t.unit}`
    lines.push(`  ${t.met ? 'met    ' : 'NOT MET'}  ${pad(t.target, 66)} ${value}`)
  }
  return { lines, targets }
}
