import { DDSketch } from '@datadog/sketches-js'
import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { environment, MISSING } from './contract-fixtures.js'
import type { OutcomeRecord, OutcomeSeries } from './repository.js'
import { decodeSketch } from './sketch.js'

const W1 = '2025-01-02T03:04:00.000Z'
const W2 = '2025-01-02T03:05:00.000Z'
const W3 = '2025-01-02T03:06:00.000Z'

const sketchOf = (values: number[]): Uint8Array => {
  const sketch = new DDSketch({ relativeAccuracy: 0.01 })
  for (const v of values) sketch.accept(v)
  return sketch.toProto()
}

const series = (flagKey: string, variant: string, values: number[], errors = 0): OutcomeSeries => ({
  flagKey,
  variant,
  count: values.length,
  errors,
  sketch: sketchOf(values),
})

/** What a stored sketch holds, comparable with `toEqual`. */
const summary = (row: OutcomeRecord | undefined) => {
  if (row === undefined) return undefined
  const sketch = decodeSketch(row.sketch)
  return {
    variant: row.variant,
    windowStart: row.windowStart,
    count: row.count,
    errors: row.errors,
    values: sketch.count,
    quantiles: [0, 0.5, 0.99, 1].map((q) => sketch.getValueAtQuantile(q)),
  }
}
const expected = (variant: string, windowStart: string, values: number[], errors: number) => {
  const sketch = decodeSketch(sketchOf(values))
  return {
    variant,
    windowStart,
    count: values.length,
    errors,
    values: values.length,
    quantiles: [0, 0.5, 0.99, 1].map((q) => sketch.getValueAtQuantile(q)),
  }
}

export function outcomeContract(store: CurrentStore): void {
  it('records outcomes per flag × variant × minute, adding counts and merging sketches', async () => {
    await store().insertEnvironment(environment('production'))
    await store().insertEnvironment(environment('staging'))
    await store().recordOutcomes('production', W1, [
      series('checkout', 'on', [10, 20, 30], 1),
      series('checkout', 'off', [5, 6]),
      series('search', 'on', [1]),
    ])
    await store().recordOutcomes('production', W1, [series('checkout', 'on', [40, 50], 2)])
    await store().recordOutcomes('production', W2, [series('checkout', 'on', [7])])
    await store().recordOutcomes('staging', W1, [series('checkout', 'on', [999])])

    const rows = await store().readOutcomes('production', 'checkout', W1, W3)
    expect(rows.map((r) => [r.environment, r.flagKey])).toEqual(Array(3).fill(['production', 'checkout']))
    expect(rows.map(summary)).toEqual([
      expected('off', W1, [5, 6], 0),
      expected('on', W1, [10, 20, 30, 40, 50], 3),
      expected('on', W2, [7], 0),
    ])
    expect(rows[0]?.sketch).toBeInstanceOf(Uint8Array)
    expect((await store().readOutcomes('staging', 'checkout', W1, W3)).map(summary)).toEqual([
      expected('on', W1, [999], 0),
    ])
    expect((await store().readOutcomes('production', 'search', W1, W2)).map((r) => r.count)).toEqual([1])
  })

  it('reads windows from `from` (inclusive) to `to` (exclusive), whatever the offset of the bounds', async () => {
    await store().insertEnvironment(environment('production'))
    for (const window of [W1, W2, W3]) await store().recordOutcomes('production', window, [series('f', 'on', [1])])
    const windows = async (from: string, to: string) =>
      (await store().readOutcomes('production', 'f', from, to)).map((r) => r.windowStart)
    expect(await windows(W1, W3)).toEqual([W1, W2])
    expect(await windows(W2, '2025-01-02T03:06:00.001Z')).toEqual([W2, W3])
    expect(await windows('2025-01-02T04:04:30+01:00', '2025-01-02T04:06:00+01:00')).toEqual([W2])
    expect(await windows(W3, W3)).toEqual([])
    expect(await store().readOutcomes('production', 'other', W1, W3)).toEqual([])
    expect(await store().readOutcomes('nope', 'f', W1, W3)).toEqual([])
  })

  it('prunes the windows of every environment before a time, and only those, a batch at a time', async () => {
    await store().insertEnvironment(environment('production'))
    await store().insertEnvironment(environment('staging'))
    for (const env of ['production', 'staging'])
      for (const window of [W1, W2, W3]) await store().recordOutcomes(env, window, [series('f', 'on', [1])])
    const W4 = '2025-01-02T03:07:00.000Z'
    expect(await store().pruneOutcomes(W3, 3)).toBe(3)
    expect(await store().pruneOutcomes(W3, 3)).toBe(1)
    expect(await store().pruneOutcomes(W3, 3)).toBe(0)
    for (const env of ['production', 'staging'])
      expect((await store().readOutcomes(env, 'f', W1, W4)).map((r) => r.windowStart)).toEqual([W3])
  })

  it('combines series that name the same flag and variant in one call, and accepts none', async () => {
    await store().insertEnvironment(environment('production'))
    await store().recordOutcomes('production', W1, [series('f', 'on', [1, 2], 1), series('f', 'on', [3], 1)])
    await store().recordOutcomes('production', W1, [])
    expect((await store().readOutcomes('production', 'f', W1, W2)).map(summary)).toEqual([
      expected('on', W1, [1, 2, 3], 2),
    ])
  })

  it('takes only whole-minute windows of existing environments; a failed call changes nothing', async () => {
    await store().insertEnvironment(environment('production'))
    await expect(
      store().recordOutcomes('production', '2025-01-02T03:04:05.000Z', [series('f', 'on', [1])]),
    ).rejects.toThrow(/whole minute/)
    await expect(store().recordOutcomes('nope', W1, [series('f', 'on', [1])])).rejects.toMatchObject(MISSING)
    const failure = store().transaction(async (tx) => {
      await tx.recordOutcomes('production', W1, [series('f', 'on', [1])])
      throw new Error('abort')
    })
    await expect(failure).rejects.toThrow('abort')
    expect(await store().readOutcomes('production', 'f', W1, W3)).toEqual([])
  })

  it('loses no report when many merge into the same rows at once', async () => {
    await store().insertEnvironment(environment('production'))
    const n = 24
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        store().recordOutcomes('production', W1, [
          series('f', 'on', [i + 1], i % 2),
          series('f', `v${i % 3}`, [100 + i]),
        ]),
      ),
    )
    const rows = await store().readOutcomes('production', 'f', W1, W2)
    expect(rows.map((r) => [r.variant, r.count])).toEqual([
      ['on', n],
      ['v0', n / 3],
      ['v1', n / 3],
      ['v2', n / 3],
    ])
    expect(summary(rows[0])).toEqual(
      expected(
        'on',
        W1,
        Array.from({ length: n }, (_, i) => i + 1),
        n / 2,
      ),
    )
  })
}
