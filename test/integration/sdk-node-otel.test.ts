/**
 * The built Node SDK's OpenTelemetry side with the real OpenTelemetry SDKs: a BasicTracerProvider with the
 * client's span processor and an AsyncLocalStorage context manager, a LoggerProvider with an in-memory exporter
 * for `feature_flag.evaluation` events, and outcome reports captured by an HTTP front posing as the Vane URL
 * (the real server is behind it for the ruleset; `POST /sdk/v1/outcomes` is answered by the test).
 */
import { DDSketch } from '@datadog/sketches-js'
import { context, logs, type Span, SpanStatusCode, trace } from '@opentelemetry/api'
import { logs as legacyLogs } from '@opentelemetry/api-logs'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  type ClientOptions,
  createClient,
  FLAG_ATTRIBUTE_PREFIX,
  type OutcomeReport,
  type VaneClient,
} from '../../sdk-node/dist/index.js'
import { type Vane, VaneServers } from '../support/server.js'
import {
  booleanFlag,
  environmentWithKey,
  OutcomeFront,
  serverSnapshot,
  sleep,
  targeting,
  waitUntil,
} from './sdk-node-support.js'

const ENV = 'production'

const servers = new VaneServers()
let vane: Vane
let sdkKey: string
let front: OutcomeFront
const spans = new InMemorySpanExporter()
const records = new InMemoryLogRecordExporter()
const clients: VaneClient[] = []
let contextManager: AsyncLocalStorageContextManager
let tracerProvider: BasicTracerProvider
let loggerProvider: LoggerProvider
/** The span processor of the client currently under test (the tracer provider's processors are fixed). */
let active: ReturnType<VaneClient['spanProcessor']> | undefined

const tracer = () => trace.getTracer('sdk-node-otel-test')

async function client(options: Partial<ClientOptions> = {}): Promise<VaneClient> {
  const c = createClient({ url: front.url, sdkKey, telemetry: { reportIntervalMs: 0 }, ...options })
  clients.push(c)
  active = c.spanProcessor()
  // ready means attributed too: no waiting for OpenTelemetry to load after this
  await c.waitForReady(10_000)
  spans.reset()
  records.reset()
  front.reports.length = 0
  front.attempts = 0
  return c
}

/** Runs `fn` inside a new active span and ends it (with `status`) afterwards. */
function inSpan<T>(name: string, fn: (span: Span) => T, options: { startTime?: number; error?: boolean } = {}): T {
  return tracer().startActiveSpan(
    name,
    options.startTime === undefined ? {} : { startTime: options.startTime },
    (span) => {
      try {
        return fn(span)
      } finally {
        if (options.error) span.setStatus({ code: SpanStatusCode.ERROR })
        span.end()
      }
    },
  )
}

const finished = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name)
const evaluationEvents = () => records.getFinishedLogRecords().filter((r) => r.eventName === 'feature_flag.evaluation')

beforeAll(async () => {
  contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  tracerProvider = new BasicTracerProvider({
    spanProcessors: [
      {
        onStart: (span, parent) => active?.onStart(span, parent),
        onEnd: (span) => active?.onEnd(span),
        forceFlush: async () => {},
        shutdown: async () => {},
      },
      new SimpleSpanProcessor(spans),
    ],
  })
  trace.setGlobalTracerProvider(tracerProvider)
  loggerProvider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: records })] })
  logs.setGlobalLoggerProvider(loggerProvider)

  vane = await servers.start()
  ;({ key: sdkKey } = await environmentWithKey(vane, ENV))
  await booleanFlag(vane, ENV, 'checkout', 'on')
  await vane.admin('PUT', '/admin/v1/flags/color', { type: 'string', variants: { red: 'red', blue: 'blue' } })
  await targeting(vane, ENV, 'color', {
    enabled: true,
    offVariant: 'red',
    rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'blue' } }],
    fallthrough: { variant: 'red' },
  })
  front = await OutcomeFront.start(vane.url)
})

beforeEach(() => {
  front.answer = 'ok'
  front.reports.length = 0
  front.attempts = 0
})

afterEach(async () => {
  front.answer = 'ok'
  front.release()
  await Promise.all(clients.splice(0).map((c) => c.close()))
  active = undefined
})

afterAll(async () => {
  await front?.close()
  await tracerProvider?.shutdown()
  await loggerProvider?.shutdown()
  trace.disable()
  logs.disable()
  context.disable()
  await servers.stopAll()
})

describe('span tagging', () => {
  it('tags the active span, the root span, and spans started after an evaluation — not those before', async () => {
    const c = await client()
    inSpan('request', () => {
      inSpan('before', () => {})
      inSpan('evaluating', () => {
        expect(c.getString('color', 'none', { targetingKey: 'u1', plan: 'pro' })).toBe('blue')
      })
      inSpan('after', () => inSpan('nested-after', () => {}))
      c.getBoolean('checkout', false, { targetingKey: 'u1' })
      inSpan('after-both', () => {})
    })
    const attr = (name: string) => finished(name)[0]!.attributes
    expect(attr('request')).toMatchObject({ 'vane.flag.color': 'blue', 'vane.flag.checkout': 'on' })
    expect(attr('evaluating')['vane.flag.color']).toBe('blue')
    expect(attr('before')['vane.flag.color']).toBeUndefined()
    expect(attr('after')['vane.flag.color']).toBe('blue')
    expect(attr('after')['vane.flag.checkout']).toBeUndefined()
    expect(attr('nested-after')['vane.flag.color']).toBe('blue')
    expect(attr('after-both')).toMatchObject({ 'vane.flag.color': 'blue', 'vane.flag.checkout': 'on' })
  })

  it('keeps requests apart, also across awaits running side by side', async () => {
    const c = await client()
    const request = (plan: string) =>
      tracer().startActiveSpan(`request-${plan}`, async (root) => {
        await sleep(5)
        c.getString('color', 'none', { targetingKey: plan, plan })
        await sleep(5)
        await tracer().startActiveSpan(`db-${plan}`, async (db) => {
          await sleep(5)
          db.end()
        })
        root.end()
      })
    await Promise.all([request('pro'), request('free')])
    expect(finished('request-pro')[0]!.attributes['vane.flag.color']).toBe('blue')
    expect(finished('db-pro')[0]!.attributes['vane.flag.color']).toBe('blue')
    expect(finished('request-free')[0]!.attributes['vane.flag.color']).toBe('red')
    expect(finished('db-free')[0]!.attributes['vane.flag.color']).toBe('red')
  })

  it('tags nothing for an evaluation outside any span, and nothing when telemetry is off', async () => {
    const c = await client()
    c.getString('color', 'none', { plan: 'pro' })
    inSpan('unrelated', () => {})
    expect(finished('unrelated')[0]!.attributes['vane.flag.color']).toBeUndefined()

    const off = createClient({ url: front.url, sdkKey })
    clients.push(off)
    await off.waitForReady(10_000)
    active = off.spanProcessor()
    inSpan('request', () => off.getString('color', 'none', { plan: 'pro' }))
    expect(finished('request')[0]!.attributes['vane.flag.color']).toBeUndefined()
  })
})

describe('evaluation events', () => {
  it('carry the semantic-convention attributes, without the value by default', async () => {
    const c = await client()
    c.getStringDetails('color', 'none', { targetingKey: 'user-7', plan: 'pro' })
    await waitUntil(
      () => evaluationEvents().length >= 1,
      2_000,
      () => 'an evaluation event',
    )
    const [event] = evaluationEvents()
    const version = c.getStringDetails('color', 'none').flagVersion
    expect(event!.attributes).toEqual({
      'feature_flag.key': 'color',
      'feature_flag.provider.name': 'Vane',
      'feature_flag.result.variant': 'blue',
      'feature_flag.result.reason': 'targeting_match',
      'feature_flag.context.id': 'user-7',
      'feature_flag.set.id': ENV,
      'feature_flag.version': String(version),
    })
  })

  it('lowercase every reason, and carry error.type on errors', async () => {
    const c = await client()
    c.getString('color', 'none', { targetingKey: 'u' }) // default
    c.getBoolean('nope', true, { targetingKey: 'u' }) // flag_not_found
    c.getNumber('checkout', 1, { targetingKey: 'u' }) // type_mismatch
    await waitUntil(
      () => evaluationEvents().length >= 3,
      2_000,
      () => 'three evaluation events',
    )
    const byKey = (key: string) => evaluationEvents().find((r) => r.attributes['feature_flag.key'] === key)!.attributes
    expect(byKey('color')['feature_flag.result.reason']).toBe('default')
    expect(byKey('color')['error.type']).toBeUndefined()
    expect(byKey('nope')).toMatchObject({ 'feature_flag.result.reason': 'error', 'error.type': 'flag_not_found' })
    expect(byKey('nope')['feature_flag.result.variant']).toBeUndefined()
    expect(byKey('nope')['feature_flag.result.value']).toBeUndefined()
    const mismatch = evaluationEvents().find(
      (r) => r.attributes['feature_flag.key'] === 'checkout' && r.attributes['error.type'] !== undefined,
    )
    expect(mismatch?.attributes).toMatchObject({ 'feature_flag.result.reason': 'error', 'error.type': 'type_mismatch' })
  })

  it('carry the value only with includeValue', async () => {
    const c = await client({ telemetry: { reportIntervalMs: 0, includeValue: true } })
    c.getString('color', 'none', { plan: 'pro' })
    c.getBoolean('checkout', false)
    await waitUntil(
      () => evaluationEvents().length >= 2,
      2_000,
      () => 'two evaluation events',
    )
    const values = evaluationEvents().map((r) => [
      r.attributes['feature_flag.key'],
      r.attributes['feature_flag.result.value'],
    ])
    expect(values).toContainEqual(['color', 'blue'])
    expect(values).toContainEqual(['checkout', true])
  })

  it('are not emitted with events: false', async () => {
    const c = await client({ telemetry: { reportIntervalMs: 0, events: false } })
    records.reset()
    c.getString('color', 'none', { plan: 'pro' })
    await sleep(50)
    expect(evaluationEvents()).toEqual([])
  })

  it('also reach a LoggerProvider registered through the older @opentelemetry/api-logs', async () => {
    const legacy = new InMemoryLogRecordExporter()
    const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: legacy })] })
    legacyLogs.setGlobalLoggerProvider(provider as never)
    try {
      logs.disable()
      const c = await client()
      c.getString('color', 'none', { plan: 'pro' })
      await waitUntil(
        () => legacy.getFinishedLogRecords().some((r) => r.attributes['feature_flag.key'] === 'color'),
        2_000,
        () => 'an event through @opentelemetry/api-logs',
      )
    } finally {
      legacyLogs.disable()
      logs.setGlobalLoggerProvider(loggerProvider)
      await provider.shutdown()
    }
  })
})

describe('outcome reports', () => {
  /** `n` root spans per plan, lasting about `ms`, the first `errors` of them failed. */
  function requests(c: VaneClient, plan: string, n: number, ms: number, errors = 0) {
    for (let i = 0; i < n; i++)
      inSpan(
        `GET /checkout ${plan}`,
        () => {
          c.getString('color', 'none', { targetingKey: `${plan}-${i}`, plan })
          inSpan('db', () => c.getBoolean('checkout', false, { targetingKey: `${plan}-${i}` }))
        },
        { startTime: Date.now() - ms, error: i < errors },
      )
  }

  const series = (report: OutcomeReport, flag: string, variant: string) =>
    report.series.find((s) => s.flag === flag && s.variant === variant)

  it('are POSTed with per-variant counts, errors and a decodable latency sketch', async () => {
    const c = await client()
    requests(c, 'pro', 10, 100)
    requests(c, 'free', 20, 300, 5)
    await c.spanProcessor().forceFlush()
    expect(front.reports).toHaveLength(1)
    const { headers, body } = front.reports[0]!
    expect(headers.authorization).toBe(`Bearer ${sdkKey}`)
    expect(headers['content-type']).toMatch(/application\/json/)
    const report = body as OutcomeReport
    expect(report.end).toBeGreaterThanOrEqual(report.start)
    expect(report.series).toHaveLength(3)
    expect(series(report, 'color', 'blue')).toMatchObject({ count: 10, errors: 0 })
    expect(series(report, 'color', 'red')).toMatchObject({ count: 20, errors: 5 })
    expect(series(report, 'checkout', 'on')).toMatchObject({ count: 30, errors: 5 })

    const blue = DDSketch.fromProto(Buffer.from(series(report, 'color', 'blue')!.sketch, 'base64'))
    const red = DDSketch.fromProto(Buffer.from(series(report, 'color', 'red')!.sketch, 'base64'))
    expect(blue.count).toBe(10)
    expect(red.count).toBe(20)
    expect(blue.getValueAtQuantile(0.5)).toBeGreaterThan(90)
    expect(blue.getValueAtQuantile(0.5)).toBeLessThan(150)
    expect(red.getValueAtQuantile(0.5)).toBeGreaterThan(280)
    expect(red.getValueAtQuantile(0.5)).toBeLessThan(350)
  })

  it('count each window once: a report holds only what happened since the last one', async () => {
    const c = await client()
    requests(c, 'pro', 3, 10)
    await c.spanProcessor().forceFlush()
    requests(c, 'pro', 2, 10)
    await c.spanProcessor().forceFlush()
    await c.spanProcessor().forceFlush() // nothing new: nothing sent
    expect(front.reports.map((r) => series(r.body as OutcomeReport, 'color', 'blue')?.count)).toEqual([3, 2])
    const [first, second] = front.reports.map((r) => r.body as OutcomeReport)
    expect(second!.start).toBe(first!.end)
  })

  it('are sent every reportIntervalMs on their own', async () => {
    const c = await client({ telemetry: { reportIntervalMs: 200 } })
    requests(c, 'free', 4, 10)
    await waitUntil(
      () => front.reports.length >= 1,
      3_000,
      () => 'a periodic report',
    )
    expect(series(front.reports[0]!.body as OutcomeReport, 'color', 'red')?.count).toBe(4)
  })

  it('are dropped, not kept, when the endpoint fails', async () => {
    const c = await client()
    front.answer = 'fail'
    requests(c, 'pro', 7, 10)
    await expect(c.spanProcessor().forceFlush()).resolves.toBeUndefined()
    expect(front.attempts).toBe(1)
    front.answer = 'ok'
    requests(c, 'pro', 2, 10)
    await c.spanProcessor().forceFlush()
    expect(front.reports).toHaveLength(1)
    expect(series(front.reports[0]!.body as OutcomeReport, 'color', 'blue')?.count).toBe(2)
  })

  it('keep at most maxSeries flag × variant pairs between reports, and warn once', async () => {
    for (let i = 0; i < 12; i++) await booleanFlag(vane, ENV, `many-${i}`, 'on')
    const c = await client({ telemetry: { reportIntervalMs: 0, maxSeries: 5 } })
    const errors: Error[] = []
    c.on('error', (e) => errors.push(e))
    await waitUntil(
      () => c.getBoolean('many-11', false),
      10_000,
      () => 'the many-* flags',
    )
    for (let round = 0; round < 50; round++)
      inSpan('GET /many', () => {
        for (let i = 0; i < 12; i++) c.getBoolean(`many-${i}`, false, { targetingKey: `u${round}` })
      })
    await c.spanProcessor().forceFlush()
    const report = front.reports[0]!.body as OutcomeReport
    expect(report.series).toHaveLength(5)
    expect(report.series.every((s) => s.count === 50)).toBe(true)
    expect(errors.filter((e) => /series limit/.test(e.message))).toHaveLength(1)
  })

  it('never block evaluation while the endpoint hangs, and never pile up sends', async () => {
    const c = await client({ telemetry: { reportIntervalMs: 100 } })
    front.answer = 'hang'
    requests(c, 'pro', 3, 10)
    await waitUntil(
      () => front.attempts >= 1,
      3_000,
      () => 'a report attempt',
    )
    const started = performance.now()
    for (let i = 0; i < 2_000; i++)
      inSpan('GET /busy', () => c.getString('color', 'none', { targetingKey: `b${i}`, plan: 'pro' }))
    expect(performance.now() - started).toBeLessThan(2_000)
    await sleep(600)
    // one send in flight at a time, however many intervals pass
    expect(front.attempts).toBe(1)
  })

  it('stop after close, even when a send was in flight', async () => {
    const c = await client({ telemetry: { reportIntervalMs: 100 } })
    front.answer = 'hang'
    requests(c, 'pro', 3, 10)
    await waitUntil(
      () => front.attempts >= 1,
      3_000,
      () => 'a report attempt',
    )
    await c.close()
    expect(front.attempts).toBe(1)
    // spans still end after close (the processor stays registered); then the hanging send fails
    requests(c, 'free', 3, 10)
    front.answer = 'ok'
    front.release()
    await sleep(500)
    expect(front.attempts).toBe(1)
    expect(front.reports).toEqual([])
  })

  it("reach the server's impact view", async () => {
    const probe = await fetch(`${vane.url}/sdk/v1/outcomes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ start: Date.now(), end: Date.now(), series: [] }),
    })
    await probe.body?.cancel()
    expect(probe.status).toBe(202)

    const c = await client({ url: vane.url })
    requests(c, 'pro', 10, 100)
    requests(c, 'free', 20, 300, 5)
    await c.spanProcessor().forceFlush()
    interface Impact {
      variants: { variant: string; requests: number; errors: number; latencyMs: { p50: number } | null }[]
    }
    const impact = await waitUntil(
      async () => {
        const reply = await vane.admin('GET', `/admin/v1/environments/${ENV}/flags/color/impact?window=5m`)
        const body = reply.json as Impact
        return body.variants.some((v) => v.requests > 0) ? body : undefined
      },
      5_000,
      () => 'the report in the impact view',
    )
    const variant = (name: string) => impact.variants.find((v) => v.variant === name)!
    expect(variant('blue')).toMatchObject({ requests: 10, errors: 0 })
    expect(variant('red')).toMatchObject({ requests: 20, errors: 5 })
    expect(variant('blue').latencyMs!.p50).toBeGreaterThan(90)
    expect(variant('blue').latencyMs!.p50).toBeLessThan(150)
    expect(variant('red').latencyMs!.p50).toBeGreaterThan(280)
    expect(variant('red').latencyMs!.p50).toBeLessThan(350)
  })
})

describe('attribution from the first request', () => {
  const N = 200

  /** `N` requests served back to back in one event-loop turn, each a root span evaluating `color`. */
  function tightLoop(c: VaneClient): void {
    for (let i = 0; i < N; i++)
      inSpan('GET /first', () => c.getString('color', 'none', { targetingKey: `first-${i}`, plan: 'pro' }))
  }

  /** Every request of the loop is tagged, and counted once in the next outcome report. */
  async function expectEveryRequestAttributed(c: VaneClient): Promise<void> {
    const tagged = finished('GET /first').filter((s) => s.attributes[`${FLAG_ATTRIBUTE_PREFIX}color`] === 'blue')
    expect(tagged).toHaveLength(N)
    await c.spanProcessor().forceFlush()
    expect(front.reports).toHaveLength(1)
    const report = front.reports[0]!.body as OutcomeReport
    expect(report.series).toEqual([expect.objectContaining({ flag: 'color', variant: 'blue', count: N, errors: 0 })])
  }

  function start(options: Partial<ClientOptions> = {}): VaneClient {
    spans.reset()
    const c = createClient({ url: front.url, sdkKey, telemetry: { reportIntervalMs: 0 }, ...options })
    clients.push(c)
    active = c.spanProcessor()
    return c
  }

  it('counts every request served right after waitForReady(), with the ruleset loaded from a bootstrap', async () => {
    const c = start({ bootstrap: await serverSnapshot(vane.url, sdkKey) })
    await c.waitForReady(10_000)
    tightLoop(c)
    await expectEveryRequestAttributed(c)
  })

  it('counts every request served right after waitForReady(), with the ruleset streamed from the server', async () => {
    const c = start()
    await c.waitForReady(10_000)
    tightLoop(c)
    await expectEveryRequestAttributed(c)
  })

  it("counts every request served from the 'ready' event's listener", async () => {
    const c = start({ bootstrap: await serverSnapshot(vane.url, sdkKey) })
    let served = false
    c.on('ready', () => {
      tightLoop(c)
      served = true
    })
    // a ready event emitted before a listener could be added (inside createClient) counts as a failure too
    await waitUntil(
      () => served,
      5_000,
      () => "the 'ready' event",
    )
    await expectEveryRequestAttributed(c)
  })
})
