/**
 * Streams against a real `vane serve` process over loopback sockets:
 *
 * 1. A thousand stream connections dropped abruptly (destroyed or reset, some before the response even
 *    started) leave nothing behind: `vane_open_streams` returns to its baseline and the heap to near its own.
 * 2. A thousand disconnects and reconnects with `Last-Event-ID` while writers make hundreds of changes end with
 *    the client's copy, built only from `put`/`patch`/`delete` events, equal to `GET /sdk/v1/snapshot`, and
 *    every resumed stream carries exactly the events missed: no gap, no duplicate.
 *
 * The server runs with `VANE_HEARTBEAT_MS=200`: a connection whose socket closed before its response was wired
 * to it is only noticed by the heartbeat, so a short one keeps the test short.
 */
import net from 'node:net'
import type { Snapshot } from '@vane/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mapLimit, type Vane, VaneServers } from '../support/server.js'
import { sleep, waitFor } from '../support/wait.js'
import { normalise, StreamFollower } from './sse-follower.js'

const ENV = 'production'
const HEARTBEAT_MS = 200
/**
 * One client opening a thousand streams at once, from one address, on a busy machine: exactly what the limits on one
 * client refuse (`test/integration/connections.test.ts` covers them), so they are lifted here.
 */
const ONE_CLIENT_MANY_STREAMS = { VANE_STREAMS_PER_ADDRESS: '0', VANE_MAX_UNAUTHENTICATED_CONNECTIONS: '100000' }

/** Values of `/metrics` lines such as `vane_open_streams{kind="sdk"} 3`, by the text before the value. */
async function metrics(vane: Vane): Promise<Map<string, number>> {
  const res = await fetch(`${vane.url}/metrics`, { signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  expect(res.status, text.slice(0, 500)).toBe(200)
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(0, space), Number(line.slice(space + 1)))
  }
  return out
}

const openStreams = async (vane: Vane) => {
  const m = await metrics(vane)
  const kinds = ['sdk', 'client', 'events'] as const
  return Object.fromEntries(kinds.map((k) => [k, m.get(`vane_open_streams{kind="${k}"}`)])) as Record<
    (typeof kinds)[number],
    number | undefined
  >
}

/**
 * Node options for the server of the heap check: `--expose-gc` plus a preloaded one-liner that runs a full
 * collection on SIGUSR2. Only this test's process opts in; the server itself has no such switch. Without it the
 * heap is at the mercy of when V8 next collects, which makes "returns to its baseline" unmeasurable.
 */
const GC_ON_SIGNAL = `--expose-gc --import=data:text/javascript,${encodeURIComponent(
  "process.on('SIGUSR2', () => globalThis.gc())",
)}`

/** The smallest heap (bytes used) seen over `samples` scrapes, each after a full collection. */
async function settledHeap(vane: Vane, samples = 4): Promise<number> {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < samples; i++) {
    vane.server.child.kill('SIGUSR2')
    await sleep(250)
    const used = (await metrics(vane)).get('vane_nodejs_heap_size_used_bytes')
    expect(used, 'vane_nodejs_heap_size_used_bytes in /metrics').toBeTypeOf('number')
    min = Math.min(min, used!)
  }
  return min
}

type DropMode = 'before-response' | 'after-headers' | 'after-put'

interface RawStream {
  socket: net.Socket
  /** Resolves once the socket saw what `mode` waits for (or closed). */
  ready: Promise<void>
}

/** Opens one stream on a raw socket and writes the request by hand. */
function openRaw(vane: Vane, request: string, mode: DropMode): RawStream {
  const { hostname, port } = new URL(vane.url)
  const socket = net.connect({ host: hostname, port: Number(port) })
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  const ready = new Promise<void>((resolve) => {
    let text = ''
    socket.once('close', () => resolve())
    socket.once('connect', () => {
      socket.write(request)
      if (mode === 'before-response') resolve()
    })
    socket.on('data', (chunk: string) => {
      text += chunk
      const head = text.indexOf('\r\n\r\n')
      if (head === -1) return
      if (mode === 'after-headers' || text.indexOf('\n\n', head + 4) !== -1) resolve()
    })
  })
  return { socket, ready }
}

/** Drops a socket without a clean close: a plain destroy (FIN) or a reset (RST), alternately. */
function dropAbruptly(socket: net.Socket, i: number): void {
  if (i % 2 === 0 && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

describe('abrupt disconnects against a real server', () => {
  const servers = new VaneServers()
  let vane: Vane
  let serverKey: string
  let clientKey: string
  beforeAll(async () => {
    vane = await servers.start({
      VANE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      NODE_OPTIONS: GC_ON_SIGNAL,
      ...ONE_CLIENT_MANY_STREAMS,
    })
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    await vane.admin('PUT', '/admin/v1/flags/banner', { type: 'boolean', variants: { on: true, off: false } }, [201])
    await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/banner`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
    serverKey = await vane.createKey({ kind: 'server', environment: ENV })
    clientKey = await vane.createKey({ kind: 'client', environment: ENV })
  })
  afterAll(() => servers.stopAll())

  it('1,000 streams dropped without a clean close leave no open streams and no heap behind', async () => {
    const body = JSON.stringify({ context: { targetingKey: 'user-1', plan: 'pro' } })
    const requests = {
      sdk: `GET /sdk/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${serverKey}\r\nAccept: text/event-stream\r\n\r\n`,
      client:
        `POST /client/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${clientKey}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    }
    const open = (i: number) => {
      const kind = i % 3 === 0 ? 'client' : 'sdk'
      const mode: DropMode = i % 10 === 0 ? 'before-response' : i % 10 < 4 ? 'after-headers' : 'after-put'
      return { kind, mode, stream: openRaw(vane, requests[kind], mode) }
    }

    // warm up every path once, so the baseline heap already holds what the first streams allocate lazily
    const warm = Array.from({ length: 60 }, (_, i) => open(i))
    await Promise.all(warm.map((w) => w.stream.ready))
    warm.forEach((w, i) => {
      dropAbruptly(w.stream.socket, i)
    })
    await waitFor(
      async () => {
        const s = await openStreams(vane)
        return s.sdk === 0 && s.client === 0
      },
      10_000,
      100,
    )
    const baseStreams = await openStreams(vane)
    expect(baseStreams).toEqual({ sdk: 0, client: 0, events: 0 })
    const baseHeap = await settledHeap(vane)

    // 1,000 streams, opened 100 at a time and all held open together
    const streams = await mapLimit(
      Array.from({ length: 1000 }, (_, i) => i),
      100,
      async (i) => {
        const s = open(i)
        if (s.mode === 'before-response') {
          // the race the heartbeat closes: gone before the server has even answered
          await s.stream.ready
          dropAbruptly(s.stream.socket, i)
        }
        return s
      },
    )
    await Promise.all(streams.map((s) => s.stream.ready))
    const held = streams.filter((s) => s.mode !== 'before-response')
    const stillOpen = held.filter((s) => !s.stream.socket.destroyed).length
    expect(stillOpen, 'sockets the server closed on its own').toBe(held.length)
    const during = await openStreams(vane)
    // every held stream is open on the server (the ones dropped before their response may or may not be yet)
    expect((during.sdk ?? 0) + (during.client ?? 0)).toBeGreaterThanOrEqual(held.length)

    held.forEach((s, i) => {
      dropAbruptly(s.stream.socket, i)
    })

    // each drop is noticed: at once through the socket's close, or by the heartbeat for the early ones
    let last = during
    const settled = await waitFor(
      async () => {
        last = await openStreams(vane)
        return last.sdk === baseStreams.sdk && last.client === baseStreams.client && last.events === baseStreams.events
      },
      15_000,
      100,
    )
    expect(settled, `open streams still ${JSON.stringify(last)}, baseline ${JSON.stringify(baseStreams)}`).toBe(true)

    // force the work through: a change fanned out to nobody, and a round of ordinary requests
    await vane.admin('POST', `/admin/v1/environments/${ENV}/flags/banner/kill`, { reason: 'after the drops' }, [200])
    await mapLimit(
      Array.from({ length: 200 }, (_, i) => i),
      20,
      async () => {
        const res = await fetch(`${vane.url}/ofrep/v1/evaluate/flags/banner`, {
          method: 'POST',
          headers: { authorization: `Bearer ${serverKey}`, 'content-type': 'application/json' },
          body,
        })
        await res.arrayBuffer()
      },
    )
    const heap = await settledHeap(vane)
    const growthMb = (heap - baseHeap) / 1024 / 1024
    expect(
      growthMb,
      `heap ${(heap / 1048576).toFixed(1)} MB vs ${(baseHeap / 1048576).toFixed(1)} MB before`,
    ).toBeLessThan(5)
  }, 90_000)
})

describe('reconnects with Last-Event-ID during a burst of changes, against a real server', () => {
  const servers = new VaneServers()
  let vane: Vane
  let serverKey: string
  const FLAGS = 8
  beforeAll(async () => {
    vane = await servers.start({ VANE_HEARTBEAT_MS: String(HEARTBEAT_MS), ...ONE_CLIENT_MANY_STREAMS })
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    await vane.admin('PUT', '/admin/v1/cohorts/crowd', { include: ['u0'] }, [201])
    for (let i = 0; i < FLAGS; i++)
      await vane.admin('PUT', `/admin/v1/flags/f${i}`, { type: 'string', variants: { a: 'A', b: 'B', c: 'C' } }, [201])
    serverKey = await vane.createKey({ kind: 'server', environment: ENV })
  })
  afterAll(() => servers.stopAll())

  it('1,000 drops and resumes end with the client equal to the snapshot, every event exactly once', async () => {
    // a seeded generator, so a failing run can be replayed
    let seed = 0x5eed
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!
    const variants = ['a', 'b', 'c'] as const
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`)

    /** One random admin change; resolves with whether it was accepted. */
    let extra = 0
    const change = async (): Promise<boolean> => {
      const flag = `f${Math.floor(random() * FLAGS)}`
      const roll = random()
      let path: string
      let method = 'POST'
      let body: unknown
      if (roll < 0.4) {
        method = 'PUT'
        path = `/admin/v1/environments/${ENV}/flags/${flag}`
        body = {
          enabled: random() < 0.8,
          offVariant: pick(variants),
          fallthrough: { variant: pick(variants) },
          targets: { [pick(variants)]: [pick(users)] },
          rules: [{ id: 'r1', cohorts: ['crowd'], serve: { variant: pick(variants) } }],
        }
      } else if (roll < 0.55) {
        path = `/admin/v1/environments/${ENV}/flags/${flag}/${random() < 0.5 ? 'kill' : 'unkill'}`
        body = { reason: 'burst' }
      } else if (roll < 0.75) {
        method = random() < 0.6 ? 'POST' : 'DELETE'
        path = '/admin/v1/cohorts/crowd/members'
        body = { include: [pick(users), pick(users)] }
      } else if (roll < 0.85) {
        method = 'PUT'
        path = `/admin/v1/flags/${flag}`
        body = { type: 'string', variants: { a: 'A', b: 'B', c: 'C' }, description: `d${Math.floor(random() * 1e6)}` }
      } else {
        // a flag of its own, created and archived again: puts and deletes
        const key = `extra-${extra++ % 5}`
        method = random() < 0.5 ? 'PUT' : 'DELETE'
        path = `/admin/v1/flags/${key}`
        body = method === 'PUT' ? { type: 'boolean', variants: { on: true, off: false } } : undefined
      }
      const reply = await vane.server.call(method, path, body)
      if (reply.status >= 500) throw new Error(`${method} ${path} answered ${reply.status}: ${reply.text}`)
      return reply.status >= 200 && reply.status < 300
    }

    const clients = Array.from(
      { length: 4 },
      (_, i) => new StreamFollower({ name: `client-${i}`, secret: serverKey, urls: () => [vane.url] }),
    )
    const CYCLES = 250
    let clientsDone = false
    let accepted = 0
    // the server answers a resume more than 1,024 changes behind with a put (smaller than that backlog): staying
    // below that keeps every resume in the change log, also when a busy machine slows the clients down
    const MAX_CHANGES = 900
    const writers = Array.from({ length: 3 }, async () => {
      // at least 200 changes in all, and more while the clients are still cycling (bounded)
      for (let n = 0; n < 1000 && accepted < MAX_CHANGES && (!clientsDone || accepted < 200); n++) {
        if (await change()) accepted++
        await sleep(random() * 4)
      }
    })
    // the first connect of each client gets the put; every later one resumes
    for (const client of clients) await client.connectOnce({ until: () => client.lastId !== undefined, maxMs: 5_000 })
    expect(clients.map((c) => c.stats.puts)).toEqual([1, 1, 1, 1])
    const cycling = Promise.all(
      clients.map(async (client) => {
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          // alternately dropped at once (before or right after the answer), or after a few events or milliseconds
          const quick = cycle % 2 === 0
          const wanted = 1 + Math.floor(random() * 6)
          const ms = random() * 40
          await client.connectOnce({
            until: (events, elapsed) => quick || events >= wanted || elapsed >= ms,
            maxMs: 2_000,
            reset: cycle % 4 < 2,
            atOnce: cycle % 6 === 0,
          })
        }
      }),
    ).finally(() => {
      clientsDone = true
    })
    await Promise.all([cycling, ...writers])
    expect(accepted).toBeGreaterThanOrEqual(200)

    const res = await fetch(`${vane.url}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${serverKey}` } })
    expect(res.status).toBe(200)
    const snapshot = (await res.json()) as Snapshot
    expect(snapshot.version).toBeGreaterThanOrEqual(200)

    for (const client of clients) {
      // one last resume to catch up with whatever happened since its last drop
      await client.connectOnce({
        until: (_, elapsed) => client.lastId === snapshot.version || elapsed > 5_000,
        maxMs: 6_000,
      })
      expect(client.problems, client.name).toEqual([])
      expect(client.lastId, client.name).toBe(snapshot.version)
      expect(normalise(client.evaluator!.snapshot()), client.name).toEqual(normalise(snapshot))
      // resumes sent only what was missed: one put, on the very first connect
      expect(client.stats.puts, `${client.name} ${JSON.stringify(client.stats)}`).toBe(1)
      expect(client.stats.connects).toBe(CYCLES + 2)
    }
    const streams = await openStreams(vane)
    expect(await waitFor(async () => (await openStreams(vane)).sdk === 0, 5_000, 100), JSON.stringify(streams)).toBe(
      true,
    )
  }, 90_000)
})
