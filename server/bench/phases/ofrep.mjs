// OFREP bulk evaluation: 500 flags in the engine benchmark's mix, a new user per request, with autocannon in a
// process of its own (ofrep-worker.mjs) at 1, 10 and 50 connections, after a warm-up.
import { fileURLToPath } from 'node:url'
import { summary } from '../../../bench-kit/figures.mjs'
import { withTimeout } from '../../../bench-kit/http.mjs'
import { spawnNode } from '../../../bench-kit/lifecycle.mjs'
import { HOST } from '../../../bench-kit/vane-server.mjs'
import { cpuMs, mainThread, since } from '../proc.mjs'
import { FD_LIMIT, OFREP_LEVELS, OFREP_SECONDS, STREAM_FLAGS } from '../settings.mjs'
import { buildFlags, FLAG_COUNT } from '../workload.mjs'

const serverDir = fileURLToPath(new URL('../..', import.meta.url))

/** Runs `fn` over `items` with `concurrency` requests in flight. */
async function inParallel(items, concurrency, fn) {
  let next = 0
  const lane = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
}

function runOfrep(vane, key, connections, seconds, prefix) {
  const worker = spawnNode(
    [fileURLToPath(new URL('../ofrep-worker.mjs', import.meta.url))],
    { cwd: serverDir, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    { fileLimit: FD_LIMIT },
  )
  const done = new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (m.type === 'ready')
        worker.send({ url: `http://${HOST}:${vane.port}`, key, connections, seconds, seed: connections, prefix })
      else if (m.type === 'result') resolve(m)
      else if (m.type === 'error') reject(new Error(m.error))
    })
    worker.on('exit', (code) => reject(new Error(`ofrep worker exited (${code})`)))
  })
  return withTimeout(done, (seconds + 30) * 1000, `autocannon ${connections}`).finally(() => {
    if (worker.exitCode === null) worker.kill('SIGKILL')
  })
}

/** Runs the phase on `vane`; `phase(name, message)` marks each level's start. */
export async function ofrep(vane, phase) {
  // definitions are shared by every environment: archive the stream phases' flags, so exactly 500 remain
  for (const key of STREAM_FLAGS) await vane.admin('DELETE', `/flags/${key}`)
  await vane.admin('POST', '/environments', { key: 'ofrep' })
  const { secret } = await vane.admin('POST', '/keys', { kind: 'server', name: 'bench-ofrep', environment: 'ofrep' })
  const flags = buildFlags()
  const setupStarted = performance.now()
  await inParallel(flags, 8, async (flag) => {
    await vane.admin('PUT', `/flags/${flag.key}`, flag.definition)
    await vane.admin('PUT', `/environments/ofrep/flags/${flag.key}`, flag.targeting)
  })
  const setupSeconds = (performance.now() - setupStarted) / 1000

  // one request by hand: every flag evaluated, none failed, and rules and splits doing their work
  const probe = await vane.request('POST', '/ofrep/v1/evaluate/flags', {
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
  await runOfrep(vane, secret, 10, 3, 'warmup')
  const levels = []
  for (const connections of OFREP_LEVELS) {
    phase(`ofrep${connections}`, `  OFREP ${connections} connection${connections > 1 ? 's' : ''}, ${OFREP_SECONDS} s…`)
    const cpuBefore = cpuMs(vane.pid)
    const thread = mainThread(vane.pid)
    const started = performance.now()
    const run = await runOfrep(vane, secret, connections, OFREP_SECONDS, `c${connections}`)
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
      serverCpuShare: (cpuMs(vane.pid) - cpuBefore) / wall,
      serverMainThreadWaitingShare: since(thread).waitingMs / wall,
      loadGeneratorCpuShare: run.clientCpuShare,
    })
  }
  return { flags: FLAG_COUNT, responseBytes: probe.bytes, setupSeconds, levels }
}
