import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHarness, type Harness } from '../test-harness.js'

/** Reads SSE text from a response body until `until` holds or the time runs out. */
async function readUntil(body: ReadableStream<Uint8Array>, until: (text: string) => boolean, ms = 2000) {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const deadline = Date.now() + ms
  while (!until(text) && Date.now() < deadline) {
    const next = await Promise.race([
      reader.read(),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(1, deadline - Date.now()))),
    ])
    if (next === undefined || next.done) break
    text += decoder.decode(next.value, { stream: true })
  }
  return { text, reader }
}

describe('server-SDK stream', () => {
  let h: Harness
  let serverKey: string
  beforeAll(async () => {
    h = await createHarness()
    await h.call('PUT', '/admin/v1/flags/f', { type: 'boolean', variants: { on: true, off: false } })
    serverKey = await h.key('server', 'production')
  })
  afterAll(() => h.close())

  it('sends a put, then a patch per change with id = environment version', async () => {
    const res = await h.app.request('/sdk/v1/stream', { headers: { authorization: `Bearer ${serverKey}` } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    const body = res.body!
    const first = await readUntil(body, (t) => t.includes('\n\n'))
    expect(first.text).toMatch(/^id: 1\nevent: put\ndata: \{"environment":"production","version":1,/)
    first.reader.releaseLock()
    await h.call('POST', '/admin/v1/environments/production/flags/f/kill', { reason: 'test' })
    const next = await readUntil(body, (t) => t.includes('\n\n'))
    expect(next.text).toBe(
      `id: 2\nevent: patch\ndata: ${JSON.stringify({
        op: 'put',
        kind: 'flag',
        key: 'f',
        version: 2,
        value: { key: 'f', type: 'boolean', variants: { on: true, off: false }, version: 2, enabled: false, offVariant: 'off', fallthrough: { variant: 'off' }, killed: true },
      })}\n\n`,
    )
    await next.reader.cancel()
  })

  it('resumes after Last-Event-ID with only what was missed', async () => {
    await h.call('POST', '/admin/v1/environments/production/flags/f/unkill', { reason: 'test' })
    const res = await h.app.request('/sdk/v1/stream', {
      headers: { authorization: `Bearer ${serverKey}`, 'last-event-id': '2' },
    })
    const { text, reader } = await readUntil(res.body!, (t) => t.includes('\n\n'))
    expect(text.startsWith('id: 3\nevent: patch\n')).toBe(true)
    await reader.cancel()
    expect(h.delivery.counts().sdk).toBe(0)
  })
})
