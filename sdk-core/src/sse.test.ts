/**
 * readSse over bodies whose chunks split anywhere: inside a field name, between CR and LF, inside a multi-byte
 * UTF-8 character. Every split must give the same events; every chunk (heartbeat comments included) is activity.
 */
import { describe, expect, it } from 'vitest'
import { readSse, type SseEvent } from './sse.js'

const encoder = new TextEncoder()

/** A body that yields exactly these chunks, then ends (or errors with `error`). */
function bodyOf(chunks: Uint8Array[], error?: Error): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++]
      if (chunk !== undefined) controller.enqueue(chunk)
      else if (error !== undefined) controller.error(error)
      else controller.close()
    },
  })
}

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [0, ...[...new Set(offsets)].filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b)]
  return points.map((start, i) => bytes.slice(start, points[i + 1] ?? bytes.length))
}

async function read(chunks: Uint8Array[]) {
  const events: SseEvent[] = []
  let activity = 0
  await readSse(bodyOf(chunks), { onEvent: (e) => events.push(e), onActivity: () => activity++ })
  return { events, activity }
}

/** A stream as the server writes it, plus the things a proxy or another server may do (CRLF, multi-line data). */
const WIRE = [
  ': ping\n\n',
  'id: 41\nevent: put\ndata: {"environment":"production","version":41,"note":"caf\u00e9 \u{1F680} \u65e5\u672c"}\n\n',
  ': ping\n\n',
  'id: 42\nevent: patch\ndata: {"op":"put","kind":"flag","key":"k\u00fc","version":42}\n\n',
  // the kill sent ahead: same event, no id
  'event: patch\ndata: {"op":"put","kind":"flag","key":"kill-me","version":43}\n\n',
  'id: 43\r\nevent: delete\r\ndata: {"op":"delete","kind":"flag","key":"old","version":43}\r\n\r\n',
  'data: line one\ndata: line two\n\n',
].join('')

const EXPECTED: SseEvent[] = [
  {
    id: '41',
    event: 'put',
    data: '{"environment":"production","version":41,"note":"caf\u00e9 \u{1F680} \u65e5\u672c"}',
  },
  { id: '42', event: 'patch', data: '{"op":"put","kind":"flag","key":"k\u00fc","version":42}' },
  { id: undefined, event: 'patch', data: '{"op":"put","kind":"flag","key":"kill-me","version":43}' },
  { id: '43', event: 'delete', data: '{"op":"delete","kind":"flag","key":"old","version":43}' },
  { id: undefined, event: 'message', data: 'line one\nline two' },
]

/** Deterministic pseudo-random numbers (mulberry32), so a failing split can be reproduced. */
function prng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('readSse', () => {
  const bytes = encoder.encode(WIRE)

  it('reads a whole body in one chunk', async () => {
    const { events, activity } = await read([bytes])
    expect(events).toEqual(EXPECTED)
    expect(activity).toBeGreaterThanOrEqual(1)
  })

  it('gives the same events for a cut at every single byte offset', async () => {
    for (let offset = 1; offset < bytes.length; offset++) {
      const { events } = await read(cut(bytes, [offset]))
      expect(events, `cut at byte ${offset}`).toEqual(EXPECTED)
    }
  })

  it('gives the same events when every byte is its own chunk (multi-byte characters split apart)', async () => {
    const { events, activity } = await read(cut(bytes, [...bytes.keys()]))
    expect(events).toEqual(EXPECTED)
    expect(activity).toBeGreaterThanOrEqual(bytes.length)
  })

  it('gives the same events for random multi-cut splits', async () => {
    const random = prng(20_261_127)
    for (let round = 0; round < 200; round++) {
      const offsets = Array.from({ length: 1 + Math.floor(random() * 12) }, () => Math.floor(random() * bytes.length))
      const { events } = await read(cut(bytes, offsets))
      expect(events, `cuts at ${offsets.join(',')}`).toEqual(EXPECTED)
    }
  })

  it('splits inside each multi-byte character without producing replacement characters', async () => {
    const text = 'id: 1\nevent: patch\ndata: "\u00e9\u{1F680}\u65e5"\n\n'
    const all = encoder.encode(text)
    for (let offset = 1; offset < all.length; offset++) {
      const { events } = await read(cut(all, [offset, offset + 1, offset + 2]))
      expect(events).toEqual([{ id: '1', event: 'patch', data: '"\u00e9\u{1F680}\u65e5"' }])
      expect(events[0]!.data).not.toContain('\uFFFD')
    }
  })

  it('counts heartbeat comments as activity, and they never become events', async () => {
    const pings = [': ping\n\n', ': ping\n\n', ':\n\n'].map((s) => encoder.encode(s))
    const { events, activity } = await read(pings)
    expect(events).toEqual([])
    // every chunk is activity, and the comment itself is too
    expect(activity).toBeGreaterThanOrEqual(pings.length)
  })

  it('reports activity for every chunk, even ones that complete nothing', async () => {
    const seen: string[] = []
    await readSse(bodyOf(cut(encoder.encode('id: 7\nevent: put\ndata: {}\n\n'), [2, 9, 20])), {
      onEvent: (e) => seen.push(`event ${e.id}`),
      onActivity: () => seen.push('activity'),
    })
    expect(seen).toEqual(['activity', 'activity', 'activity', 'activity', 'event 7'])
  })

  it('does not carry an id over to a later event that has none', async () => {
    const { events } = await read([encoder.encode('id: 5\ndata: a\n\ndata: b\n\n')])
    expect(events.map((e) => e.id)).toEqual(['5', undefined])
  })

  it('resolves when the body ends and drops an unterminated trailing event', async () => {
    const { events } = await read([encoder.encode('id: 1\ndata: complete\n\nid: 2\ndata: half')])
    expect(events).toEqual([{ id: '1', event: 'message', data: 'complete' }])
  })

  it('rejects when the body errors, after delivering what came before, and releases the reader', async () => {
    const events: SseEvent[] = []
    const body = bodyOf([encoder.encode('id: 1\ndata: x\n\n')], new Error('connection reset'))
    await expect(readSse(body, { onEvent: (e) => events.push(e) })).rejects.toThrow('connection reset')
    expect(events).toHaveLength(1)
    expect(body.locked).toBe(false)
  })

  it('reads CR-only line ends, including a CR that ends a chunk', async () => {
    const wire = 'id: 1\revent: put\rdata: a\r\rdata: b\r\r'
    const bytes = encoder.encode(wire)
    const expected = [
      { id: '1', event: 'put', data: 'a' },
      { id: undefined, event: 'message', data: 'b' },
    ]
    for (let offset = 1; offset < bytes.length; offset++)
      expect((await read(cut(bytes, [offset]))).events, `cut at ${offset}`).toEqual(expected)
  })

  it('follows the spec on field syntax: a leading BOM, no space after the colon, a field with no colon', async () => {
    const wire = '\uFEFFdata:x\ndata\nid:9\nretry: 10\nunknown: y\n\n'
    const { events } = await read([encoder.encode(wire)])
    expect(events).toEqual([{ id: '9', event: 'message', data: 'x\n' }])
  })

  it('dispatches nothing for an event without data, and ignores an id holding NUL', async () => {
    const { events } = await read([encoder.encode('event: put\nid: 3\n\nid: 4\u0000\ndata: z\n\n')])
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'z' }])
  })

  it('works without an onActivity callback', async () => {
    const events: SseEvent[] = []
    await readSse(bodyOf([encoder.encode(': ping\n\ndata: x\n\n')]), { onEvent: (e) => events.push(e) })
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'x' }])
  })
})
