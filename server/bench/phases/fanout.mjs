// Fan-out: thousands of streams held open by load generator processes (stream-worker.mjs), the server's memory
// per idle stream, then one kill → the patch on every stream, timed on the monotonic clock (CLOCK_MONOTONIC)
// that every process on the machine shares. The same against node:http alone (bare-sse-server.mjs): the floor.
import { fileURLToPath } from 'node:url'
import { summary } from '../../../bench-kit/figures.mjs'
import { sleep, withTimeout } from '../../../bench-kit/http.mjs'
import { spawnNode } from '../../../bench-kit/lifecycle.mjs'
import { HOST } from '../../../bench-kit/vane-server.mjs'
import { mainThread, rssBytes, since } from '../proc.mjs'
import { FD_LIMIT, OPEN_CONCURRENCY, WORKERS } from '../settings.mjs'

const serverDir = fileURLToPath(new URL('../..', import.meta.url))
const base = process.hrtime.bigint()
/** Milliseconds on the monotonic clock every bench process shares, from `base` (which the workers are given). */
const clock = () => Number(process.hrtime.bigint() - base) / 1e6

/** A value of the server's /metrics, e.g. `metric(vane, 'vane_open_streams', '{kind="sdk"}')`. */
async function metric(vane, name, labels = '') {
  const res = await vane.request('GET', '/metrics')
  const line = res.text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

/** What the fan-out measures on `vane serve`: its kill endpoint and its own metrics. */
export function vaneTarget(vane) {
  return {
    port: vane.port,
    pid: vane.pid,
    async kill(flag, kind) {
      const killed = await vane.request('POST', `/admin/v1/environments/stream/flags/${flag}/kill`, {
        body: { reason: `bench: ${kind} fan-out` },
      })
      if (killed.status !== 200) throw new Error(`kill ${flag}: HTTP ${killed.status} ${killed.text.slice(0, 300)}`)
    },
    heapUsed: () => metric(vane, 'vane_nodejs_heap_size_used_bytes'),
    openStreams: (kind) => metric(vane, 'vane_open_streams', `{kind="${kind}"}`),
  }
}

/** A node process of the bench's own (`script` next to this folder) with an IPC channel. */
const spawnScript = (script) =>
  spawnNode(
    [fileURLToPath(new URL(`../${script}`, import.meta.url))],
    { cwd: serverDir, env: { ...process.env, HOST }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    { fileLimit: FD_LIMIT },
  )

/**
 * The same fan-out against node:http alone (bench/bare-sse-server.mjs): what any Node server pays per
 * connection and per write, measured in this run, for Vane's figures to be read against.
 */
export async function bareFanout(total) {
  const bare = spawnScript('bare-sse-server.mjs')
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
  try {
    const target = {
      port: (await listening).port,
      pid: bare.pid,
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
    if (bare.exitCode === null) bare.kill('SIGKILL')
  }
}

function startWorker() {
  const worker = spawnScript('stream-worker.mjs')
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
export async function fanout({ kind, total, path, method, key, flag, sourceBase, target }) {
  const workers = Array.from({ length: WORKERS }, startWorker)
  try {
    await Promise.all(workers.map((w) => w.next('ready', 10_000)))
    await sleep(500)
    const rssBefore = rssBytes(target.pid)
    const heapBefore = await target.heapUsed()
    /** Opens `count` more streams across the workers; resolves with what they report. */
    const openMore = async (count) => {
      workers.forEach((w, i) => {
        w.send({
          type: 'open',
          count: Math.floor(count / WORKERS) + (i < count % WORKERS ? 1 : 0),
          concurrency: OPEN_CONCURRENCY,
          host: HOST,
          port: target.port,
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
    const rssWarm = rssBytes(target.pid)
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
    const rssAfter = rssBytes(target.pid)
    const heapAfter = await target.heapUsed()
    const openStreams = await target.openStreams(kind)

    const allReceived = Promise.all(workers.map((w) => w.next('received', 10_000)))
    allReceived.catch(() => {})
    const thread = mainThread(target.pid)
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
