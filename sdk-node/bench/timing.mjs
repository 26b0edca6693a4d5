// Timing for the Node SDK benchmark: tinybench over rounds, on the engine benchmark's generated task loops.
import { Bench } from 'tinybench'
import { BATCH, cyclingTask, perOperation } from '../../engine/bench/harness.mjs'
import { TIME } from './settings.mjs'
import { pool } from './workloads.mjs'

/**
 * Tasks timed together: `add(name, fn, wrap)` makes a task of `batch` calls of `fn` cycling through the context
 * pool (awaited with `async`), run inside `wrap` when given; `check(what)` throws unless every task produced a result.
 */
export function taskList({ batch = BATCH, async = false } = {}) {
  const tasks = []
  const sinks = []
  return {
    tasks,
    add(name, fn, wrap) {
      const { task, out } = cyclingTask(pool, fn, batch, { async })
      tasks.push({ name, task: wrap === undefined ? task : () => wrap(task), ops: batch })
      sinks.push(out)
    },
    check(what) {
      if (sinks.some((s) => s.sink === undefined)) throw new Error(`${what} task produced no result`)
    },
  }
}

/**
 * Times `tasks` ({ name, task, ops }) with tinybench over `rounds` rounds, the order rotated each round;
 * per task the round with the lowest median sample is kept (interference from other processes only adds
 * time). Comparisons use the median sample (p50): on shared cores the mean mostly measures preemption.
 */
export async function timeTasks(tasks, { rounds = 1, time = TIME, async = false } = {}) {
  const perRound = []
  for (let round = 0; round < rounds; round++) {
    const shift = round % tasks.length
    const order = [...tasks.slice(shift), ...tasks.slice(0, shift)]
    const bench = new Bench({ time, warmupTime: 100, warmupIterations: 10, iterations: 10, throws: true })
    for (const t of order) bench.add(t.name, t.task)
    if (async) await bench.run()
    else bench.runSync()
    const figures = {}
    for (const task of bench.tasks)
      figures[task.name] = perOperation(task.result.latency, tasks.find((t) => t.name === task.name).ops)
    perRound.push(figures)
  }
  const best = {}
  for (const t of tasks) {
    best[t.name] = {
      ...perRound.map((r) => r[t.name]).sort((a, b) => a.p50Ns - b.p50Ns)[0],
      meanNsPerRound: perRound.map((r) => r[t.name].meanNs),
      p50NsPerRound: perRound.map((r) => r[t.name].p50Ns),
    }
  }
  return best
}
