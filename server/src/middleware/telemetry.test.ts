import { SpanKind, trace } from '@opentelemetry/api'
import { BasicTracerProvider, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

/** Names of request spans as processors see them: when the span starts, and when it ends. */
class NameRecorder implements SpanProcessor {
  readonly names: string[] = []
  onStart(span: Span): void {
    if (span.kind === SpanKind.SERVER) this.names.push(span.name)
  }
  onEnd(span: { name: string; kind: SpanKind }): void {
    if (span.kind === SpanKind.SERVER) this.names.push(span.name)
  }
  forceFlush = async () => {}
  shutdown = async () => {}
}

describe('telemetry spans', () => {
  let h: Harness
  const recorder = new NameRecorder()
  beforeAll(async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [recorder] }))
    h = await createHarness()
    expect((await h.call('PUT', `${A}/flags/search`, boolFlag())).status).toBe(201)
  })
  afterAll(async () => {
    trace.disable()
    await h.close()
  })

  it('are named after the route pattern from the start, never the path (a trigger secret)', async () => {
    const created = await h.call('POST', `${A}/environments/production/flags/search/triggers`, { name: 'pd' })
    const { url, secret } = await json<{ url: string; secret: string }>(created)
    recorder.names.length = 0
    expect((await h.app.request(url, { method: 'POST' })).status).toBe(200)
    expect(recorder.names).toEqual(['POST /hooks/v1/triggers/:secret', 'POST /hooks/v1/triggers/:secret'])
    expect(recorder.names.join(' ')).not.toContain(secret)
  })

  it('admin requests too', async () => {
    recorder.names.length = 0
    expect((await h.call('GET', `${A}/flags/search`)).status).toBe(200)
    expect(recorder.names).toEqual(['GET /admin/v1/flags/:key', 'GET /admin/v1/flags/:key'])
  })
})
