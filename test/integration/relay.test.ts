/**
 * Relay mode against real processes: an upstream `vane serve` (SQLite) and a relay
 * (`vane serve --upstream URL --sdk-key K`, no database) on loopback.
 *
 * 1. An SDK stream through the relay sees the changes made upstream, with the upstream's ids and content; OFREP
 *    and the client stream work with keys the relay verified upstream; no admin API; bad keys refused.
 * 2. A client moves between relay and upstream with `Last-Event-ID` and never gets a second `put`.
 * 3. With the upstream stopped, the relay keeps serving its last snapshot (OFREP 200, streams open) and reports
 *    stale (`/readyz` 503 `stale: true`); when the upstream returns on the same port with changes made meanwhile,
 *    the relay resumes with `Last-Event-ID` and catches up without a full reload (its `put` count stays 1).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { type Reply, ServerPool, type ServerProcess } from '../support/server-process.js'
import { sleep } from '../support/wait.js'
import { SseParser, StreamFollower, type WireEvent } from './sse-follower.js'

const ENV = 'production'
const FLAGS = 5

interface RelayState {
  ready: boolean
  stale: boolean
  upstream: { connected: boolean; version: number; puts: number; patches: number; connects: number }
}

describe('relay mode', () => {
  const pool = new ServerPool()
  const dataDir = mkdtempSync(join(tmpdir(), 'vane-relay-'))
  let upstreamPort: number
  let upstream: ServerProcess
  let relay: ServerProcess
  let relayKey: string
  let sdkKey: string
  let clientKey: string
  const followers: StreamFollower[] = []

  const startUpstream = (port: number) =>
    pool.start({ env: { VANE_DATA_DIR: dataDir, PORT: String(port), VANE_HEARTBEAT_MS: '1000' } })

  async function admin(method: string, path: string, body?: unknown, expected = [200, 201]): Promise<Reply> {
    const reply = await upstream.call(method, path, body)
    if (!expected.includes(reply.status)) throw new Error(`${method} ${path}: ${reply.status} ${reply.text}`)
    return reply
  }
  const createKey = async (kind: 'server' | 'client', name: string) =>
    ((await admin('POST', '/admin/v1/keys', { name, kind, environment: ENV })).json as { secret: string }).secret
  const write = (i: number, server = upstream) =>
    server.call('PUT', `/admin/v1/environments/${ENV}/flags/f${i % FLAGS}`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: i % 2 === 0 ? 'on' : 'off' },
      targets: { on: [`user-${i}`] },
    })
  async function writeN(n: number, server = upstream): Promise<void> {
    for (let i = 0; i < n; i++) {
      const reply = await write(i, server)
      expect(reply.status, reply.text).toBe(200)
    }
  }

  async function relayState(): Promise<{ status: number; body: RelayState }> {
    const res = await fetch(`${relay.url}/readyz`, { signal: AbortSignal.timeout(5_000) })
    return { status: res.status, body: (await res.json()) as RelayState }
  }
  async function waitForRelay(check: (s: { status: number; body: RelayState }) => boolean, ms: number) {
    const deadline = Date.now() + ms
    let last = await relayState()
    while (!check(last) && Date.now() < deadline) {
      await sleep(50)
      last = await relayState()
    }
    return last
  }
  const ofrep = (base: string, secret: string, flag: string) =>
    fetch(`${base}/ofrep/v1/evaluate/flags/${flag}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ context: { targetingKey: 'user-0' } }),
      signal: AbortSignal.timeout(5_000),
    })
  const upstreamVersion = async () => {
    const res = await fetch(`${upstream.url}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${sdkKey}` } })
    return ((await res.json()) as { version: number }).version
  }

  beforeAll(async () => {
    upstreamPort = await freePort()
    upstream = await startUpstream(upstreamPort)
    await admin('POST', '/admin/v1/environments', { key: ENV })
    for (let i = 0; i < FLAGS; i++)
      await admin('PUT', `/admin/v1/flags/f${i}`, { type: 'boolean', variants: { on: true, off: false } })
    relayKey = await createKey('server', 'relay')
    sdkKey = await createKey('server', 'sdk')
    clientKey = await createKey('client', 'browser')
    relay = await pool.start({
      env: { VANE_HEARTBEAT_MS: '1000' },
      args: ['--upstream', upstream.url, '--sdk-key', relayKey],
    })
    const ready = await waitForRelay((s) => s.status === 200, 10_000)
    expect(ready.body).toMatchObject({ ready: true, stale: false, upstream: { connected: true, puts: 1 } })
  }, 60_000)

  afterAll(async () => {
    await Promise.all(followers.map((f) => f.stop()))
    await pool.stopAll()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('an SDK stream through the relay sees the changes made upstream, with the same ids', async () => {
    const viaRelay = new StreamFollower({ name: 'via-relay', secret: sdkKey, urls: () => [relay.url] })
    const direct = new StreamFollower({ name: 'direct', secret: sdkKey, urls: () => [upstream.url] })
    followers.push(viaRelay, direct)
    await Promise.all([viaRelay.start(), direct.start()])
    expect(viaRelay.startId).toBe(direct.startId)

    // a client stream through the relay, with a client key the relay verifies upstream
    const clientEvents: WireEvent[] = []
    const clientStream = await openClientStream(relay.url, clientKey, { targetingKey: 'user-1' }, clientEvents)
    try {
      await writeN(60)
      const version = await upstreamVersion()
      expect(version).toBe(direct.startId! + 60)
      await viaRelay.waitFor(() => viaRelay.lastId === version && direct.lastId === version, 10_000)
      expect(viaRelay.problems).toEqual([])
      expect(viaRelay.lastId).toBe(version)
      expect(viaRelay.received.map((r) => [r.id, r.event, r.patch])).toEqual(
        direct.received.map((r) => [r.id, r.event, r.patch]),
      )
      // user-1 is targeted by write 1 (f1 → on), then f1's later writes target others: off/on by fallthrough
      await viaRelay.waitFor(() => clientEvents.some((e) => e.event === 'patch'), 5_000)
      expect(clientEvents[0]).toMatchObject({ event: 'put', id: String(viaRelay.startId) })
      expect(clientEvents.filter((e) => e.event === 'patch').length).toBeGreaterThan(0)
    } finally {
      clientStream.destroy()
    }

    // OFREP through the relay answers what the upstream answers
    for (const secret of [clientKey, sdkKey]) {
      const [a, b] = await Promise.all([ofrep(relay.url, secret, 'f1'), ofrep(upstream.url, secret, 'f1')])
      expect(a.status).toBe(200)
      expect(await a.json()).toEqual(await b.json())
    }
    // what a relay refuses
    const bogus = await ofrep(relay.url, 'vane_server_not-a-key-00000000000000000000000', 'f1')
    expect(bogus.status).toBe(401)
    const clientOnSdk = await fetch(`${relay.url}/sdk/v1/snapshot`, {
      headers: { authorization: `Bearer ${clientKey}` },
    })
    expect(clientOnSdk.status).toBe(403)
    const adminOnRelay = await relay.call('GET', '/admin/v1/flags')
    expect(adminOnRelay.status).toBe(404)
    expect(adminOnRelay.json).toMatchObject({ status: 404, detail: expect.stringContaining('relay') })
    expect(adminOnRelay.headers.get('content-type')).toBe('application/problem+json')
    // outcome reports go through to the upstream, which answers them
    const report = (base: string) =>
      fetch(`${base}/sdk/v1/outcomes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sdkKey}`, 'content-type': 'application/json' },
        body: '{"not":"a report"}',
      })
    const [viaRelayReport, directReport] = await Promise.all([report(relay.url), report(upstream.url)])
    expect(viaRelayReport.status).toBe(directReport.status)
    expect(viaRelayReport.status).not.toBe(404)

    // a cohort reaches SDKs once a flag uses it: whole, in an id-less event ahead of the flag, which the relay applies
    await admin('PUT', '/admin/v1/cohorts/testers', { include: ['user-1', 'user-2'] })
    const rules = [{ id: 'testers', cohorts: ['testers'], serve: { variant: 'on' } }]
    await admin('PUT', `/admin/v1/environments/${ENV}/flags/f0`, {
      enabled: true,
      offVariant: 'off',
      rules,
      fallthrough: { variant: 'off' },
    })
    // a cohort redefined without its lists: the patch carries no members, and every copy keeps them
    await admin('PUT', '/admin/v1/cohorts/testers', { description: 'renamed', rollout: { weight: 0 } })
    const redefined = await upstreamVersion()
    await viaRelay.waitFor(() => viaRelay.lastId === redefined && direct.lastId === redefined, 10_000)
    expect(viaRelay.problems).toEqual([])
    for (const follower of [viaRelay, direct]) {
      const last = follower.received.at(-1)?.patch
      expect(last).toMatchObject({ op: 'put', kind: 'cohort', key: 'testers', keepMembers: true })
      expect(last).not.toHaveProperty('value.include')
      expect(follower.evaluator?.cohort('testers')).toMatchObject({
        include: ['user-1', 'user-2'],
        rollout: { weight: 0 },
      })
    }
    const snapshotOf = async (base: string) =>
      (await (await fetch(`${base}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${sdkKey}` } })).json()) as {
        cohorts: Record<string, unknown>
      }
    const [relaySnapshot, upstreamSnapshot] = await Promise.all([snapshotOf(relay.url), snapshotOf(upstream.url)])
    expect(relaySnapshot.cohorts.testers).toEqual(upstreamSnapshot.cohorts.testers)
    expect(upstreamSnapshot.cohorts.testers).toMatchObject({ include: ['user-1', 'user-2'] })
    await Promise.all([viaRelay.stop(), direct.stop()])
  }, 60_000)

  it('a client moves between relay and upstream with Last-Event-ID and never gets a second put', async () => {
    let target = relay.url
    const mover = new StreamFollower({ name: 'mover', secret: sdkKey, urls: () => [target] })
    followers.push(mover)
    await mover.start()
    for (let hop = 0; hop < 6; hop++) {
      await writeN(5)
      const version = await upstreamVersion()
      // on the relay, wait until it has the changes too: a client never resumes ahead of where it connects
      await waitForRelay((s) => s.body.upstream.version === version, 5_000)
      await mover.waitFor(() => mover.lastId === version, 5_000)
      expect(mover.lastId, `hop ${hop}`).toBe(version)
      target = hop % 2 === 0 ? upstream.url : relay.url
      mover.drop()
      await mover.waitFor(() => mover.servedBy.length === hop + 2, 5_000)
    }
    expect(mover.problems).toEqual([])
    expect(mover.stats.puts).toBe(1)
    expect(mover.stats.resumes).toBe(6)
    expect(new Set(mover.servedBy)).toEqual(new Set([relay.url, upstream.url]))
    await mover.stop()
  }, 60_000)

  it('serves its last snapshot while the upstream is down and catches up without a reload when it returns', async () => {
    const downstream = new StreamFollower({ name: 'downstream', secret: sdkKey, urls: () => [relay.url] })
    followers.push(downstream)
    await downstream.start()
    const before = await relayState()
    expect(before.status).toBe(200)
    const versionBefore = before.body.upstream.version
    const answerBefore = await (await ofrep(relay.url, clientKey, 'f1')).json()

    await upstream.stop('SIGTERM')
    const stale = await waitForRelay((s) => s.status === 503, 10_000)
    expect(stale.status).toBe(503)
    expect(stale.body).toMatchObject({
      ready: false,
      stale: true,
      upstream: { connected: false, version: versionBefore },
    })
    // evaluation keeps serving the last good snapshot, for keys verified before
    for (const secret of [clientKey, sdkKey]) {
      const res = await ofrep(relay.url, secret, 'f1')
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(answerBefore)
    }
    // new SDK streams too (the relay's own put), and a key it never saw cannot be checked: 503
    const fresh = new StreamFollower({ name: 'fresh-while-down', secret: relayKey, urls: () => [relay.url] })
    followers.push(fresh)
    await fresh.start()
    expect(fresh.startId).toBe(versionBefore)
    const unknown = await ofrep(relay.url, 'vane_client_never-seen-000000000000000000000000', 'f1')
    expect(unknown.status).toBe(503)

    // meanwhile, changes land in the upstream's database (through another process on the same data directory)
    const writer = await startUpstream(await freePort())
    await writeN(25, writer)
    await writer.stop('SIGTERM')
    expect((await writer.exit()).code).toBe(0)

    // the upstream returns on the same port: the relay resumes from its last id, from the upstream's change log
    upstream = await startUpstream(upstreamPort)
    const back = await waitForRelay((s) => s.status === 200 && s.body.upstream.version === versionBefore + 25, 20_000)
    expect(back.status).toBe(200)
    expect(back.body).toMatchObject({
      ready: true,
      stale: false,
      upstream: { connected: true, version: versionBefore + 25, puts: 1 },
    })
    expect(back.body.upstream.patches).toBeGreaterThanOrEqual(before.body.upstream.patches + 25)
    // and its streams, open all along, got the 25 changes in order
    await downstream.waitFor(() => downstream.lastId === versionBefore + 25, 5_000)
    expect(downstream.problems).toEqual([])
    expect(downstream.stats.connects).toBe(1)
    expect(downstream.received.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => versionBefore + 1 + i))
    // a fresh upstream answer equals the relay's
    const [a, b] = await Promise.all([ofrep(relay.url, clientKey, 'f1'), ofrep(upstream.url, clientKey, 'f1')])
    expect(await a.json()).toEqual(await b.json())
  }, 90_000)
})

/** Opens `POST /client/v1/stream` and collects its events into `into`; resolves once the response started. */
function openClientStream(
  base: string,
  secret: string,
  context: Record<string, unknown>,
  into: WireEvent[],
): Promise<http.ClientRequest> {
  const { hostname, port } = new URL(base)
  const body = JSON.stringify({ context })
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port: Number(port),
      method: 'POST',
      path: '/client/v1/stream',
      agent: false,
      headers: {
        authorization: `Bearer ${secret}`,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      },
      timeout: 10_000,
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('client stream: no response')))
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`client stream: ${res.statusCode}`))
      req.setTimeout(0)
      const parser = new SseParser()
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => into.push(...parser.push(chunk)))
      res.on('error', () => {})
      resolve(req)
    })
    req.end(body)
  })
}
