import { describe, expect, it } from 'vitest'
import { SseReader } from '../testing/sse-reader.js'
import { type CloseReason, encodeEvent, HEARTBEAT, SSE_HEADERS, SseConnection, type SseSink } from './sse.js'

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const chunk = (name: string, id?: number) => encodeEvent('patch', JSON.stringify({ key: name }), id)

/** A connection whose closes are recorded. */
function connection(maxQueuedBytes = 1024) {
  const closes: CloseReason[] = []
  const conn = new SseConnection(maxQueuedBytes, (reason) => closes.push(reason))
  return { conn, closes, reader: new SseReader(conn.body) }
}

describe('encodeEvent', () => {
  it('writes id, event and data lines and a blank line, byte for byte', () => {
    const bytes = encodeEvent('put', '{"flags":{}}', 7)
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(text(bytes)).toBe('id: 7\nevent: put\ndata: {"flags":{}}\n\n')
    expect([...bytes.slice(0, 7)]).toEqual([0x69, 0x64, 0x3a, 0x20, 0x37, 0x0a, 0x65])
  })

  it('leaves the id line out when there is no id (the copies that jump a backlog)', () => {
    expect(text(encodeEvent('patch', '{"op":"put"}'))).toBe('event: patch\ndata: {"op":"put"}\n\n')
    expect(text(encodeEvent('message', '{}', 'abc'))).toBe('id: abc\nevent: message\ndata: {}\n\n')
  })

  it('encodes the data as UTF-8, and JSON never puts a raw newline into a data line', () => {
    const data = JSON.stringify({ value: 'é\nnext line' })
    const bytes = encodeEvent('patch', data, 1)
    expect(text(bytes)).toBe('id: 1\nevent: patch\ndata: {"value":"é\\nnext line"}\n\n')
    // "é" is two bytes in UTF-8
    expect(bytes.byteLength).toBe('id: 1\nevent: patch\ndata: '.length + data.length + 1 + 2)
  })

  it('heartbeats are comments, and the headers keep proxies from buffering', () => {
    expect(text(HEARTBEAT)).toBe(': ping\n\n')
    expect(SSE_HEADERS).toEqual({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
  })
})

describe('SseConnection', () => {
  it('delivers what is sent, in order, as the consumer reads', async () => {
    const { conn, closes, reader } = connection()
    conn.send(chunk('a', 1))
    conn.send(chunk('b', 2))
    expect((await reader.next()).raw).toBe('id: 1\nevent: patch\ndata: {"key":"a"}\n\n')
    conn.send(chunk('c', 3))
    expect((await reader.next()).id).toBe('2')
    expect((await reader.next()).id).toBe('3')
    expect(await reader.collect(50)).toEqual([])
    expect(closes).toEqual([])
    await reader.cancel()
  })

  it('drops a consumer whose backlog passes the bound, once, as slow', async () => {
    const one = chunk('x', 1).byteLength
    const { conn, closes, reader } = connection(one * 3)
    conn.send(chunk('x', 1))
    conn.send(chunk('x', 2))
    conn.send(chunk('x', 3))
    expect(conn.isClosed).toBe(false)
    conn.send(chunk('x', 4))
    expect(conn.isClosed).toBe(true)
    expect(closes).toEqual(['slow'])
    // nothing was read: the backlog is thrown away and the stream ends
    expect(await reader.ends(500)).toBe(true)
    expect(reader.text).toBe('')
    conn.send(chunk('x', 5))
    expect(closes).toEqual(['slow'])
  })

  it('counts only what is still queued: a consumer that keeps reading is never dropped', async () => {
    const one = chunk('x', 1).byteLength
    const { conn, closes, reader } = connection(one * 2)
    for (let i = 1; i <= 50; i++) {
      conn.send(chunk('x', i))
      expect((await reader.next()).id).toBe(String(i))
    }
    expect(closes).toEqual([])
    await reader.cancel()
  })

  it('puts the id-less copy of an urgent event ahead of a backlog; the original still arrives in order', async () => {
    const { conn, reader } = connection()
    conn.send(chunk('a', 1))
    conn.send(chunk('b', 2))
    conn.send(chunk('c', 3))
    conn.send(encodeEvent('patch', '{"kill":true}', 4), encodeEvent('patch', '{"kill":true}'))
    const events = [
      await reader.next(),
      await reader.next(),
      await reader.next(),
      await reader.next(),
      await reader.next(),
    ]
    expect(events.map((e) => e.raw)).toEqual([
      'event: patch\ndata: {"kill":true}\n\n',
      'id: 1\nevent: patch\ndata: {"key":"a"}\n\n',
      'id: 2\nevent: patch\ndata: {"key":"b"}\n\n',
      'id: 3\nevent: patch\ndata: {"key":"c"}\n\n',
      'id: 4\nevent: patch\ndata: {"kill":true}\n\n',
    ])
    expect(await reader.collect(50)).toEqual([])
    await reader.cancel()
  })

  it('sends no copy to a consumer without a backlog', async () => {
    const { conn, reader } = connection()
    conn.send(chunk('a', 1))
    expect((await reader.next()).id).toBe('1')
    conn.send(encodeEvent('patch', '{"kill":true}', 2), encodeEvent('patch', '{"kill":true}'))
    expect((await reader.next()).raw).toBe('id: 2\nevent: patch\ndata: {"kill":true}\n\n')
    expect(await reader.collect(50)).toEqual([])
    await reader.cancel()
  })

  it('counts the copy against the bound too', async () => {
    const one = chunk('x', 1).byteLength
    const { conn, closes } = connection(one * 2)
    conn.send(chunk('x', 1))
    conn.send(chunk('x', 2), chunk('x'))
    expect(closes).toEqual(['slow'])
  })

  it('close is idempotent and fires onClose once, whoever closes first', async () => {
    const { conn, closes, reader } = connection()
    conn.send(chunk('a', 1))
    conn.close('revoked')
    conn.close('shutdown')
    conn.close('slow')
    await reader.cancel()
    expect(closes).toEqual(['revoked'])
    expect(conn.isClosed).toBe(true)
    conn.send(chunk('b', 2))
    expect(closes).toEqual(['revoked'])
  })

  it('a consumer that goes away cancels the body: onClose("client") once, later closes do nothing', async () => {
    const { conn, closes, reader } = connection()
    conn.send(chunk('a', 1))
    await reader.next()
    await reader.cancel()
    expect(closes).toEqual(['client'])
    conn.close('revoked')
    conn.send(chunk('b', 2))
    expect(closes).toEqual(['client'])
  })

  it('ends the stream for a consumer that is reading when the server closes it', async () => {
    const { conn, reader } = connection()
    conn.send(chunk('a', 1))
    expect((await reader.next()).id).toBe('1')
    const ended = reader.ends(1000)
    conn.close('shutdown')
    expect(await ended).toBe(true)
  })

  it('lets one event larger than the bound through to a consumer with nothing queued (a big put)', async () => {
    const big = encodeEvent('put', JSON.stringify({ members: 'x'.repeat(5000) }), 1)
    const { conn, closes, reader } = connection(1024)
    conn.send(big)
    expect(closes).toEqual([])
    expect((await reader.next()).raw).toBe(new TextDecoder().decode(big))
    // behind it, the bound holds as before
    conn.send(big)
    conn.send(chunk('x', 2))
    expect(closes).toEqual(['slow'])
  })

  it('drops a consumer that takes nothing for two heartbeats (a socket gone without a cancel)', async () => {
    const { conn, closes, reader } = connection()
    conn.send(chunk('a', 1))
    expect((await reader.next()).id).toBe('1')
    // the consumer stops reading and never cancels
    for (let i = 0; i < 5 && !conn.isClosed; i++) conn.heartbeat()
    expect(closes).toEqual(['slow'])
  })

  it('keeps a consumer that reads between heartbeats, however long it stays open', async () => {
    const { conn, closes, reader } = connection()
    for (let i = 0; i < 20; i++) {
      conn.heartbeat()
      expect(await reader.block()).toBe(': ping\n\n')
    }
    // a slow but live consumer: a backlog that shrinks between heartbeats
    for (let i = 1; i <= 6; i++) conn.send(chunk('x', i))
    for (let i = 0; i < 6; i++) {
      conn.heartbeat()
      await reader.next()
    }
    expect(closes).toEqual([])
    await reader.cancel()
  })
})

/** A sink like Node's response: takes writes until `highWater` bytes wait in it, then asks us to wait for `drain()`. */
function fakeSink(highWater: number) {
  const written: Uint8Array[] = []
  let buffered = 0
  let connection: SseConnection | undefined
  const sink: SseSink = {
    write: (chunk) => {
      written.push(chunk)
      buffered += chunk.byteLength
      return buffered < highWater
    },
    buffered: () => buffered,
    end: () => {},
  }
  return {
    written,
    attach: (conn: SseConnection) => {
      connection = conn
      conn.attach(sink, true)
    },
    /** The consumer takes everything handed over. */
    drain: () => {
      buffered = 0
      connection?.resume()
    },
  }
}

describe('SseConnection with a sink that takes writes directly (the Node path)', () => {
  const sized = (n: number, id?: number) => encodeEvent('patch', JSON.stringify({ pad: 'x'.repeat(n) }), id)

  it('writes while the sink takes them, then queues, counting what the sink still holds against the bound', () => {
    const closes: CloseReason[] = []
    const conn = new SseConnection(3000, (reason) => closes.push(reason))
    const sink = fakeSink(1000)
    sink.attach(conn)
    conn.send(sized(400, 1))
    conn.send(sized(800, 2))
    // the sink holds ~1.2 KB and asked us to wait: this one waits in our queue
    conn.send(sized(800, 3))
    expect(sink.written).toHaveLength(2)
    expect(closes).toEqual([])
    // 1.2 KB held + 0.8 KB queued + 1.2 KB more passes 3 KB
    conn.send(sized(1200, 4))
    expect(closes).toEqual(['slow'])
  })

  it('hands the queue over on drain, urgent copies first', () => {
    const conn = new SseConnection(1 << 20, () => {})
    const sink = fakeSink(100)
    sink.attach(conn)
    conn.send(sized(200, 1))
    conn.send(sized(10, 2))
    conn.send(sized(10, 3), sized(10))
    expect(sink.written).toHaveLength(1)
    sink.drain()
    expect(sink.written.map((c) => /^id: (\d+)/.exec(text(c))?.[1] ?? 'copy')).toEqual(['1', 'copy', '2', '3'])
  })

  it('lets an event larger than the bound through to a sink that takes writes, though it still holds a little', () => {
    const closes: CloseReason[] = []
    const conn = new SseConnection(1024, (reason) => closes.push(reason))
    const sink = fakeSink(16 * 1024)
    sink.attach(conn)
    conn.send(sized(100, 1))
    conn.send(sized(5000, 2))
    expect(closes).toEqual([])
    expect(sink.written).toHaveLength(2)
  })

  it('drops a sink that holds bytes it never takes, at the second heartbeat; one that drains in between stays', () => {
    const closes: CloseReason[] = []
    const stuck = new SseConnection(1 << 20, (reason) => closes.push(reason))
    const stuckSink = fakeSink(10)
    stuckSink.attach(stuck)
    const live = new SseConnection(1 << 20, (reason) => closes.push(reason))
    const liveSink = fakeSink(10)
    liveSink.attach(live)
    for (const conn of [stuck, live]) conn.send(sized(100, 1))
    stuck.heartbeat()
    live.heartbeat()
    liveSink.drain()
    stuck.heartbeat()
    live.heartbeat()
    expect(closes).toEqual(['slow'])
    expect(stuck.isClosed).toBe(true)
    expect(live.isClosed).toBe(false)
  })
})
