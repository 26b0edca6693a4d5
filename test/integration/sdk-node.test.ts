/**
 * The built Node SDK (`sdk-node/dist`) against a real `vane serve` process on loopback: changes and kills
 * propagate, bootstrap and persisted rulesets serve while the server is down, the SDK survives the server being
 * SIGKILLed and restarted on the same data directory, and a TCP proxy that stalls, cuts and delays the stream;
 * a refused key stops it for good; waitForReady gives up on a server that never answers.
 *
 * Every wait is bounded; backoff is made short with `platform.random` returning 0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compileSnapshot, type Snapshot } from '@vane/engine'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ClientOptions, createClient, type VaneClient } from '../../sdk-node/dist/index.js'
import { freePort } from '../support/ports.js'
import { type Vane, VaneServers } from '../support/server.js'
import { ServerPool } from '../support/server-process.js'
import {
  booleanFlag,
  clientSnapshot,
  environmentWithKey,
  kill,
  serverSnapshot,
  silentServer,
  sleep,
  TcpProxy,
  targeting,
  waitConverged,
  waitUntil,
} from './sdk-node-support.js'

const ENV = 'production'
const STREAM = '/sdk/v1/stream'

/** Short waits for every reconnect; polls often once polling. */
const FAST: Partial<ClientOptions> = { platform: { random: () => 0 }, pollIntervalMs: 200 }

const servers = new VaneServers()
const clients: VaneClient[] = []
const cleanups: (() => Promise<void> | void)[] = []
let vane: Vane
let sdkKey: string
let dir: string

function client(options: Partial<ClientOptions> & { url: string }): VaneClient {
  const c = createClient({ sdkKey, ...options })
  clients.push(c)
  return c
}

/** Records what a client reports. */
function watch(c: VaneClient) {
  const seen = { change: [] as string[][], errors: [] as Error[], stale: 0, ready: 0 }
  c.on('change', (keys) => seen.change.push(keys))
  c.on('error', (e) => seen.errors.push(e))
  c.on('stale', () => seen.stale++)
  c.on('ready', () => seen.ready++)
  return seen
}

/** The client answers every flag for a few contexts exactly as the engine does on `snapshot`. */
function expectSameAnswers(c: VaneClient, snapshot: Snapshot) {
  const reference = compileSnapshot(snapshot)
  for (const context of [{}, { targetingKey: 'u1' }, { targetingKey: 'u2', plan: 'pro' }, { plan: 'free' }])
    expect(c.evaluateAll(context)).toEqual(reference.evaluateAll(context))
  expect(Object.keys(c.evaluateAll({})).length).toBeGreaterThanOrEqual(2)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vane-sdk-node-'))
  vane = await servers.start()
  ;({ key: sdkKey } = await environmentWithKey(vane, ENV))
  await booleanFlag(vane, ENV, 'checkout', 'on')
  await vane.admin('PUT', '/admin/v1/flags/color', {
    type: 'string',
    variants: { red: 'red', blue: 'blue' },
  })
  await targeting(vane, ENV, 'color', {
    enabled: true,
    offVariant: 'red',
    rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'blue' } }],
    fallthrough: { variant: 'red' },
  })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(async () => {
  await servers.stopAll()
  rmSync(dir, { recursive: true, force: true })
})

describe('Node SDK against a real server', () => {
  it('gets the ruleset, then streams changes in with `change` events naming the flags', async () => {
    const c = client({ url: vane.url })
    const seen = watch(c)
    await c.waitForReady(10_000)
    expect(c.getBoolean('checkout', false, { targetingKey: 'u1' })).toBe(true)
    expect(c.getString('color', 'none', { targetingKey: 'u1', plan: 'pro' })).toBe('blue')
    expect(c.snapshotInfo?.environment).toBe(ENV)

    await targeting(vane, ENV, 'color', { enabled: true, offVariant: 'red', fallthrough: { variant: 'blue' } })
    await waitUntil(
      () => c.getString('color', 'none', { targetingKey: 'u1' }) === 'blue',
      10_000,
      () => 'the new fallthrough of color',
    )
    expect(seen.change).toContainEqual(['color'])

    await booleanFlag(vane, ENV, 'brand-new', 'on')
    await waitUntil(
      () => c.getBoolean('brand-new', false),
      10_000,
      () => 'brand-new to appear',
    )
    expect(seen.change.flat()).toContain('brand-new')
    expect(seen.errors).toEqual([])
    await waitConverged(c, vane.url, sdkKey)
  })

  it('applies a kill switch within moments, and the unkill after it', async () => {
    await booleanFlag(vane, ENV, 'kill-me', 'on')
    const c = client({ url: vane.url })
    const seen = watch(c)
    await c.waitForReady(10_000)
    expect(c.getBoolean('kill-me', false)).toBe(true)

    const started = Date.now()
    await kill(vane, ENV, 'kill-me')
    await waitUntil(
      () => !c.getBoolean('kill-me', true),
      5_000,
      () => 'the kill to reach the SDK',
    )
    expect(Date.now() - started).toBeLessThan(5_000)
    const details = c.evaluate('kill-me', true)
    expect(details).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED', killed: true })
    expect(seen.change).toContainEqual(['kill-me'])

    await kill(vane, ENV, 'kill-me', false)
    await waitUntil(
      () => c.getBoolean('kill-me', false),
      5_000,
      () => 'the unkill to reach the SDK',
    )
    await waitConverged(c, vane.url, sdkKey)
  })

  it('serves a bootstrap file while the server is unreachable', async () => {
    const snapshot = await serverSnapshot(vane.url, sdkKey)
    const file = join(dir, 'bootstrap.json')
    writeFileSync(file, JSON.stringify(snapshot))
    const down = `http://127.0.0.1:${await freePort()}`
    const c = client({ url: down, bootstrap: { file }, ...FAST })
    const seen = watch(c)
    await c.waitForReady(2_000)
    expect(c.getBoolean('checkout', false)).toBe(true)
    expectSameAnswers(c, snapshot)
    expect(c.snapshotInfo).toEqual({ environment: ENV, version: snapshot.version })
    // the connection keeps failing; the values keep coming from the bootstrap
    await waitUntil(
      () => c.status === 'stale',
      5_000,
      () => 'status stale',
    )
    expect(seen.stale).toBe(1)
    expect(c.getBoolean('checkout', false)).toBe(true)
  })

  it('serves an inline bootstrap before the server answers, then switches to the server', async () => {
    const snapshot = await serverSnapshot(vane.url, sdkKey)
    const old = {
      ...snapshot,
      version: 1,
      flags: { checkout: { ...snapshot.flags.checkout!, fallthrough: { variant: 'off' } } },
    }
    const c = client({ url: vane.url, bootstrap: old })
    await c.waitForReady(1_000)
    await waitConverged(c, vane.url, sdkKey)
    expect(c.getBoolean('checkout', false)).toBe(true)
  })

  it('persists the ruleset and starts from it when the server is down', async () => {
    const file = join(dir, 'persisted', 'vane.json')
    const first = client({ url: vane.url, persistTo: file })
    await first.waitForReady(10_000)
    await booleanFlag(vane, ENV, 'persisted-flag', 'on')
    await waitUntil(
      () => first.getBoolean('persisted-flag', false),
      10_000,
      () => 'persisted-flag in the first SDK',
    )
    const version = first.snapshotInfo!.version
    await first.close()
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as { version: number; flags: Record<string, unknown> }
    expect(onDisk.version).toBe(version)
    expect(Object.keys(onDisk.flags)).toContain('persisted-flag')

    const down = `http://127.0.0.1:${await freePort()}`
    const second = client({ url: down, persistTo: file, ...FAST })
    await second.waitForReady(2_000)
    expect(second.getBoolean('persisted-flag', false)).toBe(true)
    expectSameAnswers(second, await serverSnapshot(vane.url, sdkKey))
    expect(second.snapshotInfo).toEqual({ environment: ENV, version })
  })

  it('recovers from a stalled stream: the heartbeat watchdog fires, then it converges', async () => {
    const proxy = await TcpProxy.start(vane.url)
    cleanups.push(() => proxy.close())
    await booleanFlag(vane, ENV, 'stall-flag', 'on')
    const c = client({ url: proxy.url, heartbeatTimeoutMs: 1_000, ...FAST })
    const seen = watch(c)
    await c.waitForReady(10_000)
    await waitConverged(c, vane.url, sdkKey)

    proxy.stall()
    const stalledAt = Date.now()
    await kill(vane, ENV, 'stall-flag')
    // with the link stalled nothing can bring it back to ready: once stale, it stays stale
    await waitUntil(
      () => c.status === 'stale',
      5_000,
      () => 'the watchdog to declare the stream dead',
    )
    expect(seen.stale).toBeGreaterThanOrEqual(1)
    expect(Date.now() - stalledAt).toBeLessThan(4_000)
    // nothing got through while stalled
    expect(c.getBoolean('stall-flag', false)).toBe(true)

    proxy.resume()
    await waitConverged(c, vane.url, sdkKey)
    expect(c.getBoolean('stall-flag', true)).toBe(false)
    await waitUntil(
      () => c.status === 'ready',
      5_000,
      () => 'ready again',
    )
  })

  it('recovers from cut connections, even while changes are being written', async () => {
    const proxy = await TcpProxy.start(vane.url)
    cleanups.push(() => proxy.close())
    const c = client({ url: proxy.url, ...FAST })
    await c.waitForReady(10_000)
    const streamsBefore = proxy.count(STREAM)

    for (let i = 0; i < 15; i++) {
      await booleanFlag(vane, ENV, `cut-${i}`, i % 2 === 0 ? 'on' : 'off')
      if (i % 3 === 0) proxy.cut()
    }
    proxy.cut()
    await waitConverged(c, vane.url, sdkKey)
    expect(proxy.count(STREAM) + proxy.count('/sdk/v1/snapshot')).toBeGreaterThan(streamsBefore)
    for (let i = 0; i < 15; i++) expect(c.getBoolean(`cut-${i}`, i % 2 !== 0)).toBe(i % 2 === 0)
  })

  it('converges through a slow link that delays every chunk', async () => {
    const proxy = await TcpProxy.start(vane.url)
    cleanups.push(() => proxy.close())
    proxy.delayMs = 40
    const c = client({ url: proxy.url, ...FAST })
    await c.waitForReady(10_000)
    for (let i = 0; i < 8; i++) await booleanFlag(vane, ENV, `slow-${i}`, 'on')
    await kill(vane, ENV, 'slow-3')
    await waitConverged(c, vane.url, sdkKey, 20_000)
    expect(c.getBoolean('slow-3', true)).toBe(false)
    expect(c.getBoolean('slow-7', false)).toBe(true)
  })

  it('stops for good when its key is revoked: one error, no retries', async () => {
    const { key, keyId } = await (async () => {
      const reply = await vane.admin(
        'POST',
        '/admin/v1/keys',
        { kind: 'server', name: 'to-revoke', environment: ENV },
        [201],
      )
      return { key: (reply.json as { secret: string }).secret, keyId: (reply.json as { id: string }).id }
    })()
    const proxy = await TcpProxy.start(vane.url)
    cleanups.push(() => proxy.close())
    const c = client({ url: proxy.url, sdkKey: key, ...FAST })
    const seen = watch(c)
    await c.waitForReady(10_000)
    expect(proxy.count(STREAM)).toBe(1)

    await vane.admin('DELETE', `/admin/v1/keys/${keyId}`, undefined, [200])
    await waitUntil(
      () => seen.errors.length > 0,
      10_000,
      () => 'an error event',
    )
    expect(seen.errors[0]!.message).toMatch(/refused \(401\)/)
    // the ruleset it had keeps serving
    expect(c.getBoolean('checkout', false)).toBe(true)
    // however long we wait: the stream closed by the revocation, one reconnect answered 401, nothing after
    await sleep(1_500)
    expect(proxy.count(STREAM)).toBe(2)
    expect(proxy.count('/sdk/v1/snapshot')).toBe(0)
    expect(seen.errors).toHaveLength(1)
  })

  it('gives up at once on an unknown key: waitForReady rejects, one request only', async () => {
    const proxy = await TcpProxy.start(vane.url)
    cleanups.push(() => proxy.close())
    const c = client({ url: proxy.url, sdkKey: 'vane_server_unknown-key-000000000000000000000000', ...FAST })
    const seen = watch(c)
    await expect(c.waitForReady(10_000)).rejects.toThrow(/refused \(401\)/)
    expect(c.status).toBe('failed')
    await sleep(1_000)
    expect(proxy.requests).toEqual([`GET ${STREAM}`])
    expect(seen.errors).toHaveLength(1)
    expect(c.getBooleanDetails('checkout', false).errorCode).toBe('PROVIDER_NOT_READY')
  })

  it('waitForReady times out against a server that accepts and never answers; getters do not wait', async () => {
    const silent = await silentServer()
    cleanups.push(() => silent.close())
    const c = client({ url: silent.url })
    const started = Date.now()
    await expect(c.waitForReady(300)).rejects.toThrow(/not ready within 300 ms/)
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(290)
    expect(waited).toBeLessThan(2_000)
    expect(silent.connections()).toBeGreaterThanOrEqual(1)
    const t0 = performance.now()
    expect(c.getBooleanDetails('checkout', true)).toMatchObject({ value: true, errorCode: 'PROVIDER_NOT_READY' })
    expect(performance.now() - t0).toBeLessThan(50)
    const closing = Date.now()
    await c.close()
    expect(Date.now() - closing).toBeLessThan(2_000)
  })
})

describe('Node SDK across a server crash', () => {
  const pool = new ServerPool()
  let crashDir: string

  beforeAll(() => {
    crashDir = mkdtempSync(join(tmpdir(), 'vane-sdk-crash-'))
  })
  afterAll(async () => {
    await pool.stopAll()
    rmSync(crashDir, { recursive: true, force: true })
  })

  it('reconnects after SIGKILL and a restart on the same data dir, and converges', async () => {
    const first = await pool.start({ env: { VANE_DATA_DIR: crashDir } })
    const port = new URL(first.url).port
    const admin = (method: string, path: string, body?: unknown) =>
      current.call(method, path, body).then((r) => {
        if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`)
        return r
      })
    let current = first
    await admin('POST', '/admin/v1/environments', { key: ENV })
    const secret = (
      (await admin('POST', '/admin/v1/keys', { kind: 'server', name: 'crash', environment: ENV })).json as {
        secret: string
      }
    ).secret
    await admin('PUT', '/admin/v1/flags/survivor', { type: 'boolean', variants: { on: true, off: false } })
    await admin('PUT', `/admin/v1/environments/${ENV}/flags/survivor`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })

    const c = createClient({ url: first.url, sdkKey: secret, ...FAST })
    clients.push(c)
    const seen = watch(c)
    await c.waitForReady(10_000)
    expect(c.getBoolean('survivor', false)).toBe(true)

    await first.stop('SIGKILL')
    await waitUntil(
      () => c.status === 'stale',
      5_000,
      () => 'the SDK to notice the crash',
    )
    expect(c.getBoolean('survivor', false)).toBe(true)

    current = await pool.start({ env: { VANE_DATA_DIR: crashDir, PORT: port } })
    expect(current.url).toBe(first.url)
    await admin('POST', `/admin/v1/environments/${ENV}/flags/survivor/kill`, { reason: 'after the crash' })
    await admin('PUT', '/admin/v1/flags/reborn', { type: 'boolean', variants: { on: true, off: false } })
    await admin('PUT', `/admin/v1/environments/${ENV}/flags/reborn`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })

    await waitConverged(c, current.url, secret, 20_000)
    expect(c.getBoolean('survivor', true)).toBe(false)
    expect(c.getBoolean('reborn', false)).toBe(true)
    await waitUntil(
      () => c.status === 'ready',
      5_000,
      () => 'ready again',
    )
    expect(seen.ready).toBeGreaterThanOrEqual(2)
    expect(clientSnapshot(c)?.version).toBe((await serverSnapshot(current.url, secret)).version)
  })
})
