// Propagation: admin changes one after another (a rule disabled, enabled, …), each timed from just before
// the admin request is sent to its `patch` (id = the next environment version) arriving on a /sdk/v1/stream.
import { summary } from '../../../bench-kit/figures.mjs'
import { HOST } from '../../../bench-kit/vane-server.mjs'
import { mainThread, since } from '../proc.mjs'
import { CHANGES, WARMUP_CHANGES } from '../settings.mjs'
import { followById } from '../sse.mjs'

/** Runs the phase on `vane` (a started server), following the stream with `serverKey`. */
export async function propagation(vane, serverKey) {
  const follower = await followById({ host: HOST, port: vane.port, key: serverKey })
  const latencies = []
  const adminMs = []
  let version = follower.putVersion
  let thread
  try {
    for (let i = 0; i < WARMUP_CHANGES + CHANGES; i++) {
      if (i === WARMUP_CHANGES) thread = mainThread(vane.pid)
      const expected = String(version + 1)
      const action = i % 2 === 0 ? 'disable' : 'enable'
      const t0 = performance.now()
      const arrived = follower.arrival(expected)
      const res = await vane.request('POST', `/admin/v1/environments/stream/flags/prop/rules/r1/${action}`)
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
      version++
    }
  } finally {
    follower.stream.close()
  }
  return {
    changes: CHANGES,
    warmupChanges: WARMUP_CHANGES,
    latencyMs: summary(latencies),
    adminResponseMs: summary(adminMs),
    serverMainThreadPerChangeMs: Object.fromEntries(Object.entries(since(thread)).map(([k, v]) => [k, v / CHANGES])),
  }
}
