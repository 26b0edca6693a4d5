/**
 * DataSource against a fake platform: scripted `fetch` answers (real Responses, bodies the test writes) and a
 * manual clock. Reconnect timing, Last-Event-ID, the heartbeat timeout it sets, the switch to polling (ETag, 304)
 * and back, fatal 401/403, and bad events, all without sleeping. The stream loop's own mechanics (the watchdog
 * re-armed by every byte, backoff resets) are tested with it in sdk-core.
 */
import type { SnapshotPatch } from '@vane/engine'
import { HttpError } from '@vane/sdk-core'
import {
  type FakeBody,
  type FakeRequest,
  fakePlatform,
  jsonResponse,
  never,
  settle,
  sseResponse,
} from '@vane/sdk-core/fakes'
import { afterEach, describe, expect, it } from 'vitest'
import { DataSource, type DataSourceOptions } from './data-source.js'

const URL_BASE = 'http://vane.test'
const STREAM = '/sdk/v1/stream'
const SNAPSHOT = '/sdk/v1/snapshot'

const snapshot = (version: number) => ({ environment: 'production', version, flags: {}, cohorts: {} })
const patchAt = (version: number): SnapshotPatch => ({ op: 'delete', kind: 'flag', key: `gone-${version}`, version })

/** A data source on a fake platform, with everything it reports recorded. */
function setup(overrides: Partial<DataSourceOptions> = {}, random: () => number = () => 0.5) {
  const { clock, http, platform } = fakePlatform(random)
  const log = {
    puts: [] as unknown[],
    patches: [] as { patch: SnapshotPatch; id: number | undefined }[],
    connected: [] as ('stream' | 'poll')[],
    interrupted: [] as Error[],
    fatal: [] as Error[],
    bad: [] as Error[],
  }
  let version: number | undefined
  const bodies: FakeBody[] = []
  /** Answers stream requests with a fresh SSE body each (kept in `bodies`). */
  const streamOk = (request: FakeRequest) => {
    const { response, body } = sseResponse(request)
    bodies.push(body)
    return response
  }
  const source = new DataSource({
    url: URL_BASE,
    sdkKey: 'vane_server_test',
    platform,
    heartbeatTimeoutMs: 45_000,
    failuresBeforePolling: 3,
    pollIntervalMs: 30_000,
    retryStreamAfterMs: 300_000,
    stream: true,
    onPut: (s) => {
      log.puts.push(s)
      version = (s as { version: number }).version
    },
    onPatch: (patch, id) => {
      log.patches.push({ patch, id })
      if (id !== undefined) version = id
    },
    lastVersion: () => version,
    onConnected: (mode) => log.connected.push(mode),
    onInterrupted: (error) => log.interrupted.push(error),
    onFatal: (error) => log.fatal.push(error),
    onBadEvent: (error) => log.bad.push(error),
    ...overrides,
  })
  return { clock, http, source, log, bodies, streamOk }
}

let running: DataSource | undefined
afterEach(() => {
  running?.stop()
  running = undefined
})

describe('DataSource: streaming', () => {
  it('connects with the key and asks for an event stream, without Last-Event-ID the first time', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    expect(t.http.requests).toHaveLength(1)
    const [request] = t.http.requests
    expect(request!.url).toBe(`${URL_BASE}${STREAM}`)
    expect(request!.headers.authorization).toBe('Bearer vane_server_test')
    expect(request!.headers.accept).toBe('text/event-stream')
    expect(request!.headers['last-event-id']).toBeUndefined()
    expect(t.log.connected).toEqual(['stream'])
  })

  it('delivers put and patch events with their numeric ids', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.event('put', snapshot(41), 41)
    t.bodies[0]!.event('patch', patchAt(42), 42)
    t.bodies[0]!.event('delete', patchAt(43), 43)
    t.bodies[0]!.event('patch', patchAt(44))
    await settle()
    expect(t.log.puts).toEqual([snapshot(41)])
    expect(t.log.patches).toEqual([
      { patch: patchAt(42), id: 42 },
      { patch: patchAt(43), id: 43 },
      { patch: patchAt(44), id: undefined },
    ])
  })

  it('reconnects after the stream ends, waiting random() × 1 s, then × 2 s (full jitter)', async () => {
    const t = setup({ failuresBeforePolling: 10 })
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.end()
    await settle()
    expect(t.log.interrupted.map((e) => e.message)).toEqual(['stream ended'])
    await t.clock.advance(499)
    expect(t.http.requests).toHaveLength(1)
    await t.clock.advance(1)
    expect(t.http.requests).toHaveLength(2)
    expect(t.http.requests[1]!.at).toBe(500)

    t.bodies[1]!.fail(new TypeError('socket hang up'))
    await settle()
    expect(t.log.interrupted.map((e) => e.message)).toEqual(['stream ended', 'socket hang up'])
    await t.clock.advance(999)
    expect(t.http.requests).toHaveLength(2)
    await t.clock.advance(1)
    expect(t.http.requests).toHaveLength(3)
    expect(t.http.requests[2]!.at).toBe(1_500)
  })

  it('retries after an HTTP error or a refused connection, with growing waits', async () => {
    const t = setup({ failuresBeforePolling: 10 })
    const answers = [() => new Response('busy', { status: 503 }), () => Promise.reject(new TypeError('fetch failed'))]
    t.http.handler = () => (answers.shift() ?? (() => new Response('down', { status: 500 })))()
    running = t.source
    t.source.start()
    await t.clock.advance(10_000)
    const times = t.http.requests.map((r) => r.at)
    // waits of 500, 1000, 2000, 4000 ms: each failure doubles the ceiling
    expect(times).toEqual([0, 500, 1_500, 3_500, 7_500])
    expect(t.log.interrupted[0]).toBeInstanceOf(HttpError)
    expect((t.log.interrupted[0] as HttpError).status).toBe(503)
    expect(t.log.interrupted[1]!.message).toBe('fetch failed')
    expect(t.log.fatal).toEqual([])
  })

  it('sends Last-Event-ID with the last version seen when it reconnects', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.event('put', snapshot(41), 41)
    t.bodies[0]!.event('patch', patchAt(42), 42)
    await settle()
    t.bodies[0]!.fail(new TypeError('terminated'))
    await t.clock.advance(500)
    expect(t.http.requests).toHaveLength(2)
    expect(t.http.requests[1]!.headers['last-event-id']).toBe('42')

    t.bodies[1]!.event('patch', patchAt(43), 43)
    await settle()
    t.bodies[1]!.end()
    await t.clock.advance(1_000)
    expect(t.http.requests).toHaveLength(3)
    expect(t.http.requests[2]!.headers['last-event-id']).toBe('43')
  })

  it('gives up on a server that accepts but never answers the headers, after heartbeatTimeoutMs', async () => {
    const t = setup({ heartbeatTimeoutMs: 2_000, failuresBeforePolling: 10 })
    t.http.handler = never
    running = t.source
    t.source.start()
    await t.clock.advance(1_999)
    expect(t.log.interrupted).toEqual([])
    await t.clock.advance(1)
    expect(t.log.interrupted.map((e) => e.message)).toEqual(['no heartbeat'])
    await t.clock.advance(500)
    expect(t.http.requests).toHaveLength(2)
  })

  it('reports a malformed event and keeps the same stream going', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    const body = t.bodies[0]!
    body.event('put', snapshot(1), 1)
    body.push('id: 2\nevent: patch\ndata: {"op":"put",\n\n')
    body.push('id: 3\nevent: put\ndata: not json\n\n')
    body.event('patch', patchAt(4), 4)
    await settle()
    expect(t.log.bad).toHaveLength(2)
    expect(t.log.bad.every((e) => e instanceof SyntaxError)).toBe(true)
    expect(t.log.patches).toEqual([{ patch: patchAt(4), id: 4 }])
    expect(t.log.interrupted).toEqual([])
    expect(t.http.requests).toHaveLength(1)
    expect(body.closed).toBe(false)
  })

  it('reports a handler that throws as a bad event, and the stream goes on', async () => {
    const t = setup({
      onPatch: () => {
        throw new Error('cannot apply')
      },
    })
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.event('patch', patchAt(2), 2)
    t.bodies[0]!.event('put', snapshot(3), 3)
    await settle()
    expect(t.log.bad.map((e) => e.message)).toEqual(['cannot apply'])
    expect(t.log.puts).toEqual([snapshot(3)])
    expect(t.http.requests).toHaveLength(1)
  })

  it('ignores events it does not know and ids that are not versions', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.push('event: hello\ndata: {}\n\n')
    t.bodies[0]!.push(`id: abc\nevent: patch\ndata: ${JSON.stringify(patchAt(5))}\n\n`)
    await settle()
    expect(t.log.bad).toEqual([])
    expect(t.log.patches).toEqual([{ patch: patchAt(5), id: undefined }])
  })
})

describe('DataSource: fatal answers', () => {
  for (const status of [401, 403]) {
    it(`stops for good on ${status} from the stream: onFatal, and no request ever again`, async () => {
      const t = setup()
      t.http.handler = () => new Response('{"title":"Unauthorized"}', { status })
      running = t.source
      t.source.start()
      await settle()
      expect(t.log.fatal).toHaveLength(1)
      expect(t.log.fatal[0]).toBeInstanceOf(HttpError)
      expect((t.log.fatal[0] as HttpError).status).toBe(status)
      expect(t.log.interrupted).toEqual([])
      await t.clock.advance(24 * 3_600_000)
      expect(t.http.requests).toHaveLength(1)
      expect(t.clock.pending).toBe(0)
    })
  }

  it('stops for good on 401 from the snapshot while polling', async () => {
    const t = setup({ stream: false })
    t.http.handler = () => new Response('', { status: 401 })
    running = t.source
    t.source.start()
    await settle()
    expect(t.http.to(SNAPSHOT)).toHaveLength(1)
    expect(t.log.fatal).toHaveLength(1)
    await t.clock.advance(24 * 3_600_000)
    expect(t.http.requests).toHaveLength(1)
    expect(t.clock.pending).toBe(0)
  })

  it('stops for good on 401 after reconnecting (a key revoked while streaming)', async () => {
    const t = setup()
    let revoked = false
    t.http.handler = (request) => (revoked ? new Response('', { status: 401 }) : t.streamOk(request))
    running = t.source
    t.source.start()
    await settle()
    t.bodies[0]!.event('put', snapshot(1), 1)
    revoked = true
    t.bodies[0]!.end()
    await t.clock.advance(60_000)
    expect(t.http.requests).toHaveLength(2)
    expect(t.log.fatal).toHaveLength(1)
    expect(t.log.interrupted.map((e) => e.message)).toEqual(['stream ended'])
    await t.clock.advance(3_600_000)
    expect(t.http.requests).toHaveLength(2)
  })
})

describe('DataSource: polling fallback', () => {
  const etag = (v: number) => `"production-${v}"`

  /** Streams fail with 500; snapshots answer 304 when If-None-Match matches `current`, else 200 with an ETag. */
  function failingStreamServer(t: ReturnType<typeof setup>, current: { version: number; streamOk: boolean }) {
    t.http.handler = (request) => {
      if (request.path === STREAM)
        return current.streamOk ? t.streamOk(request) : new Response('upstream down', { status: 500 })
      if (request.headers['if-none-match'] === etag(current.version))
        return new Response(null, { status: 304, headers: { etag: etag(current.version) } })
      return jsonResponse(snapshot(current.version), 200, { etag: etag(current.version) })
    }
  }

  it('polls the snapshot after 3 stream failures, with If-None-Match, and a 304 changes nothing', async () => {
    const t = setup({ pollIntervalMs: 1_000 }, () => 0)
    const server = { version: 7, streamOk: false }
    failingStreamServer(t, server)
    running = t.source
    t.source.start()
    await t.clock.advance(0)
    expect(t.http.to(STREAM)).toHaveLength(3)
    expect(t.http.to(SNAPSHOT)).toHaveLength(1)
    expect(t.http.to(SNAPSHOT)[0]!.headers['if-none-match']).toBeUndefined()
    expect(t.log.puts).toEqual([snapshot(7)])
    expect(t.log.connected).toEqual(['poll'])

    await t.clock.advance(1_000)
    const polls = t.http.to(SNAPSHOT)
    expect(polls).toHaveLength(2)
    expect(polls[1]!.headers['if-none-match']).toBe(etag(7))
    expect(polls[1]!.headers.authorization).toBe('Bearer vane_server_test')
    expect(t.log.puts).toHaveLength(1)
    expect(t.log.connected).toEqual(['poll', 'poll'])

    server.version = 8
    await t.clock.advance(1_000)
    expect(t.log.puts).toEqual([snapshot(7), snapshot(8)])
    await t.clock.advance(1_000)
    expect(t.http.to(SNAPSHOT).at(-1)!.headers['if-none-match']).toBe(etag(8))
    expect(t.log.puts).toHaveLength(2)
    // still polling, not hammering the stream
    expect(t.http.to(STREAM)).toHaveLength(3)
  })

  it('keeps polling through failed polls', async () => {
    const t = setup({ stream: false, pollIntervalMs: 1_000 })
    let fail = true
    t.http.handler = () =>
      fail ? new Response('', { status: 502 }) : jsonResponse(snapshot(3), 200, { etag: etag(3) })
    running = t.source
    t.source.start()
    await t.clock.advance(2_000)
    expect(t.http.to(SNAPSHOT)).toHaveLength(3)
    expect(t.log.interrupted).toHaveLength(3)
    fail = false
    await t.clock.advance(1_000)
    expect(t.log.puts).toEqual([snapshot(3)])
    expect(t.http.to(STREAM)).toHaveLength(0)
  })

  it('goes back to streaming after retryStreamAfterMs, and stops polling once the stream is up', async () => {
    const t = setup({ pollIntervalMs: 1_000, retryStreamAfterMs: 10_000 }, () => 0)
    const server = { version: 7, streamOk: false }
    failingStreamServer(t, server)
    running = t.source
    t.source.start()
    await t.clock.advance(0)
    expect(t.http.to(STREAM)).toHaveLength(3)
    server.streamOk = true
    await t.clock.advance(9_999)
    expect(t.http.to(STREAM)).toHaveLength(3)
    await t.clock.advance(1)
    expect(t.http.to(STREAM)).toHaveLength(4)
    expect(t.http.to(STREAM)[3]!.at).toBe(10_000)
    expect(t.http.to(STREAM)[3]!.headers['last-event-id']).toBe('7')
    expect(t.log.connected.at(-1)).toBe('stream')
    const polls = t.http.to(SNAPSHOT).length
    // the server's heartbeats keep the stream alive; no more polls while it is
    for (let i = 0; i < 8; i++) {
      await t.clock.advance(15_000)
      t.bodies[0]!.push(': ping\n\n')
    }
    expect(t.http.to(SNAPSHOT)).toHaveLength(polls)
    expect(t.http.to(STREAM)).toHaveLength(4)
  })

  it('returns to polling when the stream retry fails, and tries the stream again later', async () => {
    const t = setup({ pollIntervalMs: 1_000, retryStreamAfterMs: 5_000 }, () => 0)
    failingStreamServer(t, { version: 1, streamOk: false })
    running = t.source
    t.source.start()
    await t.clock.advance(0)
    await t.clock.advance(5_000)
    expect(t.http.to(STREAM)).toHaveLength(4)
    await t.clock.advance(4_999)
    expect(t.http.to(STREAM)).toHaveLength(4)
    await t.clock.advance(1)
    expect(t.http.to(STREAM)).toHaveLength(5)
  })

  it('does not let a poll that never answers stall the source, and stop() aborts it', async () => {
    const t = setup({ stream: false, pollIntervalMs: 1_000, heartbeatTimeoutMs: 5_000 })
    t.http.handler = never
    running = t.source
    t.source.start()
    await settle()
    expect(t.http.to(SNAPSHOT)).toHaveLength(1)
    await t.clock.advance(5_000)
    expect(t.log.interrupted).toHaveLength(1)
    expect(t.http.requests[0]!.signal?.aborted).toBe(true)
    await t.clock.advance(1_000)
    expect(t.http.to(SNAPSHOT)).toHaveLength(2)
    t.source.stop()
    expect(t.http.requests[1]!.signal?.aborted).toBe(true)
    await t.clock.advance(60_000)
    expect(t.http.requests).toHaveLength(2)
    expect(t.clock.pending).toBe(0)
  })
})

describe('DataSource: stop', () => {
  it('aborts the open stream and leaves no timer behind', async () => {
    const t = setup({ heartbeatTimeoutMs: 1_000 })
    t.http.handler = t.streamOk
    t.source.start()
    await settle()
    expect(t.clock.pending).toBe(1)
    t.source.stop()
    await settle()
    expect(t.bodies[0]!.closed).toBe(true)
    expect(t.clock.pending).toBe(0)
    expect(t.log.interrupted).toEqual([])
    await t.clock.advance(3_600_000)
    expect(t.http.requests).toHaveLength(1)
  })

  it('cancels a pending reconnect', async () => {
    const t = setup()
    t.http.handler = t.streamOk
    t.source.start()
    await settle()
    t.bodies[0]!.end()
    await settle()
    expect(t.clock.pending).toBe(1)
    t.source.stop()
    expect(t.clock.pending).toBe(0)
    await t.clock.advance(3_600_000)
    expect(t.http.requests).toHaveLength(1)
  })
})
