import { DDSketch } from '@datadog/sketches-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const MINUTE = 60_000
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

/** A sketch as the SDK sends it: DDSketch at 1 % relative accuracy, protobuf, base64. */
function sketchOf(latencies: number[], relativeAccuracy = 0.01): string {
  const sketch = new DDSketch({ relativeAccuracy })
  for (const ms of latencies) sketch.accept(ms)
  return base64(sketch.toProto())
}

interface Series {
  flag: string
  variant: string
  count: number
  errors: number
  sketch: string
}
const series = (flag: string, variant: string, latencies: number[], errors = 0): Series => ({
  flag,
  variant,
  count: latencies.length,
  errors,
  sketch: sketchOf(latencies),
})
const report = (end: number, ...items: Series[]) => ({ start: end - 10_000, end, series: items })

/** The value DDSketch approximates for quantile q: the element at rank floor(q · (n − 1)). */
function exact(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(q * (sorted.length - 1))]!
}
const withinOnePercent = (actual: number, expected: number) =>
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(expected * 0.01)

interface Impact {
  environment: string
  flag: string
  from: string
  to: string
  variants: {
    variant: string
    requests: number
    errors: number
    errorRate: number | null
    latencyMs: { p50: number; p95: number; p99: number } | null
  }[]
}

/** Deterministic latencies: a spread of fast and slow requests, different per variant. */
function latencies(n: number, scale: number, seed: number): number[] {
  let x = seed
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    const u = x / 2 ** 32
    return scale * (0.5 + 20 * u ** 3)
  })
}

describe('outcome reports and the impact view', () => {
  let h: Harness
  let serverKey: string
  let stagingKey: string
  const post = (body: unknown, key = serverKey) =>
    h.app.request('/sdk/v1/outcomes', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const impact = async (flag: string, query = '', env = 'production') => {
    const res = await h.call('GET', `${A}/environments/${env}/flags/${flag}/impact${query}`)
    expect(res.status, await res.clone().text()).toBe(200)
    return json<Impact>(res)
  }

  beforeAll(async () => {
    h = await createHarness()
    for (const key of ['checkout', 'search', 'quiet'])
      await h.call('PUT', `${A}/flags/${key}`, { type: 'boolean', variants: { off: false, on: true } })
    serverKey = await h.key('server', 'production')
    stagingKey = await h.key('server', 'staging')
  })
  afterAll(() => h.close())

  // control (off) and canary (on), spread over four reports in three minutes (two share one)
  const now = Date.now()
  const thisMinute = Math.floor(now / MINUTE) * MINUTE
  const off = latencies(900, 10, 1)
  const on = latencies(600, 14, 2)
  const reports = [
    report(
      thisMinute - 4 * MINUTE + 5_000,
      series('checkout', 'off', off.slice(0, 300), 3),
      series('checkout', 'on', on.slice(0, 200), 10),
    ),
    report(
      thisMinute - 2 * MINUTE + 5_000,
      series('checkout', 'off', off.slice(300, 500), 2),
      series('checkout', 'on', on.slice(200, 300), 5),
    ),
    report(
      thisMinute - 2 * MINUTE + 45_000,
      series('checkout', 'off', off.slice(500, 600)),
      series('checkout', 'on', on.slice(300, 400)),
    ),
    report(thisMinute + 1, series('checkout', 'off', off.slice(600), 1), series('checkout', 'on', on.slice(400), 15)),
  ]

  it('accepts reports with 202 and stores each in the minute of its end', async () => {
    for (const body of reports) {
      const res = await post(body)
      expect(res.status, await res.clone().text()).toBe(202)
      expect(await json(res)).toEqual({
        windowStart: new Date(Math.floor(body.end / MINUTE) * MINUTE).toISOString(),
        accepted: 2,
        ignored: 0,
      })
    }
    const rows = await h.store.readOutcomes(
      'production',
      'checkout',
      new Date(now - 10 * MINUTE).toISOString(),
      new Date(now + MINUTE).toISOString(),
    )
    expect(rows.map((r) => [r.variant, (Date.parse(r.windowStart) - thisMinute) / MINUTE, r.count])).toEqual([
      ['off', -4, 300],
      ['off', -2, 300],
      ['off', 0, 300],
      ['on', -4, 200],
      ['on', -2, 200],
      ['on', 0, 200],
    ])
  })

  it('merges counts and sketches over every report in the window; quantiles within 1 %', async () => {
    const result = await impact('checkout', '?window=15m')
    expect(result).toMatchObject({ environment: 'production', flag: 'checkout' })
    expect(Date.parse(result.from) % MINUTE).toBe(0)
    expect(Date.parse(result.to) - Date.parse(result.from)).toBeGreaterThanOrEqual(15 * MINUTE)
    expect(Date.parse(result.to) - Date.parse(result.from)).toBeLessThan(16 * MINUTE)
    expect(result.variants.map((v) => [v.variant, v.requests, v.errors])).toEqual([
      ['off', 900, 6],
      ['on', 600, 30],
    ])
    expect(result.variants[0]?.errorRate).toBeCloseTo(6 / 900, 12)
    expect(result.variants[1]?.errorRate).toBeCloseTo(30 / 600, 12)
    for (const [variant, values] of [
      [result.variants[0]!, off],
      [result.variants[1]!, on],
    ] as const) {
      withinOnePercent(variant.latencyMs!.p50, exact(values, 0.5))
      withinOnePercent(variant.latencyMs!.p95, exact(values, 0.95))
      withinOnePercent(variant.latencyMs!.p99, exact(values, 0.99))
    }
    // the canary really is slower: the numbers are not just plausible, they are these latencies'
    expect(result.variants[1]!.latencyMs!.p50).toBeGreaterThan(result.variants[0]!.latencyMs!.p50)
  })

  it('takes only the minutes that overlap the window', async () => {
    const old = report(now - 10 * MINUTE, series('checkout', 'off', [5000], 1))
    expect((await post(old)).status).toBe(202)
    const five = await impact('checkout', '?window=5m')
    expect(five.variants.map((v) => v.requests)).toEqual([900, 600])
    const fifteen = await impact('checkout', '?window=15m')
    expect(fifteen.variants.map((v) => [v.requests, v.errors])).toEqual([
      [901, 7],
      [600, 30],
    ])
    withinOnePercent((await impact('checkout', '?window=1h')).variants[0]!.latencyMs!.p99, exact([...off, 5000], 0.99))
    // a custom range: only the report ten minutes ago
    const from = new Date(now - 11 * MINUTE).toISOString()
    const to = new Date(Math.floor((now - 9 * MINUTE) / MINUTE) * MINUTE).toISOString()
    const custom = await impact('checkout', `?from=${from}&to=${to}`)
    expect(custom.from).toBe(new Date(Math.floor((now - 11 * MINUTE) / MINUTE) * MINUTE).toISOString())
    expect(custom.to).toBe(to)
    expect(custom.variants.map((v) => [v.variant, v.requests])).toEqual([
      ['off', 1],
      ['on', 0],
    ])
    withinOnePercent(custom.variants[0]!.latencyMs!.p50, 5000)
    expect(custom.variants[1]).toEqual({ variant: 'on', requests: 0, errors: 0, errorRate: null, latencyMs: null })
  })

  it("lists every variant, also without reports, and stores under the key's own environment", async () => {
    expect((await impact('quiet')).variants).toEqual([
      { variant: 'off', requests: 0, errors: 0, errorRate: null, latencyMs: null },
      { variant: 'on', requests: 0, errors: 0, errorRate: null, latencyMs: null },
    ])
    expect((await post(report(now, series('quiet', 'on', [1, 2, 3], 3)), stagingKey)).status).toBe(202)
    expect((await impact('quiet', '', 'staging')).variants[1]).toMatchObject({ requests: 3, errors: 3, errorRate: 1 })
    expect((await impact('quiet', '', 'production')).variants[1]).toMatchObject({ requests: 0 })
  })

  it('ignores series of flags or variants the environment does not have', async () => {
    const res = await post(
      report(now, series('search', 'on', [4]), series('no-such-flag', 'on', [4]), series('search', 'maybe', [4])),
    )
    expect(res.status).toBe(202)
    expect(await json(res)).toMatchObject({ accepted: 1, ignored: 2 })
    expect((await impact('search')).variants.map((v) => [v.variant, v.requests])).toEqual([
      ['off', 0],
      ['on', 1],
    ])
  })

  it('rejects bad reports with 422 and a pointer to each problem, storing nothing', async () => {
    const good = series('search', 'off', [1])
    const cases: [unknown, string[]][] = [
      [{ ...report(now, good), extra: 1 }, ['/extra']],
      [report(now, { ...good, extra: true } as Series), ['/series/0/extra']],
      [{ end: now, series: [] }, ['/start']],
      [report(now, { ...good, sketch: 'AAAA' }), ['/series/0/sketch']],
      [report(now, good, { ...good, sketch: base64(new Uint8Array([1, 2, 3, 4, 5])) }), ['/series/1/sketch']],
      [report(now, { ...good, sketch: 'not base64!' }), ['/series/0/sketch']],
      [report(now, { ...good, sketch: sketchOf([1, 2], 0.02) }), ['/series/0/sketch']],
      [report(now, { ...good, sketch: sketchOf([-3, 2]) }), ['/series/0/sketch']],
      [report(now, { ...good, sketch: sketchOf([1e11]) }), ['/series/0/sketch']],
      [report(now, { ...good, errors: 2 }), ['/series/0/errors']],
      [report(now, { ...good, count: -1 }), ['/series/0/count']],
      [report(now, { ...good, flag: 'Bad Key' }), ['/series/0/flag']],
      [{ ...report(now, good), start: now + 1 }, ['/end']],
      [report(now + 10 * MINUTE, good), ['/end']],
      [report(now - 25 * 60 * MINUTE, good), ['/end']],
      [{ start: now, end: now, series: Array(5001).fill(good) }, ['/series']],
      [report(now, { ...good, sketch: 'A'.repeat(90_000) }), ['/series/0/sketch']],
    ]
    for (const [body, pointers] of cases) await expectProblem(await post(body), 422, pointers)
    // a sketch just over 64 KB after decoding, though short enough as text to pass the first check
    const big = new Uint8Array(64 * 1024 + 1)
    await expectProblem(await post(report(now, { ...good, sketch: base64(big) })), 422, ['/series/0/sketch'])
    await expectProblem(await post('{"start":'), 400)
    const text = await h.app.request('/sdk/v1/outcomes', {
      method: 'POST',
      headers: { authorization: `Bearer ${serverKey}`, 'content-type': 'text/plain' },
      body: '{}',
    })
    await expectProblem(text, 415)
    expect((await impact('search')).variants.find((v) => v.variant === 'off')?.requests).toBe(0)
  })

  it('refuses bodies over 16 MiB (413)', async () => {
    const huge = JSON.stringify({ start: now, end: now, series: [], pad: 'x'.repeat(16 * 1024 * 1024) })
    await expectProblem(await post(huge), 413)
  })

  it('takes server keys only', async () => {
    const body = report(now, series('search', 'off', [1]))
    await expectProblem(await post(body, await h.key('client', 'production')), 403)
    await expectProblem(await post(body, await h.key('admin')), 403)
    await expectProblem(await post(body, 'vane_server_nope'), 401)
  })

  it('impact: 404 for an unknown environment or flag, 422 for a bad query', async () => {
    await expectProblem(await h.call('GET', `${A}/environments/nope/flags/checkout/impact`), 404)
    await expectProblem(await h.call('GET', `${A}/environments/production/flags/nope/impact`), 404)
    await h.call('DELETE', `${A}/flags/search`)
    await expectProblem(await h.call('GET', `${A}/environments/production/flags/search/impact`), 404)
    const bad: [string, string[]][] = [
      ['?window=2h', ['/window']],
      ['?window=5m&from=2025-01-01T00:00:00Z', ['/window']],
      ['?to=2025-01-01T00:00:00Z', ['/from']],
      ['?from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z', ['/to']],
      ['?from=2025-01-01T00:00:00Z&to=2025-01-03T00:00:00Z', ['/to']],
      ['?from=yesterday', ['/from']],
      [`?from=${new Date(now - 2 * 1440 * MINUTE).toISOString()}`, ['/from']],
      ['?zz=1', ['/zz']],
    ]
    for (const [query, pointers] of bad)
      await expectProblem(
        await h.call('GET', `${A}/environments/production/flags/checkout/impact${query}`),
        422,
        pointers,
      )
  })
})

describe('outcome reports under the rate limit', () => {
  it('answers 429 with Retry-After past the per-key rate', async () => {
    const h = await createHarness({ evaluationRateLimit: { perSecond: 1, burst: 2 } })
    try {
      await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
      const key = await h.key('server', 'production')
      const send = () =>
        h.app.request('/sdk/v1/outcomes', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(report(Date.now(), series('f', 'on', [1]))),
        })
      expect((await send()).status).toBe(202)
      expect((await send()).status).toBe(202)
      const limited = await send()
      await expectProblem(limited, 429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    } finally {
      await h.close()
    }
  })
})
