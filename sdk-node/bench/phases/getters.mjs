// Getters: client.getBoolean / getBooleanDetails (getString… for the split) against evaluator.evaluate on the
// very same compiled snapshot, for the engine benchmark's W1-W3 over its 10,000-context pool.
import { BATCH } from '../../../engine/bench/harness.mjs'
import { compileSnapshot } from '../../../engine/dist/index.js'
import { ROUNDS } from '../settings.mjs'
import { taskList, timeTasks } from '../timing.mjs'
import { benchSnapshot, evaluatorOf, KINDS, pool, WORKLOADS } from '../workloads.mjs'

/**
 * Getters against `evaluator.evaluate` on the client's own compiled snapshot, W1-W3; `fetches()` counts the
 * client's requests (none may happen while timed).
 */
export async function getters(client, fetches) {
  const evaluator = evaluatorOf(client)
  const reference = compileSnapshot(structuredClone(benchSnapshot))
  const checks = {}
  for (const w of WORKLOADS) {
    const key = w.spec.key
    const get = w.type === 'boolean' ? client.getBoolean : client.getString
    const details = w.type === 'boolean' ? client.getBooleanDetails : client.getStringDetails
    const tally = {}
    let agree = 0
    for (const ctx of pool) {
      const raw = evaluator.evaluate(key, ctx, w.fallback)
      const value = get.call(client, key, w.fallback, ctx)
      const d = details.call(client, key, w.fallback, ctx)
      if (raw.errorCode !== undefined || d.errorCode !== undefined)
        throw new Error(`${w.id}: ${raw.errorCode ?? d.errorCode} ${raw.errorMessage ?? d.errorMessage}`)
      if (value !== raw.value || d.value !== raw.value || d.variant !== raw.variant)
        throw new Error(`${w.id}: the getter and the engine disagree for ${ctx.targetingKey}`)
      if (reference.evaluate(key, ctx, w.fallback).value === value) agree++
      tally[String(value)] = (tally[String(value)] ?? 0) + 1
    }
    checks[w.id] = {
      kind: KINDS[key],
      shares: Object.fromEntries(
        Object.entries(tally).map(([k, n]) => [k, Math.round((n / pool.length) * 10_000) / 100]),
      ),
      agreementWithEngineBenchSnapshot: agree / pool.length,
    }
  }

  const { tasks, add, check } = taskList()
  add('loop', (ctx) => ctx)
  for (const w of WORKLOADS) {
    const key = w.spec.key
    const fallback = w.fallback
    add(`${w.id} engine`, (ctx) => evaluator.evaluate(key, ctx, fallback))
    if (w.type === 'boolean') {
      add(`${w.id} getter`, (ctx) => client.getBoolean(key, fallback, ctx))
      add(`${w.id} details`, (ctx) => client.getBooleanDetails(key, fallback, ctx))
    } else {
      add(`${w.id} getter`, (ctx) => client.getString(key, fallback, ctx))
      add(`${w.id} details`, (ctx) => client.getStringDetails(key, fallback, ctx))
    }
  }
  const before = fetches()
  const figures = await timeTasks(tasks, { rounds: ROUNDS })
  const networkCalls = fetches() - before
  check('a getter')
  if (networkCalls !== 0) throw new Error(`the getters made ${networkCalls} network requests`)
  const rows = WORKLOADS.map((w) => {
    const engine = figures[`${w.id} engine`]
    const getter = figures[`${w.id} getter`]
    const details = figures[`${w.id} details`]
    return {
      workload: w.id,
      title: w.title,
      getterMethod: w.type === 'boolean' ? 'getBoolean' : 'getString',
      detailsMethod: w.type === 'boolean' ? 'getBooleanDetails' : 'getStringDetails',
      engine,
      getter,
      details,
      // medians of 1000-call samples: what a call costs when no other process takes the core meanwhile
      getterOverhead: getter.p50Ns / engine.p50Ns - 1,
      detailsOverhead: details.p50Ns / engine.p50Ns - 1,
      getterOverheadByMean: getter.meanNs / engine.meanNs - 1,
      detailsOverheadByMean: details.meanNs / engine.meanNs - 1,
    }
  })
  return { rounds: ROUNDS, batch: BATCH, loop: figures.loop, networkCallsWhileTimed: networkCalls, checks, rows }
}
