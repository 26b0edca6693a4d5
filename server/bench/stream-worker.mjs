// Load generator for the fan-out figures, in a process of its own (forked by run.mjs):
// holds thousands of SSE streams open on raw sockets and records, per stream, when the
// first `patch` after the initial `put` arrived, on the monotonic clock shared with run.mjs.
//
// Messages from run.mjs: { type: 'open', … } → 'opened' (more streams each time); { type: 'report' } → 'report';
// { type: 'close' } → 'closed', exit.
import '../../engine/bench/guard.mjs'
import { openSse } from './sse.mjs'
import { contextGenerator } from './workload.mjs'

const streams = []
/** Per stream, in the order opens were asked for: when its first patch arrived, and that patch's id. */
const arrivals = []
const patchIds = []
const putIds = new Map()
let received = 0
let contexts
let expectedClose = false
let closedEarly = 0

function send(message) {
  process.send?.(message)
}

async function open(options) {
  const { count, concurrency, host, port, localAddress, method, path, headers, contextPrefix } = options
  const base = BigInt(options.base)
  const now = () => Number(process.hrtime.bigint() - base) / 1e6
  if (contextPrefix !== undefined) contexts ??= contextGenerator(contextPrefix, options.seed)
  const first = arrivals.length
  for (let i = 0; i < count; i++) {
    arrivals.push(Number.NaN)
    patchIds.push(undefined)
  }
  const errors = []
  const started = performance.now()
  let next = first
  let opened = 0

  async function openOne(i) {
    let primed
    const ready = new Promise((resolve) => {
      primed = resolve
    })
    const stream = await openSse({
      host,
      port,
      localAddress,
      method,
      path,
      headers,
      ...(contexts !== undefined && { body: JSON.stringify({ context: contexts() }) }),
      now,
      onEvent: (event, at) => {
        if (event.event === 'put') {
          putIds.set(event.id, (putIds.get(event.id) ?? 0) + 1)
          primed()
        } else if (event.event === 'patch' && Number.isNaN(arrivals[i])) {
          arrivals[i] = at
          patchIds[i] = event.id ?? '(no id)'
          if (++received === arrivals.length) send({ type: 'received' })
        }
      },
      onClose: () => {
        if (!expectedClose) closedEarly++
      },
    })
    streams.push(stream)
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('no put within 10 s')), 10_000).unref(),
    )
    await Promise.race([ready, timeout])
    opened++
  }

  async function lane() {
    while (next < first + count) {
      const i = next++
      try {
        await openOne(i)
      } catch (error) {
        if (errors.length < 5) errors.push(String(error?.message ?? error))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane))
  send({
    type: 'opened',
    opened,
    failed: count - opened,
    errors,
    putIds: Object.fromEntries(putIds),
    ms: performance.now() - started,
  })
}

process.on('message', (message) => {
  if (message.type === 'open') {
    open(message).catch((error) => {
      send({ type: 'failed', error: String(error?.stack ?? error) })
    })
  } else if (message.type === 'report') {
    const ids = {}
    for (const id of patchIds) if (id !== undefined) ids[id] = (ids[id] ?? 0) + 1
    send({ type: 'report', arrivals: Array.from(arrivals), received, ids, closedEarly })
  } else if (message.type === 'close') {
    expectedClose = true
    for (const stream of streams) stream.close()
    send({ type: 'closed' })
    setTimeout(() => process.exit(0), 100)
  }
})
// the parent going away must never leave sockets open
process.on('disconnect', () => process.exit(0))
send({ type: 'ready' })
