// What every phase of the Node SDK benchmark shares: the engine benchmark's W1-W3 and context pool, the
// server's set-up, and clients that poll it.

import { BOOLEAN, PROP_TARGETING } from '../../bench-kit/flags.mjs'
import { sleep } from '../../bench-kit/http.mjs'
import { HOST } from '../../bench-kit/vane-server.mjs'
import vaneContestant from '../../engine/bench/contestants/vane.mjs'
import { buildPool, W1, W2, W3 } from '../../engine/bench/workloads.mjs'
import { createClient } from '../dist/index.js'
import { BENCH_ENV, PROP_ENV } from './settings.mjs'

export const pool = buildPool()
export const KINDS = { [W1.key]: 'plain', [W2.key]: 'rules', [W3.key]: 'split' }
export const WORKLOADS = [
  { id: 'W1', spec: W1, title: 'plain "on" boolean flag', type: 'boolean', fallback: false },
  { id: 'W2', spec: W2, title: 'five rules (mostly miss) then a 10 % rollout', type: 'boolean', fallback: false },
  { id: 'W3', spec: W3, title: '3-way split 33.333/33.333/33.334', type: 'string', fallback: 'control' },
]
/** The engine benchmark's own snapshot of W1-W3: the client's bootstrap, and (as admin API bodies) the server's flags. */
export const benchSnapshot = vaneContestant.config([W1, W2, W3])

/** The compiled snapshot a client evaluates with (a private field: the bench reads it to call the engine directly). */
export const evaluatorOf = (client) => {
  const evaluator = client.evaluator
  if (evaluator === undefined || typeof evaluator.evaluate !== 'function')
    throw new Error('VaneClient no longer keeps its compiled snapshot in `evaluator`: update the bench')
  return evaluator
}

/** Polls `check` until it holds; throws (saying what it waited for) after `timeoutMs`. */
export async function waitUntil(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
    await sleep(5)
  }
}

/**
 * A client as the getter figures use it: started from a bootstrap snapshot, polling (stream: false) the real
 * server of `bench` (what setUp resolves with), which serves the same three flags; resolves once the one poll
 * of the run has replaced the bootstrap. `fetches()` counts every request it made, so the bench can show that
 * getters never touch the network.
 */
export async function polledClient(bench, options = {}) {
  let fetches = 0
  const problems = []
  const client = createClient({
    url: `http://${HOST}:${bench.server.port}`,
    sdkKey: bench.serverKey,
    bootstrap: { ...structuredClone(benchSnapshot), environment: 'bootstrap' },
    stream: false,
    pollIntervalMs: 3_600_000,
    platform: {
      fetch: (input, init) => {
        fetches++
        return fetch(input, init).catch((error) => {
          problems.push(`${error.message}: ${error.cause?.code ?? error.cause?.message ?? '?'}`)
          throw error
        })
      },
    },
    ...options,
  })
  const stop = [
    client.on('stale', (e) => problems.push(e.message)),
    client.on('error', (e) => problems.push(e.message)),
  ]
  await client.waitForReady(5_000)
  await waitUntil(
    () => client.snapshotInfo?.environment === BENCH_ENV,
    20_000,
    () => `the first poll (${fetches} requests; ${problems.join('; ') || 'no error reported'})`,
  )
  for (const off of stop) off()
  return { client, fetches: () => fetches }
}

/**
 * Sets up `server` (a started `vane serve`): W1-W3 in the bench environment, `prop` in the propagation one, and
 * a server key for each; resolves with `{ server, serverKey, propKey }`, what the phases are given.
 */
export async function setUp(server) {
  await server.admin('POST', '/environments', { key: BENCH_ENV })
  await server.admin('POST', '/environments', { key: PROP_ENV })
  for (const flag of Object.values(benchSnapshot.flags)) {
    const { key, version: _version, type, variants, ...targeting } = flag
    await server.admin('PUT', `/flags/${key}`, { type, variants })
    await server.admin('PUT', `/environments/${BENCH_ENV}/flags/${key}`, targeting)
  }
  await server.admin('PUT', '/flags/prop', BOOLEAN)
  await server.admin('PUT', `/environments/${PROP_ENV}/flags/prop`, PROP_TARGETING)
  const serverKey = (
    await server.admin('POST', '/keys', { kind: 'server', name: 'bench-getters', environment: BENCH_ENV })
  ).secret
  const propKey = (
    await server.admin('POST', '/keys', { kind: 'server', name: 'bench-propagation', environment: PROP_ENV })
  ).secret
  return { server, serverKey, propKey }
}
