import type { EvaluationDetails } from '@vane/sdk-core'
import { describe, expect, it } from 'vitest'
import { openTelemetry } from './opentelemetry.js'

function fakeApi(withSpan: boolean) {
  const events: { name: string; attributes: Record<string, unknown> }[] = []
  const attributes: Record<string, string> = {}
  const logs: Record<string, unknown>[] = []
  const span = {
    setAttribute: (key: string, value: string) => {
      attributes[key] = value
    },
    addEvent: (name: string, attrs?: Record<string, string | number | boolean>) => {
      events.push({ name, attributes: attrs ?? {} })
    },
  }
  const api = {
    trace: { getActiveSpan: () => (withSpan ? span : undefined) },
    logs: {
      getLogger: () => ({
        emit: (record: { attributes?: Record<string, unknown> }) => logs.push(record.attributes ?? {}),
      }),
    },
  }
  return { api, events, attributes, logs }
}

const served: EvaluationDetails<unknown> = {
  flagKey: 'new-checkout',
  value: true,
  variant: 'on',
  reason: 'TARGETING_MATCH',
  flagVersion: 7,
}

describe('openTelemetry hook', () => {
  it('records the semconv event as a log record and on the active span, and tags the span with the variant', () => {
    const t = fakeApi(true)
    openTelemetry({ api: t.api, environment: 'production' })(served, { targetingKey: 'user-1' })
    const expected = {
      'feature_flag.key': 'new-checkout',
      'feature_flag.provider.name': 'Vane',
      'feature_flag.result.reason': 'targeting_match',
      'feature_flag.result.variant': 'on',
      'feature_flag.context.id': 'user-1',
      'feature_flag.set.id': 'production',
      'feature_flag.version': '7',
    }
    expect(t.logs).toEqual([expected])
    expect(t.events).toEqual([{ name: 'feature_flag.evaluation', attributes: expected }])
    expect(t.attributes).toEqual({ 'vane.flag.new-checkout': 'on' })
  })

  it('reports errors with error.type and leaves the value out unless asked', () => {
    const t = fakeApi(true)
    const hook = openTelemetry({ api: t.api })
    hook({ flagKey: 'gone', value: false, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' }, {})
    expect(t.events[0]!.attributes).toMatchObject({
      'error.type': 'flag_not_found',
      'feature_flag.result.reason': 'error',
    })
    expect(t.events[0]!.attributes).not.toHaveProperty('feature_flag.result.value')
    expect(t.attributes).toEqual({})
    openTelemetry({ api: t.api, includeValue: true })(served, {})
    expect(t.events[1]!.attributes['feature_flag.result.value']).toBe(true)
  })

  it('without an active span, only logs', () => {
    const t = fakeApi(false)
    openTelemetry({ api: t.api })(served, {})
    expect(t.logs).toHaveLength(1)
    expect(t.events).toEqual([])
  })
})
