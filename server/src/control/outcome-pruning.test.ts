import { DDSketch } from '@datadog/sketches-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OutcomeSeries } from '../storage/repository.js'
import { createHarness, type Harness } from '../testing/harness.js'
import { startOutcomePruning } from './outcomes.js'

const DAY = 24 * 60 * 60_000
const NOW = Date.parse('2026-06-15T12:00:00.000Z')
const windowDaysAgo = (days: number) => new Date(NOW - days * DAY).toISOString()

function series(): OutcomeSeries[] {
  const sketch = new DDSketch({ relativeAccuracy: 0.01 })
  sketch.accept(12)
  return [{ flagKey: 'f', variant: 'on', count: 1, errors: 0, sketch: sketch.toProto() }]
}

describe('outcome pruning', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness({ environments: ['production', 'staging'] })
  })
  afterAll(() => h.close())

  it('deletes the windows past the retention in every environment, in batches, keeps the rest, and stops', async () => {
    const windows = [40, 31, 29, 1].map(windowDaysAgo)
    for (const env of ['production', 'staging'])
      for (const window of windows) await h.store.recordOutcomes(env, window, series())
    const pruned: number[] = []
    const stop = startOutcomePruning({
      store: h.store,
      retentionDays: 30,
      now: () => NOW,
      firstAfterMs: 0,
      // 4 rows to go, 3 at a time: two statements
      batch: 3,
      onPruned: (n) => pruned.push(n),
    })
    try {
      for (let i = 0; i < 200 && pruned.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      expect(pruned).toEqual([4])
      for (const env of ['production', 'staging']) {
        const left = await h.store.readOutcomes(env, 'f', windowDaysAgo(60), new Date(NOW).toISOString())
        expect(left.map((r) => r.windowStart)).toEqual(windows.slice(2))
      }
    } finally {
      stop()
    }
  })

  it('reports a failing store instead of throwing, and tries again on the next round', async () => {
    let calls = 0
    const errors: unknown[] = []
    const stop = startOutcomePruning({
      store: {
        pruneOutcomes: async () => {
          calls++
          throw new Error('database is down')
        },
      },
      retentionDays: 30,
      everyMs: 5,
      firstAfterMs: 0,
      onError: (error) => errors.push(error),
    })
    try {
      for (let i = 0; i < 200 && calls < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      expect(calls).toBeGreaterThanOrEqual(2)
      expect(errors[0]).toMatchObject({ message: 'database is down' })
    } finally {
      stop()
    }
  })
})
