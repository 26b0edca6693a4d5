// Memory: the heap a client retains holding 10,000 flags (the engine benchmark's mix), against the bare
// engine's compiled snapshot of the same flags.

import { freePort, sleep } from '../../../bench-kit/http.mjs'
import { HOST } from '../../../bench-kit/vane-server.mjs'
import vaneContestant from '../../../engine/bench/contestants/vane.mjs'
import { fullGc, measureBuild } from '../../../engine/bench/harness.mjs'
import { buildMix, MANY_FLAGS } from '../../../engine/bench/workloads.mjs'
import { compileSnapshot } from '../../../engine/dist/index.js'
import { createClient } from '../../dist/index.js'
import { pool } from '../workloads.mjs'

/** Heap retained by a client holding a 10,000-flag snapshot, and by the bare engine on the same snapshot. */
export async function memory() {
  const text = JSON.stringify(vaneContestant.config(buildMix(MANY_FLAGS)))
  // a port nothing listens on: this client's one poll fails at once, its bootstrap is all it ever has
  const closedUrl = `http://${HOST}:${await freePort(HOST)}`
  const fetchesSettled = []
  const newClient = (snapshot) =>
    createClient({
      url: closedUrl,
      sdkKey: 'vane_server_bench',
      bootstrap: snapshot,
      stream: false,
      pollIntervalMs: 3_600_000,
      platform: {
        fetch: (input, init) => {
          const p = fetch(input, init)
          fetchesSettled.push(p.catch(() => {}))
          return p
        },
      },
    })
  const settle = async (client) => {
    await client.waitForReady(5_000)
    await Promise.all(fetchesSettled.splice(0))
    await sleep(20)
    return client
  }
  // warm up every code path (compiler, client, fetch) so that their code is not counted as flag data
  const warm = await settle(newClient(vaneContestant.config(buildMix(200))))
  await warm.close()
  compileSnapshot(vaneContestant.config(buildMix(200)))

  // the snapshot object is built inside each build: whatever stays of it is retained by what was built
  const engine = await measureBuild(() => compileSnapshot(JSON.parse(text)))
  const client = await measureBuild(() => settle(newClient(JSON.parse(text))))
  const held = client.refs[0]
  const check = held.getBooleanDetails('flag-00000', false, pool[0])
  if (check.value !== true || check.errorCode !== undefined)
    throw new Error(`10k client: unexpected ${JSON.stringify(check)}`)
  const flags = Object.keys(held.evaluateAll(pool[0])).length
  if (flags !== MANY_FLAGS) throw new Error(`10k client: ${flags} flags, expected ${MANY_FLAGS}`)
  await held.close()
  engine.refs.length = 0
  client.refs.length = 0
  fullGc()
  return {
    flags: MANY_FLAGS,
    snapshotJsonBytes: Buffer.byteLength(text),
    clientBytes: client.bytes,
    engineBytes: engine.bytes,
    clientOverEngineBytes: client.bytes - engine.bytes,
    clientBytesPerFlag: client.bytes / MANY_FLAGS,
    clientStartMs: client.ms,
    engineCompileMs: engine.ms,
  }
}
