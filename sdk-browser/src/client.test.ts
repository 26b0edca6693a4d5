/**
 * The browser client against a scripted transport (`fakes.test-support.ts`): `fetch`, `storage` and `random`
 * are injected through the options, timers are vitest's fake ones, and `document`/`window` are stubbed only in
 * the tests about them. Nothing here touches the network or sleeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type ClientOptions, type Context, createClient, type VaneBrowserClient } from './client.js'
import { FakeNetwork, MemoryStorage, ofrep, settle, value } from './fakes.test-support.js'

const URL_ = 'https://flags.test'
const KEY = 'vane_client_0123456789abcdef'
const STREAM = '/client/v1/stream'
const OFREP = '/ofrep/v1/evaluate/flags'

/** Moves fake time forward by `ms`, running due timers, then lets promise callbacks and stream reads run. */
async function tick(ms = 0): Promise<void> {
  await settle()
  await vi.advanceTimersByTimeAsync(ms)
  await settle()
}

interface Harness {
  net: FakeNetwork
  storage: MemoryStorage
  client: VaneBrowserClient
  changes: string[][]
  stale: Error[]
  errors: (Error & { status?: number })[]
  ready: number
}

const open: VaneBrowserClient[] = []

/** A client with a fake network and storage, recording its events. `random` is 0.5: backoff waits are half the ceiling. */
function start(options: Partial<ClientOptions> = {}, net = new FakeNetwork(), storage = new MemoryStorage()): Harness {
  const client = createClient({
    url: URL_,
    clientKey: KEY,
    context: { targetingKey: 'user-1' },
    fetch: net.fetch,
    storage,
    random: () => 0.5,
    ...options,
  })
  open.push(client)
  const h: Harness = { net, storage, client, changes: [], stale: [], errors: [], ready: 0 }
  client.on('change', (keys) => h.changes.push([...keys].sort()))
  client.on('stale', (e) => h.stale.push(e))
  client.on('error', (e) => h.errors.push(e))
  client.on('ready', () => {
    h.ready++
  })
  return h
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
})

afterEach(() => {
  for (const client of open.splice(0)) client.close()
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('cache and bootstrap', () => {
  /** Runs one client for `context` to a put of `flags` and closes it, leaving its cache in `storage`. */
  async function seed(storage: MemoryStorage, context: Context, flags: Parameters<FakeNetwork['stream']['put']>[0]) {
    const h = start({ context }, new FakeNetwork(), storage)
    await tick()
    h.net.stream.put(flags)
    await tick()
    expect(h.client.getString('banner', 'none')).not.toBe('none')
    h.client.close()
  }

  it('the first read returns the values cached for the same context, before any network answer', async () => {
    const storage = new MemoryStorage()
    await seed(storage, { targetingKey: 'user-1', plan: 'pro', tags: ['a', 'b'] }, { banner: value('cached', 'c', 4) })

    // the same context, its keys in another order: the same cache entry
    const h = start({ context: { tags: ['a', 'b'], plan: 'pro', targetingKey: 'user-1' } }, new FakeNetwork(), storage)
    expect(h.client.isReady).toBe(true)
    expect(h.client.getString('banner', 'none')).toBe('cached')
    expect(h.client.getStringDetails('banner', 'none')).toEqual({
      flagKey: 'banner',
      value: 'cached',
      variant: 'c',
      reason: 'TARGETING_MATCH',
      flagVersion: 4,
    })
    // the stream was asked, and has not answered yet
    expect(h.net.to(STREAM)).toHaveLength(1)
    await expect(h.client.waitForReady(1)).resolves.toBeUndefined()
  })

  it("never serves another context's cache", async () => {
    const storage = new MemoryStorage()
    await seed(storage, { targetingKey: 'user-1', plan: 'pro' }, { banner: value('user-1 only') })
    const others: Context[] = [
      { targetingKey: 'user-2', plan: 'pro' },
      { targetingKey: 'user-1', plan: 'free' },
      { targetingKey: 'user-1' },
      { targetingKey: 'user-1', plan: 'pro', country: 'NL' },
      {},
    ]
    for (const context of others) {
      const h = start({ context }, new FakeNetwork(), storage)
      expect(h.client.isReady, JSON.stringify(context)).toBe(false)
      expect(h.client.getStringDetails('banner', 'none')).toEqual({
        flagKey: 'banner',
        value: 'none',
        reason: 'ERROR',
        errorCode: 'PROVIDER_NOT_READY',
      })
      h.client.close()
    }
    // another client key (another environment) does not share it either
    const again = start(
      { context: { targetingKey: 'user-1', plan: 'pro' }, clientKey: 'vane_client_other-environment' },
      new FakeNetwork(),
      storage,
    )
    expect(again.client.getString('banner', 'none')).toBe('none')
  })

  it("a context's own values are cached under its own entry only", async () => {
    const storage = new MemoryStorage()
    await seed(storage, { targetingKey: 'user-1' }, { banner: value('one') })
    await seed(storage, { targetingKey: 'user-2' }, { banner: value('two') })
    const entries = [...storage.items.entries()]
    expect(entries).toHaveLength(2)
    expect(entries.find(([k]) => k.includes('"user-1"'))?.[1]).toContain('"one"')
    expect(entries.find(([k]) => k.includes('"user-2"'))?.[1]).toContain('"two"')
    expect(entries.every(([k]) => k.startsWith('vane:'))).toBe(true)
  })

  it('bootstrap wins over the cache, and the stream replaces both', async () => {
    const storage = new MemoryStorage()
    await seed(storage, { targetingKey: 'user-1' }, { banner: value('cached'), other: value(1) })
    const h = start(
      { bootstrap: { banner: { value: 'server-rendered', variant: 'ssr', reason: 'STATIC' } } },
      new FakeNetwork(),
      storage,
    )
    expect(h.client.isReady).toBe(true)
    expect(h.client.getStringDetails('banner', 'none')).toEqual({
      flagKey: 'banner',
      value: 'server-rendered',
      variant: 'ssr',
      reason: 'STATIC',
    })
    // nothing of the cache leaks in beside the bootstrap
    expect(h.client.getNumberDetails('other', 0).errorCode).toBe('FLAG_NOT_FOUND')
    await tick()
    h.net.stream.put({ banner: value('live', 'l', 2) })
    await tick()
    expect(h.client.getString('banner', 'none')).toBe('live')
    expect(h.changes).toEqual([['banner']])
  })

  it('cache: false neither reads nor writes storage', async () => {
    const h = start({ cache: false })
    await tick()
    h.net.stream.put({ banner: value('x') })
    await tick()
    expect(h.client.getString('banner', 'none')).toBe('x')
    expect(h.storage.reads + h.storage.writes).toBe(0)
  })

  it('a broken or corrupted storage is only a missed optimisation: nothing throws', async () => {
    const storage = new MemoryStorage()
    storage.broken = true
    const h = start({}, new FakeNetwork(), storage)
    expect(h.client.getBoolean('flag', false)).toBe(false)
    await tick()
    h.net.stream.put({ flag: value(true) })
    await tick()
    expect(h.client.getBoolean('flag', false)).toBe(true)
    expect(storage.writes).toBeGreaterThan(0)
    expect(h.errors).toEqual([])

    const corrupted = new MemoryStorage()
    const probe = start({}, new FakeNetwork(), corrupted)
    await tick()
    probe.net.stream.put({ flag: value(true) })
    await tick()
    probe.client.close()
    for (const key of corrupted.items.keys()) corrupted.items.set(key, '{not json')
    const after = start({}, new FakeNetwork(), corrupted)
    expect(after.client.isReady).toBe(false)
    expect(after.client.getBooleanDetails('flag', false).errorCode).toBe('PROVIDER_NOT_READY')
  })
})

describe('getters', () => {
  it('before any data: the default with PROVIDER_NOT_READY, from every getter', async () => {
    const h = start({ cache: false })
    const c = h.client
    expect(c.getBoolean('a', true)).toBe(true)
    expect(c.getString('a', 's')).toBe('s')
    expect(c.getNumber('a', 7)).toBe(7)
    expect(c.getObject('a', { x: 1 })).toEqual({ x: 1 })
    for (const d of [
      c.getBooleanDetails('a', true),
      c.getStringDetails('a', 's'),
      c.getNumberDetails('a', 7),
      c.getObjectDetails('a', [1]),
    ])
      expect(d).toMatchObject({ flagKey: 'a', reason: 'ERROR', errorCode: 'PROVIDER_NOT_READY' })
    expect(c.all()).toEqual({})
    const waiting = c.waitForReady(1_000)
    const outcome = expect(waiting).rejects.toThrow('not ready within 1000 ms')
    await tick(1_000)
    await outcome
  })

  it('after the put: values, FLAG_NOT_FOUND, TYPE_MISMATCH and errors the server sent; never a throw', async () => {
    const h = start()
    await tick()
    h.net.stream.put({
      bool: value(true, 'on', 3),
      str: value('hello', 'greeting', 4),
      num: value(42, 'answer', 5),
      obj: value({ a: [1, 2] }, 'shape', 6),
      list: value(['x', 'y'], 'list', 7),
      nothing: value(null, 'null', 8),
      needsKey: { value: null, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING', version: 9 },
      badContext: { value: null, reason: 'ERROR', errorCode: 'INVALID_CONTEXT' },
    })
    await tick()
    const c = h.client
    expect(c.getBooleanDetails('bool', false)).toEqual({
      flagKey: 'bool',
      value: true,
      variant: 'on',
      reason: 'TARGETING_MATCH',
      flagVersion: 3,
    })
    expect(c.getString('str', '')).toBe('hello')
    expect(c.getNumber('num', 0)).toBe(42)
    expect(c.getObject('obj', {})).toEqual({ a: [1, 2] })
    // arrays are object values
    expect(c.getObject<unknown>('list', {})).toEqual(['x', 'y'])

    const mismatch = (d: { value: unknown; reason: string; errorCode?: string | undefined; variant?: unknown }) => ({
      value: d.value,
      reason: d.reason,
      errorCode: d.errorCode,
      variant: d.variant,
    })
    const defaultWith = (v: unknown, errorCode: string) => ({
      value: v,
      reason: 'ERROR',
      errorCode,
      variant: undefined,
    })
    expect(mismatch(c.getStringDetails('bool', 'd'))).toEqual(defaultWith('d', 'TYPE_MISMATCH'))
    expect(mismatch(c.getNumberDetails('str', -1))).toEqual(defaultWith(-1, 'TYPE_MISMATCH'))
    expect(mismatch(c.getBooleanDetails('num', false))).toEqual(defaultWith(false, 'TYPE_MISMATCH'))
    expect(mismatch(c.getStringDetails('obj', 'd'))).toEqual(defaultWith('d', 'TYPE_MISMATCH'))
    expect(mismatch(c.getObjectDetails('str', { d: 1 }))).toEqual(defaultWith({ d: 1 }, 'TYPE_MISMATCH'))
    expect(mismatch(c.getObjectDetails('nothing', {}))).toEqual(defaultWith({}, 'TYPE_MISMATCH'))
    expect(mismatch(c.getBooleanDetails('needsKey', true))).toEqual(defaultWith(true, 'TARGETING_KEY_MISSING'))
    expect(mismatch(c.getStringDetails('badContext', 'd'))).toEqual(defaultWith('d', 'INVALID_CONTEXT'))
    for (const key of ['missing', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      expect(mismatch(c.getBooleanDetails(key, false)), key).toEqual(defaultWith(false, 'FLAG_NOT_FOUND'))
    expect(Object.keys(c.all()).sort()).toEqual(
      ['badContext', 'bool', 'list', 'needsKey', 'nothing', 'num', 'obj', 'str'].sort(),
    )
  })
})

describe('the stream', () => {
  it('POSTs the context in the body with the client key, never in the URL', async () => {
    const h = start({ context: { targetingKey: 'user-1', email: 'a@example.com' } })
    await tick()
    const [call] = h.net.to(STREAM)
    expect(call!.url).toBe(`${URL_}${STREAM}`)
    expect(call).toMatchObject({
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      json: { context: { targetingKey: 'user-1', email: 'a@example.com' } },
    })
  })

  it('secure mode: the hash travels in the stream body and in X-Vane-Hash when polling; identify takes the next', async () => {
    const net = new FakeNetwork().answer(STREAM, new Response('', { status: 503 }), new Response('', { status: 503 }))
    const h = start({ cache: false, hash: 'hash-of-user-1' }, net)
    await tick()
    expect(net.to(STREAM)[0]!.json).toEqual({ context: { targetingKey: 'user-1' }, hash: 'hash-of-user-1' })
    await tick(500)
    net.answer(STREAM, new Response('', { status: 503 }))
    await tick(1_000)
    // the third failure: a poll, with the hash as a header (OFREP's body is only the context)
    expect(net.to(OFREP)[0]!.headers['x-vane-hash']).toBe('hash-of-user-1')
    expect(net.to(OFREP)[0]!.json).toEqual({ context: { targetingKey: 'user-1' } })
    void h.client.identify({ targetingKey: 'user-2' }, 'hash-of-user-2')
    await tick()
    expect(net.to(STREAM).at(-1)!.json).toEqual({ context: { targetingKey: 'user-2' }, hash: 'hash-of-user-2' })
    // without secure mode nothing extra is sent
    const plain = start({ cache: false })
    await tick()
    expect(plain.net.to(STREAM)[0]!.json).toEqual({ context: { targetingKey: 'user-1' } })
  })

  it('put, then patch, then deleted; `change` carries exactly the keys that changed', async () => {
    const h = start({ cache: false })
    await tick()
    const s = h.net.stream
    s.put({ a: value(true, 'on'), b: value('x', 'x'), c: value(1, 'one') }, 10)
    await tick()
    expect(h.ready).toBe(1)
    expect(h.changes).toEqual([['a', 'b', 'c']])

    s.patch({ b: value('y', 'y', 2) }, undefined, 11)
    await tick()
    expect(h.client.getString('b', '')).toBe('y')
    expect(h.changes.at(-1)).toEqual(['b'])

    // a patch that changes nothing a reader can see emits nothing
    s.patch({ a: value(true, 'on', 1, 'DEFAULT') }, undefined, 12)
    await tick()
    expect(h.changes).toHaveLength(2)

    // several at once, a new flag among them
    s.patch({ a: value(false, 'off', 2), d: value('new', 'n') }, undefined, 13)
    await tick()
    expect(h.changes.at(-1)).toEqual(['a', 'd'])

    s.patch({}, ['c'], 14)
    await tick()
    expect(h.changes.at(-1)).toEqual(['c'])
    expect(h.client.getNumberDetails('c', 0)).toMatchObject({ value: 0, errorCode: 'FLAG_NOT_FOUND' })
    // deleting what is not there changes nothing
    s.patch({}, ['c', 'never-existed'], 15)
    await tick()
    expect(h.changes).toHaveLength(4)

    // an error replacing a value is a change too
    s.patch({ b: { value: null, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' } }, undefined, 16)
    await tick()
    expect(h.changes.at(-1)).toEqual(['b'])
    expect(h.client.getStringDetails('b', 'dflt')).toMatchObject({
      value: 'dflt',
      errorCode: 'TARGETING_KEY_MISSING',
    })
    expect(h.ready).toBe(1)
  })

  it('an event split across chunks, and a bad event, do not break the stream', async () => {
    const h = start({ cache: false })
    await tick()
    const text = `id: 1\nevent: put\ndata: ${JSON.stringify({ flags: { a: value('one') } })}\n\n`
    h.net.stream.push(text.slice(0, 17))
    await tick()
    expect(h.client.isReady).toBe(false)
    h.net.stream.push(text.slice(17))
    await tick()
    expect(h.client.getString('a', '')).toBe('one')
    h.net.stream.push('event: patch\ndata: {not json\n\n')
    await tick()
    expect(h.errors).toHaveLength(1)
    h.net.stream.patch({ a: value('two') })
    await tick()
    expect(h.client.getString('a', '')).toBe('two')
  })

  it('a kill sent ahead of a backlog is not undone by the older patches queued before it', async () => {
    const h = start({ cache: false })
    await tick()
    const s = h.net.stream
    s.put({ f: value('a', 'a', 5) }, 40)
    await tick()
    // the kill, id-less and ahead of the backlog: flag version 7
    s.patch({ f: value('off', 'off', 7, 'DISABLED') })
    // the backlog: a change from before the kill (version 6), then the kill again in order
    s.patch({ f: value('b', 'b', 6) }, undefined, 41)
    await tick()
    expect(h.client.getString('f', '')).toBe('off')
    s.patch({ f: value('off', 'off', 7, 'DISABLED') }, undefined, 42)
    await tick()
    expect(h.client.getString('f', '')).toBe('off')
    expect(h.changes).toEqual([['f'], ['f']])
    // a later change (same version: a cohort changed) still applies
    s.patch({ f: value('c', 'c', 7) }, undefined, 43)
    await tick()
    expect(h.client.getString('f', '')).toBe('c')
  })

  it('a reconnect gets a fresh put; `change` names only what differs from before', async () => {
    const h = start({ cache: false })
    await tick()
    h.net.stream.put({ a: value(1), b: value(2), c: value(3) })
    await tick()
    h.net.stream.end()
    await tick()
    expect(h.stale).toHaveLength(1)
    await tick(500)
    expect(h.net.to(STREAM)).toHaveLength(2)
    h.net.stream.put({ a: value(1), b: value(20), d: value(4) })
    await tick()
    expect(h.changes).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'd'],
    ])
    // fresh values after a stale period: ready again
    expect(h.ready).toBe(2)
  })
})

describe('identify', () => {
  it('switches the context: the old stream is closed, a new one opened, `change` names what differs', async () => {
    const h = start()
    await tick()
    const first = h.net.stream
    first.put({ a: value('same'), b: value('one'), c: value('only user-1') })
    await tick()

    let resolved = false
    const identified = h.client.identify({ targetingKey: 'user-2', plan: 'pro' }).then(() => {
      resolved = true
    })
    await tick()
    expect(first.closed).toBe(true)
    expect(h.net.to(STREAM)).toHaveLength(2)
    expect(h.net.to(STREAM)[1]!.json).toEqual({ context: { targetingKey: 'user-2', plan: 'pro' } })
    // not cached: identify waits for the server
    expect(resolved).toBe(false)
    h.net.stream.put({ a: value('same'), b: value('two'), d: value('only user-2') })
    await tick()
    await identified
    expect(resolved).toBe(true)
    expect(h.changes.at(-1)).toEqual(['b', 'c', 'd'])
    expect(h.client.getString('b', '')).toBe('two')
    expect(h.client.getStringDetails('c', '').errorCode).toBe('FLAG_NOT_FOUND')
  })

  it('back to a context seen before: resolves at once from its cache, then refreshes', async () => {
    const h = start()
    await tick()
    h.net.stream.put({ a: value('user-1 v1') })
    await tick()
    const toTwo = h.client.identify({ targetingKey: 'user-2' })
    await tick()
    h.net.stream.put({ a: value('user-2') })
    await tick()
    await toTwo

    let resolved = false
    const back = h.client.identify({ targetingKey: 'user-1' }).then(() => {
      resolved = true
    })
    await settle()
    expect(resolved).toBe(true)
    await back
    expect(h.client.getString('a', '')).toBe('user-1 v1')
    expect(h.changes.at(-1)).toEqual(['a'])
    await tick()
    h.net.stream.put({ a: value('user-1 v2') })
    await tick()
    expect(h.client.getString('a', '')).toBe('user-1 v2')
  })

  it('nothing still in flight for the old context lands in the new one (stream)', async () => {
    const h = start()
    h.net.ignoreAbort = true // a fetch that keeps delivering after abort: the client's own guard must hold
    await tick()
    const old = h.net.stream
    old.put({ a: value('user-1') })
    await tick()
    const identified = h.client.identify({ targetingKey: 'user-2' })
    old.patch({ a: value('user-1 late') })
    await tick()
    h.net.stream.put({ a: value('user-2') })
    await tick()
    await identified
    old.patch({ a: value('user-1 later') })
    await tick()
    expect(h.client.getString('a', '')).toBe('user-2')
    const cached = [...h.storage.items.entries()].find(([k]) => k.includes('"user-2"'))?.[1]
    expect(cached).toContain('"user-2"')
    expect(cached).not.toContain('user-1')
  })

  it('nothing still in flight for the old context lands in the new one (polling)', async () => {
    let release: ((r: Response) => void) | undefined
    const net = new FakeNetwork().answer(OFREP, () => new Promise<Response>((resolve) => (release = resolve)))
    const h = start({ pollOnly: true, pollIntervalMs: 1_000 }, net)
    await tick()
    expect(net.to(OFREP)).toHaveLength(1)
    net.answer(OFREP, ofrep([{ key: 'a', value: 'user-2', reason: 'STATIC' }], '"e2"'))
    const identified = h.client.identify({ targetingKey: 'user-2' })
    await tick()
    await identified
    expect(h.client.getString('a', '')).toBe('user-2')
    // user-1's answer arrives late
    release!(ofrep([{ key: 'a', value: 'user-1', reason: 'STATIC' }], '"e1"'))
    await tick()
    expect(h.client.getString('a', '')).toBe('user-2')
    const cached = [...h.storage.items.entries()].find(([k]) => k.includes('"user-2"'))?.[1]
    expect(cached).not.toContain('user-1')
    // one polling loop, not two
    net.answer(OFREP, new Response(null, { status: 304 }), new Response(null, { status: 304 }))
    await tick(1_000)
    expect(net.to(OFREP)).toHaveLength(3)
    expect(net.to(OFREP)[2]!.headers['if-none-match']).toBe('"e2"')
  })
})

describe('failures', () => {
  it('reconnects with backoff; after 3 failures it polls OFREP between attempts, conditionally', async () => {
    const net = new FakeNetwork()
      .answer(STREAM, new Response('', { status: 503 }), new TypeError('Failed to fetch'), 'stream')
      .answer(OFREP, ofrep([{ key: 'a', value: 'polled', variant: 'p', reason: 'STATIC', version: 3 }], '"e1"'))
    const h = start({ cache: false }, net)
    await tick()
    // 1st failure (503): wait random·1 s = 500 ms
    expect(net.to(STREAM)).toHaveLength(1)
    expect(h.stale).toHaveLength(1)
    await tick(499)
    expect(net.to(STREAM)).toHaveLength(1)
    await tick(1)
    // 2nd failure (network error): 1000 ms
    expect(net.to(STREAM)).toHaveLength(2)
    await tick(999)
    expect(net.to(STREAM)).toHaveLength(2)
    await tick(1)
    expect(net.to(STREAM)).toHaveLength(3)
    // 3rd: the stream opens, then ends at once
    net.stream.end()
    await tick()
    expect(h.stale).toHaveLength(3)
    // now a poll, at once
    expect(net.to(OFREP)).toHaveLength(1)
    expect(net.to(OFREP)[0]).toMatchObject({
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      json: { context: { targetingKey: 'user-1' } },
    })
    expect(net.to(OFREP)[0]!.headers['if-none-match']).toBeUndefined()
    expect(h.client.getStringDetails('a', '')).toEqual({
      flagKey: 'a',
      value: 'polled',
      variant: 'p',
      reason: 'STATIC',
      flagVersion: 3,
    })
    expect(h.changes).toEqual([['a']])
    // the stream again after 2000 ms; it fails (4th): a conditional poll, 304, nothing changes
    net.answer(STREAM, new Response('', { status: 502 }))
    net.answer(OFREP, new Response(null, { status: 304 }))
    await tick(1_999)
    expect(net.to(STREAM)).toHaveLength(3)
    await tick(1)
    expect(net.to(STREAM)).toHaveLength(4)
    expect(net.to(OFREP)).toHaveLength(2)
    expect(net.to(OFREP)[1]!.headers['if-none-match']).toBe('"e1"')
    expect(h.changes).toHaveLength(1)
    expect(h.client.getString('a', '')).toBe('polled')
    // then 4000 ms; this time the stream works and its put wins
    await tick(4_000)
    expect(net.to(STREAM)).toHaveLength(5)
    net.stream.put({ a: value('streamed', 's', 4) })
    await tick()
    expect(h.client.getString('a', '')).toBe('streamed')
    expect(h.errors).toEqual([])
  })

  it('OFREP polling maps values, versions and per-flag errors', async () => {
    const net = new FakeNetwork().answer(
      OFREP,
      ofrep([
        { key: 'on', value: true, variant: 'on', reason: 'TARGETING_MATCH', version: 2 },
        { key: 'broken', errorCode: 'TARGETING_KEY_MISSING' },
      ]),
    )
    const h = start({ pollOnly: true, cache: false }, net)
    await tick()
    expect(net.to(STREAM)).toHaveLength(0)
    expect(h.client.getBooleanDetails('on', false)).toMatchObject({ value: true, variant: 'on', flagVersion: 2 })
    expect(h.client.getBooleanDetails('broken', false)).toMatchObject({
      value: false,
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
    })
  })

  it('polls every pollIntervalMs with If-None-Match; a failed poll is reported and retried', async () => {
    const net = new FakeNetwork().answer(
      OFREP,
      ofrep([{ key: 'a', value: 1, reason: 'STATIC' }], '"v1"'),
      new Response(null, { status: 304 }),
      new Response('', { status: 500 }),
      ofrep([{ key: 'a', value: 2, reason: 'STATIC' }], '"v2"'),
    )
    const h = start({ pollOnly: true, pollIntervalMs: 5_000, cache: false }, net)
    await tick()
    expect(h.client.getNumber('a', 0)).toBe(1)
    await tick(4_999)
    expect(net.to(OFREP)).toHaveLength(1)
    await tick(1)
    expect(net.to(OFREP)[1]!.headers['if-none-match']).toBe('"v1"')
    await tick(5_000)
    expect(h.errors.map((e) => e.message)).toEqual(['evaluation answered 500'])
    await tick(5_000)
    expect(net.to(OFREP)[3]!.headers['if-none-match']).toBe('"v1"')
    expect(h.client.getNumber('a', 0)).toBe(2)
    expect(h.changes).toEqual([['a'], ['a']])
  })

  for (const status of [401, 403])
    it(`${status}: an error event, and no retry`, async () => {
      const net = new FakeNetwork().answer(STREAM, new Response('{"title":"refused"}', { status }))
      const h = start({ cache: false }, net)
      // waiting for values fails at once rather than at its timeout
      const waiting = expect(h.client.waitForReady(60_000)).rejects.toThrow(`refused (${status})`)
      await tick()
      await waiting
      expect(h.errors).toHaveLength(1)
      expect(h.errors[0]!.status).toBe(status)
      expect(h.errors[0]!.message).toContain(String(status))
      expect(h.stale).toEqual([])
      await tick(10 * 60_000)
      expect(net.requests).toHaveLength(1)
      expect(h.client.getBooleanDetails('a', false).errorCode).toBe('PROVIDER_NOT_READY')
    })

  it('identify with a key that is refused meanwhile rejects instead of hanging', async () => {
    const h = start({ cache: false })
    await tick()
    h.net.stream.put({ a: value(1) })
    await tick()
    h.net.answer(STREAM, new Response('', { status: 401 }))
    const identified = expect(h.client.identify({ targetingKey: 'user-2' })).rejects.toThrow('refused (401)')
    await tick()
    await identified
    expect(h.net.to(STREAM)).toHaveLength(2)
  })

  it('401 while polling: an error event, and no more polls', async () => {
    const net = new FakeNetwork().answer(OFREP, new Response('', { status: 401 }))
    const h = start({ pollOnly: true, pollIntervalMs: 1_000, cache: false }, net)
    await tick(60_000)
    expect(net.requests).toHaveLength(1)
    expect(h.errors.map((e) => e.status)).toEqual([401])
  })

  it('a stream silent for 45 s is dead: it is reconnected; pings keep it alive', async () => {
    const h = start({ cache: false })
    await tick()
    h.net.stream.put({ a: value(1) })
    await tick(30_000)
    h.net.stream.ping()
    await tick(30_000)
    expect(h.net.to(STREAM)).toHaveLength(1)
    await tick(15_000)
    expect(h.stale.map((e) => e.message)).toEqual(['stream silent for 45000 ms'])
    expect(h.net.to(STREAM)[0]!.signal?.aborted).toBe(true)
    await tick(500)
    expect(h.net.to(STREAM)).toHaveLength(2)
  })

  it('a request that never answers is also given up after 45 s', async () => {
    const net = new FakeNetwork().answer(STREAM, 'hang')
    const h = start({ cache: false }, net)
    await tick(44_999)
    expect(h.stale).toHaveLength(0)
    await tick(1)
    expect(h.stale).toHaveLength(1)
    await tick(500)
    expect(net.to(STREAM)).toHaveLength(2)
  })

  it('close() stops everything: no more requests, no more events', async () => {
    const h = start({ cache: false })
    await tick()
    const s = h.net.stream
    h.client.close()
    await tick()
    expect(s.closed).toBe(true)
    // nor does a late identify open a stream again
    const late = h.client.identify({ targetingKey: 'user-2' }).catch((error: Error) => error)
    await tick(10 * 60_000)
    expect(h.net.requests).toHaveLength(1)
    expect(h.stale).toEqual([])
    expect(await late).toBeInstanceOf(Error)
  })
})

describe('page lifecycle (document and window stubbed)', () => {
  function stubPage() {
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' as DocumentVisibilityState })
    const window = new EventTarget()
    vi.stubGlobal('document', document)
    vi.stubGlobal('window', window)
    const setVisibility = (state: DocumentVisibilityState) => {
      document.visibilityState = state
      document.dispatchEvent(new Event('visibilitychange'))
    }
    return { window, setVisibility }
  }

  it('a tab hidden longer than inactivityMs closes the stream; visible again reconnects at once', async () => {
    const page = stubPage()
    const h = start({ cache: false, inactivityMs: 10_000 })
    await tick()
    h.net.stream.put({ a: value(1) })
    await tick()
    page.setVisibility('hidden')
    await tick(9_999)
    expect(h.net.stream.closed).toBe(false)
    await tick(1)
    expect(h.net.stream.closed).toBe(true)
    // closed on purpose: no reconnect, no stale
    await tick(60_000)
    expect(h.net.to(STREAM)).toHaveLength(1)
    expect(h.stale).toEqual([])
    page.setVisibility('visible')
    await tick()
    expect(h.net.to(STREAM)).toHaveLength(2)
    h.net.stream.put({ a: value(1) })
    // hidden briefly: the stream stays
    page.setVisibility('hidden')
    await tick(5_000)
    page.setVisibility('visible')
    await tick(30_000)
    expect(h.net.to(STREAM)).toHaveLength(2)
    expect(h.net.stream.closed).toBe(false)
  })

  it('coming back online reconnects at once; close() removes the listeners', async () => {
    const page = stubPage()
    const h = start({ cache: false })
    await tick()
    page.window.dispatchEvent(new Event('online'))
    await tick()
    expect(h.net.to(STREAM)).toHaveLength(2)
    expect(h.net.to(STREAM)[0]!.stream!.closed).toBe(true)
    h.client.close()
    page.window.dispatchEvent(new Event('online'))
    page.setVisibility('hidden')
    page.setVisibility('visible')
    await tick(60_000)
    expect(h.net.to(STREAM)).toHaveLength(2)
  })
})
