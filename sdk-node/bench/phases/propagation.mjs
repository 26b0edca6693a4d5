// Propagation: a real `vane serve`, admin changes one after another (rule r1 of `prop` disabled, enabled, …),
// each timed from just before the admin request to the streaming client's `change` event for that flag.
import { summary } from '../../../bench-kit/figures.mjs'
import { HOST } from '../../../bench-kit/vane-server.mjs'
import { createClient } from '../../dist/index.js'
import { CHANGES, PROP_ENV, WARMUP_CHANGES } from '../settings.mjs'

/** Admin changes on `bench.server`, each timed to the `change` event of a streaming client with `bench.propKey`. */
export async function propagation(bench) {
  const client = createClient({ url: `http://${HOST}:${bench.server.port}`, sdkKey: bench.propKey })
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
      const res = await bench.server.request('POST', `/admin/v1/environments/${PROP_ENV}/flags/prop/rules/r1/${action}`)
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
