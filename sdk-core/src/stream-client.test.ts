/**
 * StreamClient against a fake platform (scripted `fetch` with real Responses, a manual clock): backoff with full
 * jitter, the heartbeat watchdog, fatal answers, stop/restart/interrupt, all without sleeping. Then against a real
 * loopback HTTP server, where the wire is real and only chance is fixed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { fakePlatform, never, settle, sseResponse } from './fakes.test-support.js'
import { HttpError } from './http-error.js'
import { defaultPlatform } from './platform.js'
import type { SseEvent } from './sse.js'
import { StreamClient, type StreamClientOptions } from './stream-client.js'

const URL_ = 'http://vane.test/stream'

/** A client on a fake platform, with everything it reports recorded. */
function setup(overrides: Partial<StreamClientOptions> = {}, random: () => number = () => 0.5) {
  const { clock, http, platform } = fakePlatform(random)
  const log = { events: [] as SseEvent[], opened: 0, interrupted: [] as [string, number][], fatal: [] as HttpError[] }
  const client = new StreamClient({
    platform,
    request: () => ({ url: URL_, init: { headers: { authorization: 'Bearer k' } } }),
    onEvent: (e) => log.events.push(e),
    onOpen: () => log.opened++,
    onInterrupted: (error, failures) => log.interrupted.push([error.message, failures]),
    onFatal: (error) => log.fatal.push(error),
    ...overrides,
  })
  const streams = () => http.requests.map((r) => r.stream)
  return { clock, http, client, log, streams }
}

const open: StreamClient[] = []
afterEach(() => {
  for (const client of open.splice(0)) client.stop()
})

function started(t: ReturnType<typeof setup>): ReturnType<typeof setup> {
  open.push(t.client)
  t.client.start()
  return t
}

describe('StreamClient: connecting and events', () => {
  it('asks with the request it is given, adds a signal, reports the open and each event', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    expect(t.http.requests).toHaveLength(1)
    expect(t.http.requests[0]).toMatchObject({ url: URL_, headers: { authorization: 'Bearer k' } })
    expect(t.http.requests[0]!.signal).toBeInstanceOf(AbortSignal)
    expect(t.log.opened).toBe(1)
    t.http.requests[0]!.stream!.event('put', { v: 1 }, 1)
    await settle()
    expect(t.log.events).toEqual([{ event: 'put', data: '{"v":1}', id: '1' }])
  })

  it('builds the request anew for every attempt (so it can carry the latest Last-Event-ID)', async () => {
    let n = 0
    const t = setup({ request: () => ({ url: URL_, init: { headers: { 'last-event-id': String(++n) } } }) })
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    t.http.requests[0]!.stream!.end()
    await t.clock.advance(500)
    expect(t.http.requests.map((r) => r.headers['last-event-id'])).toEqual(['1', '2'])
  })

  it('closes the response when handling an event throws, before it retries', async () => {
    const t = setup({
      onEvent: () => {
        throw new Error('handler failed')
      },
    })
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    t.http.requests[0]!.stream!.event('put', { v: 1 }, 1)
    await settle()
    expect(t.log.interrupted).toEqual([['handler failed', 1]])
    expect(t.http.requests[0]!.signal!.aborted).toBe(true)
  })

  it('start() while running does nothing', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    t.client.start()
    await settle()
    expect(t.http.requests).toHaveLength(1)
    expect(t.client.running).toBe(true)
  })
})

describe('StreamClient: backoff', () => {
  it('reconnects after the stream ends, waiting random() × 1 s, then × 2 s (full jitter)', async () => {
    const t = started(setup())
    t.http.handler = (r) => sseResponse(r).response
    await settle()
    t.http.requests[0]!.stream!.end()
    await settle()
    expect(t.log.interrupted).toEqual([['stream ended', 1]])
    await t.clock.advance(499)
    expect(t.http.requests).toHaveLength(1)
    await t.clock.advance(1)
    expect(t.http.requests[1]!.at).toBe(500)
    t.http.requests[1]!.stream!.fail(new TypeError('socket hang up'))
    await t.clock.advance(1_000)
    expect(t.log.interrupted).toEqual([
      ['stream ended', 1],
      ['socket hang up', 2],
    ])
    expect(t.http.requests.map((r) => r.at)).toEqual([0, 500, 1_500])
  })

  it('retries 408, 429, 5xx, 404 and network errors with doubling ceilings, capped at 30 s', async () => {
    const statuses = [408, 429, 500, 502, 503, 404]
    const t = setup({}, () => 0.999)
    t.http.handler = () => {
      const status = statuses.shift()
      if (status === undefined) throw new TypeError('fetch failed')
      return new Response('busy', { status })
    }
    started(t)
    await t.clock.advance(200_000)
    const at = t.http.requests.map((r) => r.at)
    const waits = at.slice(1).map((a, i) => a - at[i]!)
    expect(waits.slice(0, 8)).toEqual([999, 1_998, 3_996, 7_992, 15_984, 29_970, 29_970, 29_970])
    expect(t.log.interrupted.slice(0, 7).map(([message]) => message)).toEqual([
      'stream answered 408',
      'stream answered 429',
      'stream answered 500',
      'stream answered 502',
      'stream answered 503',
      'stream answered 404',
      'fetch failed',
    ])
    expect(t.log.fatal).toEqual([])
  })

  it('hands the HTTP status over as an HttpError, and cancels the unread error body', async () => {
    const errors: Error[] = []
    const t = setup({ onInterrupted: (e) => errors.push(e) })
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      cancel: () => {
        cancelled = true
      },
    })
    t.http.handler = () => new Response(body, { status: 503 })
    started(t)
    await settle()
    expect(errors[0]).toBeInstanceOf(HttpError)
    expect((errors[0] as HttpError).status).toBe(503)
    expect(cancelled).toBe(true)
  })

  it('forgives earlier failures once data arrives: the next wait starts from 1 s again', async () => {
    const t = setup()
    const answers = [503, 503, 503]
    t.http.handler = (r) => {
      const status = answers.shift()
      return status === undefined ? sseResponse(r).response : new Response('', { status })
    }
    started(t)
    await t.clock.advance(3_500)
    expect(t.log.interrupted.map(([, n]) => n)).toEqual([1, 2, 3])
    const stream = t.http.requests[3]!.stream!
    stream.event('put', {}, 1)
    stream.end()
    await settle()
    expect(t.log.interrupted.at(-1)).toEqual(['stream ended', 1])
  })

  it('resets after a connection healthy for 60 s, not before', async () => {
    const t = setup()
    let ok = false
    t.http.handler = (r) => (ok ? sseResponse(r).response : new Response('', { status: 500 }))
    started(t)
    await t.clock.advance(3_500)
    expect(t.log.interrupted.map(([, n]) => n)).toEqual([1, 2, 3, 4])
    ok = true
    await t.clock.advance(4_000)
    expect(t.log.opened).toBe(1)
    /** Keeps the open stream alive with four heartbeats `every` ms apart (no events), then ends it. */
    const heartbeatsThenEnd = async (every: number) => {
      for (let i = 0; i < 4; i++) {
        await t.clock.advance(every)
        t.http.requests.at(-1)!.stream!.ping()
      }
      t.http.requests.at(-1)!.stream!.end()
      await settle()
    }
    // healthy for 59.996 s: the next failure still counts on
    await heartbeatsThenEnd(14_999)
    expect(t.log.interrupted.at(-1)).toEqual(['stream ended', 5])
    // this time healthy for a whole minute: it starts over
    await t.clock.advance(16_000)
    expect(t.log.opened).toBe(2)
    await heartbeatsThenEnd(15_000)
    expect(t.log.interrupted.at(-1)).toEqual(['stream ended', 1])
  })

  it('takes its own start, cap and reset period', async () => {
    const t = setup({ backoff: { initialMs: 100, maxMs: 250 } })
    t.http.handler = () => new Response('', { status: 500 })
    started(t)
    await t.clock.advance(1_000)
    const at = t.http.requests.map((r) => r.at)
    expect(at.slice(0, 5)).toEqual([0, 50, 150, 275, 400])
  })
})

describe('StreamClient: the heartbeat watchdog', () => {
  it('drops a stream silent for heartbeatTimeoutMs and reconnects; any bytes keep it alive', async () => {
    const t = setup({ heartbeatTimeoutMs: 1_000, silenceMessage: 'silent' })
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    const first = t.http.requests[0]!.stream!
    for (let i = 0; i < 3; i++) {
      await t.clock.advance(900)
      first.ping()
    }
    await t.clock.advance(800)
    first.push('id: 1\nevent: put\n')
    await t.clock.advance(999)
    expect(t.log.interrupted).toEqual([])
    await t.clock.advance(1)
    expect(t.log.interrupted).toEqual([['silent', 1]])
    expect(first.closed).toBe(true)
    expect(t.http.requests[0]!.signal!.aborted).toBe(true)
    await t.clock.advance(500)
    expect(t.http.requests).toHaveLength(2)
  })

  it('gives up on a server that accepts and never answers, after heartbeatTimeoutMs (default message)', async () => {
    const t = setup({ heartbeatTimeoutMs: 2_000 })
    t.http.handler = never
    started(t)
    await t.clock.advance(1_999)
    expect(t.log.interrupted).toEqual([])
    await t.clock.advance(1)
    expect(t.log.interrupted).toEqual([['no heartbeat', 1]])
  })

  it('waits 45 s by default', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await t.clock.advance(44_999)
    expect(t.log.interrupted).toEqual([])
    await t.clock.advance(1)
    expect(t.log.interrupted).toHaveLength(1)
  })
})

describe('StreamClient: fatal answers', () => {
  for (const status of [401, 403])
    it(`stops for good on ${status}: onFatal with the status, no timer left, no request ever again`, async () => {
      const t = setup()
      t.http.handler = () => new Response('{"title":"refused"}', { status })
      started(t)
      await settle()
      expect(t.log.fatal).toHaveLength(1)
      expect(t.log.fatal[0]).toBeInstanceOf(HttpError)
      expect(t.log.fatal[0]!.status).toBe(status)
      expect(t.log.interrupted).toEqual([])
      expect(t.client.running).toBe(false)
      expect(t.clock.pending).toBe(0)
      await t.clock.advance(24 * 3_600_000)
      expect(t.http.requests).toHaveLength(1)
    })

  it('isFatal decides which statuses stop it: a caller may retry even 401', async () => {
    const t = setup({ isFatal: () => false })
    t.http.handler = () => new Response('', { status: 401 })
    started(t)
    await t.clock.advance(1_500)
    expect(t.log.fatal).toEqual([])
    expect(t.log.interrupted.map(([m]) => m)).toEqual(Array(3).fill('stream answered 401'))
    expect(t.http.requests).toHaveLength(3)
  })

  it('start() after a fatal answer tries again (a new key or context)', async () => {
    const t = setup()
    t.http.answer('/stream', new Response('', { status: 401 }), 'stream')
    started(t)
    await settle()
    expect(t.client.running).toBe(false)
    t.client.start()
    await settle()
    expect(t.log.opened).toBe(1)
  })
})

describe('StreamClient: stop, restart, interrupt', () => {
  it('stop() aborts the open stream, clears every timer and reports nothing', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    t.client.stop()
    expect(t.client.running).toBe(false)
    expect(t.http.requests[0]!.signal!.aborted).toBe(true)
    expect(t.clock.pending).toBe(0)
    await t.clock.advance(3_600_000)
    expect([t.http.requests.length, t.log.interrupted.length]).toEqual([1, 0])
  })

  it('stop() cancels a pending retry; so does stopping from onInterrupted (to poll instead)', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    t.http.requests[0]!.stream!.end()
    await settle()
    expect(t.clock.pending).toBe(1)
    t.client.stop()
    expect(t.clock.pending).toBe(0)

    const u = setup({ onInterrupted: () => u.client.stop() })
    u.http.handler = () => new Response('', { status: 500 })
    started(u)
    await u.clock.advance(60_000)
    expect(u.http.requests).toHaveLength(1)
    expect(u.clock.pending).toBe(0)
  })

  it('restart() drops the connection at once, and the old one delivers nothing more even if it goes on', async () => {
    const t = setup()
    t.http.ignoreAbort = true
    t.http.handler = (r) => t.http.streamResponse(r)
    started(t)
    await settle()
    const old = t.http.requests[0]!.stream!
    t.client.restart()
    await settle()
    expect(t.http.requests).toHaveLength(2)
    expect(t.http.requests[0]!.signal!.aborted).toBe(true)
    old.event('put', { from: 'old' }, 1)
    t.http.requests[1]!.stream!.event('put', { from: 'new' }, 1)
    await settle()
    expect(t.log.events.map((e) => e.data)).toEqual(['{"from":"new"}'])
    old.end()
    await settle()
    expect(t.log.interrupted).toEqual([])
  })

  it('interrupt(error) fails the connection with that error, then retries', async () => {
    const t = setup()
    t.http.handler = (r) => sseResponse(r).response
    started(t)
    await settle()
    t.client.interrupt(new Error('a gap; resuming'))
    await settle()
    expect(t.log.interrupted).toEqual([['a gap; resuming', 1]])
    await t.clock.advance(500)
    expect(t.http.requests).toHaveLength(2)
  })
})

describe('StreamClient over a real loopback HTTP server', () => {
  const servers: ReturnType<typeof createServer>[] = []
  afterEach(async () => {
    for (const client of open.splice(0)) client.stop()
    for (const server of servers) server.closeAllConnections()
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))))
  })

  async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<string> {
    let n = 0
    const server = createServer((req, res) => handler(req, res, n++))
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`
  }

  /** A client on the real platform but with no jitter (random() = 0: every wait is 0 ms). */
  function client(url: string, overrides: Partial<StreamClientOptions> = {}) {
    const seen: string[] = []
    let last: string | undefined
    let notify = () => {}
    const until = (n: number) =>
      new Promise<void>((resolve) => {
        notify = () => seen.length >= n && resolve()
        notify()
      })
    const stream = new StreamClient({
      platform: { ...defaultPlatform, random: () => 0 },
      request: () => ({ url, init: { headers: last === undefined ? {} : { 'last-event-id': last } } }),
      onEvent: (e) => {
        last = e.id ?? last
        seen.push(`${e.event} ${e.id} ${e.data}`)
        notify()
      },
      onInterrupted: (error) => {
        seen.push(`interrupted: ${error.message}`)
        notify()
      },
      onFatal: (error) => {
        seen.push(`fatal ${error.status}`)
        notify()
      },
      ...overrides,
    })
    open.push(stream)
    stream.start()
    return { seen, until, stream }
  }

  it('reads events, reconnects when the server closes, resumes with Last-Event-ID', async () => {
    const asked: (string | undefined)[] = []
    const url = await serve((req, res, n) => {
      asked.push(req.headers['last-event-id'] as string | undefined)
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      if (n === 0) res.end(': ping\n\nid: 41\nevent: put\ndata: {"v":41}\n\nid: 42\nevent: patch\ndata: {"v":42}\n\n')
      else res.write(`id: ${42 + n}\nevent: patch\ndata: {"v":${42 + n}}\n\n`)
    })
    const c = client(url)
    await c.until(4)
    expect(c.seen).toEqual(['put 41 {"v":41}', 'patch 42 {"v":42}', 'interrupted: stream ended', 'patch 43 {"v":43}'])
    expect(asked).toEqual([undefined, '42'])
  })

  it('stops for good on a refused key', async () => {
    let requests = 0
    const url = await serve((_req, res) => {
      requests++
      res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"title":"Unauthorized"}')
    })
    const c = client(url)
    await c.until(1)
    expect(c.seen).toEqual(['fatal 401'])
    expect(c.stream.running).toBe(false)
    expect(requests).toBe(1)
  })

  it('drops a connection that sends headers and then nothing, and tries again', async () => {
    const url = await serve((_req, res, n) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      if (n === 0) res.flushHeaders()
      else res.write('id: 1\nevent: put\ndata: {}\n\n')
    })
    const c = client(url, { heartbeatTimeoutMs: 50 })
    await c.until(2)
    expect(c.seen).toEqual(['interrupted: no heartbeat', 'put 1 {}'])
  })
})
