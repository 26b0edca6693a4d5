// Telemetry: a getter with telemetry off / on / on inside a span, and the span processor's cost per span
// (BasicTracerProvider, no-op exporter, with and without it).
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { CHILD_SPANS, SPAN_REQUESTS } from '../settings.mjs'
import { taskList, timeTasks } from '../timing.mjs'
import { pool, waitUntil } from '../workloads.mjs'

/**
 * A getter with telemetry off (`offClient`), on (`on`) and on without events (`quiet`), outside and inside a
 * span; then the span processor's cost per span.
 */
export async function telemetry(offClient, on, quiet) {
  const contextManager = new AsyncLocalStorageContextManager().enable()
  context.setGlobalContextManager(contextManager)
  const exporter = {
    export: (_spans, done) => done({ code: 0 }),
    shutdown: async () => {},
    forceFlush: async () => {},
  }
  try {
    const plain = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const tagged = new BasicTracerProvider({ spanProcessors: [on.spanProcessor(), new SimpleSpanProcessor(exporter)] })
    const plainTracer = plain.getTracer('bench')
    const taggedTracer = tagged.getTracer('bench')

    // @opentelemetry/api is an optional peer the SDK loads lazily: wait until evaluations tag spans
    await waitUntil(
      () =>
        [on, quiet].every((c) =>
          taggedTracer.startActiveSpan('probe', (span) => {
            c.getBoolean('w1', false, pool[0])
            span.end()
            return span.attributes['vane.flag.w1'] === 'on'
          }),
        ),
      5_000,
      'the SDK to load @opentelemetry/api',
    )

    // -- a getter with telemetry off and on, outside any span and inside one
    const { tasks, add, check } = taskList()
    const root = taggedTracer.startSpan('long-request')
    const inRoot = trace.setSpan(context.active(), root)
    const inSpan = (task) => context.with(inRoot, task)
    add('off', (ctx) => offClient.getBoolean('w1', false, ctx))
    add('on', (ctx) => on.getBoolean('w1', false, ctx))
    add('on, events off', (ctx) => quiet.getBoolean('w1', false, ctx))
    add('off, in a span', (ctx) => offClient.getBoolean('w1', false, ctx), inSpan)
    add('on, in a span', (ctx) => on.getBoolean('w1', false, ctx), inSpan)
    add('on, events off, in a span', (ctx) => quiet.getBoolean('w1', false, ctx), inSpan)
    const getterFigures = await timeTasks(tasks, { rounds: 2 })
    root.end()
    check('a telemetry')
    if (root.attributes['vane.flag.w1'] !== 'on') throw new Error('the long request span was not tagged')

    // -- span processor: requests of a root span, one evaluation, then N child spans
    let i = 0
    const requests = (tracer, children) => () => {
      for (let r = 0; r < SPAN_REQUESTS; r++) {
        tracer.startActiveSpan('request', (span) => {
          on.getBoolean('w1', false, pool[i])
          if (++i === pool.length) i = 0
          for (let k = 0; k < children; k++) tracer.startSpan('child').end()
          span.end()
        })
      }
    }
    // check: children started after the evaluation carry the flag only with the processor
    for (const [tracer, expected] of [
      [taggedTracer, 'on'],
      [plainTracer, undefined],
    ]) {
      tracer.startActiveSpan('request', (span) => {
        on.getBoolean('w1', false, pool[0])
        const child = tracer.startSpan('child')
        child.end()
        span.end()
        if (child.attributes['vane.flag.w1'] !== expected)
          throw new Error(`child span tagged ${child.attributes['vane.flag.w1']}, expected ${expected}`)
      })
    }
    const spanTasks = [
      { name: 'without, 0 children', task: requests(plainTracer, 0), ops: SPAN_REQUESTS },
      { name: 'with, 0 children', task: requests(taggedTracer, 0), ops: SPAN_REQUESTS },
      { name: `without, ${CHILD_SPANS} children`, task: requests(plainTracer, CHILD_SPANS), ops: SPAN_REQUESTS },
      { name: `with, ${CHILD_SPANS} children`, task: requests(taggedTracer, CHILD_SPANS), ops: SPAN_REQUESTS },
    ]
    const spanFigures = await timeTasks(spanTasks, { rounds: 2 })
    const without0 = spanFigures['without, 0 children'].p50Ns
    const with0 = spanFigures['with, 0 children'].p50Ns
    const withoutN = spanFigures[`without, ${CHILD_SPANS} children`].p50Ns
    const withN = spanFigures[`with, ${CHILD_SPANS} children`].p50Ns
    await plain.shutdown()
    await tagged.shutdown()
    return {
      getters: getterFigures,
      spans: {
        requestsPerSample: SPAN_REQUESTS,
        childSpans: CHILD_SPANS,
        perRequestNs: spanFigures,
        /** (with − without) over all N + 1 spans of a request. */
        overheadPerSpanNs: (withN - withoutN) / (CHILD_SPANS + 1),
        /** The slope: what each further child span costs more with the processor. */
        overheadPerChildSpanNs: (withN - withoutN - (with0 - without0)) / CHILD_SPANS,
        /** A request's root span alone (onStart, and onEnd counting its outcome per variant). */
        overheadPerRootSpanNs: with0 - without0,
        spanCostWithoutNs: (withoutN - without0) / CHILD_SPANS,
      },
    }
  } finally {
    trace.disable()
    context.disable()
    contextManager.disable()
  }
}
