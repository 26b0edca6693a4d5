import { join } from 'node:path'
import type { JsonValue } from '@vane/engine'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { changeToPatch } from '../live/patches.js'
import type { ChangeRecord } from '../storage/repository.js'
import { A, expectProblem } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'
import { SseReader } from '../testing/sse-reader.js'

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
        value: {
          key: 'f',
          type: 'boolean',
          variants: { on: true, off: false },
          version: 2,
          enabled: false,
          offVariant: 'off',
          fallthrough: { variant: 'off' },
          killed: true,
        },
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

const auth = (secret: string, headers: Record<string, string> = {}) => ({
  headers: { authorization: `Bearer ${secret}`, ...headers },
})

/** Opens `/sdk/v1/stream` with `headers` and returns a reader on it. */
async function openStream(h: Harness, secret: string, headers: Record<string, string> = {}) {
  const res = await h.app.request('/sdk/v1/stream', auth(secret, headers))
  expect(res.status).toBe(200)
  return new SseReader(res.body)
}

describe('server-SDK stream: the wire', () => {
  let h: Harness
  let serverKey: string
  beforeAll(async () => {
    h = await createHarness({ environments: ['production'] })
    serverKey = await h.key('server', 'production')
    expect((await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })).status).toBe(
      201,
    )
    expect((await h.call('PUT', `${A}/cohorts/beta`, { include: ['u1'] })).status).toBe(201)
    const targeting = {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'off' },
      rules: [{ id: 'r1', cohorts: ['beta'], serve: { variant: 'on' } }],
    }
    expect((await h.call('PUT', `${A}/environments/production/flags/f`, targeting)).status).toBe(200)
  })
  afterAll(() => h.close())

  it('sends put, then patch (flag), patch (members), delete (flag), delete and patch (cohort), byte for byte', async () => {
    const stream = await openStream(h, serverKey)
    expect(await stream.block()).toBe(
      'id: 3\nevent: put\ndata: {"environment":"production","version":3,' +
        '"flags":{"f":{"key":"f","type":"boolean","variants":{"on":true,"off":false},"version":2,"enabled":true,' +
        '"offVariant":"off","rules":[{"id":"r1","cohorts":["beta"],"serve":{"variant":"on"}}],"fallthrough":{"variant":"off"}}},' +
        '"cohorts":{"beta":{"key":"beta","version":1,"include":["u1"]}}}\n\n',
    )

    await h.call('POST', `${A}/cohorts/beta/members`, { include: ['u2', 'u3'] })
    expect(await stream.block()).toBe(
      'id: 4\nevent: patch\ndata: {"op":"members","kind":"cohort","key":"beta","version":4,"add":{"include":["u2","u3"]}}\n\n',
    )
    await h.call('DELETE', `${A}/cohorts/beta/members`, { include: ['u3'] })
    expect(await stream.block()).toBe(
      'id: 5\nevent: patch\ndata: {"op":"members","kind":"cohort","key":"beta","version":5,"remove":{"include":["u3"]}}\n\n',
    )

    await h.call('PUT', `${A}/environments/production/flags/f`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
      targets: { off: ['u4'] },
    })
    expect(await stream.block()).toBe(
      'id: 6\nevent: patch\ndata: {"op":"put","kind":"flag","key":"f","version":6,"value":{"key":"f","type":"boolean",' +
        '"variants":{"on":true,"off":false},"version":3,"enabled":true,"offVariant":"off","fallthrough":{"variant":"on"},' +
        '"targets":{"off":["u4"]}}}\n\n',
    )
    // f no longer uses beta, and nothing else does: streams drop it, after the change (an id-less delete)
    expect(await stream.block()).toBe('event: delete\ndata: {"op":"delete","kind":"cohort","key":"beta"}\n\n')

    expect((await h.call('DELETE', `${A}/flags/f`)).status).toBe(200)
    expect(await stream.block()).toBe(
      'id: 7\nevent: delete\ndata: {"op":"delete","kind":"flag","key":"f","version":7}\n\n',
    )
    expect((await h.call('DELETE', `${A}/cohorts/beta`)).status).toBe(204)
    expect(await stream.block()).toBe(
      'id: 8\nevent: delete\ndata: {"op":"delete","kind":"cohort","key":"beta","version":8}\n\n',
    )
    // a cohort no flag uses is not sent: its change arrives as a no-op delete that keeps the ids contiguous
    expect((await h.call('PUT', `${A}/cohorts/gamma`, { exclude: ['u5'] })).status).toBe(201)
    expect(await stream.block()).toBe(
      'id: 9\nevent: delete\ndata: {"op":"delete","kind":"cohort","key":"gamma","version":9}\n\n',
    )
    expect(await stream.collect(100)).toEqual([])
    await stream.cancel()
  })

  it('serves the snapshot with an ETag, 304 for a matching If-None-Match, a new ETag after a change', async () => {
    const res = await h.app.request('/sdk/v1/snapshot', auth(serverKey))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json')
    expect(res.headers.get('cache-control')).toBe('no-cache')
    const etag = res.headers.get('etag')!
    const version = h.hub.get('production')!.version
    expect(etag).toBe(`"production-${version}"`)
    const body = await res.text()
    // the same document a fresh stream's put carries
    const stream = await openStream(h, serverKey)
    expect((await stream.next()).data).toBe(body)
    await stream.cancel()

    const again = await h.app.request('/sdk/v1/snapshot', auth(serverKey, { 'if-none-match': etag }))
    expect(again.status).toBe(304)
    expect(again.headers.get('etag')).toBe(etag)
    expect(await again.text()).toBe('')

    await h.call('PUT', `${A}/flags/g`, { type: 'string', variants: { a: 'A' } })
    const changed = await h.app.request('/sdk/v1/snapshot', auth(serverKey, { 'if-none-match': etag }))
    expect(changed.status).toBe(200)
    expect(changed.headers.get('etag')).toBe(`"production-${version + 1}"`)
    expect(((await changed.json()) as { flags: Record<string, unknown> }).flags.g).toBeDefined()
    for (const stale of ['"production-0"', '*', 'W/"production-1"', 'garbage', '']) {
      const res = await h.app.request('/sdk/v1/snapshot', auth(serverKey, { 'if-none-match': stale }))
      expect(res.status, stale).toBe(200)
    }
  })
})

describe('server-SDK stream: resuming', () => {
  let h: Harness
  let serverKey: string
  /** Makes `n` changes (targeting of flag r) and returns the environment's version after them. */
  const changes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const variant = i % 2 === 0 ? 'on' : 'off'
      const res = await h.call('PUT', `${A}/environments/production/flags/r`, {
        enabled: true,
        offVariant: 'off',
        fallthrough: { variant },
      })
      expect(res.status).toBe(200)
    }
    return h.hub.get('production')!.version
  }
  const resume = (lastEventId: string) => openStream(h, serverKey, { 'last-event-id': lastEventId })
  beforeAll(async () => {
    // a ring of two changes: older ones come from the change log
    h = await createHarness({ environments: ['production'], recentChanges: 2 })
    serverKey = await h.key('server', 'production')
    await h.call('PUT', `${A}/flags/r`, { type: 'boolean', variants: { on: true, off: false } })
  })
  afterAll(() => h.close())

  it('without a gap (in memory): only the missed events, in order, then live ones', async () => {
    const v = await changes(3)
    const stream = await resume(String(v - 2))
    const missed = await stream.take(2)
    expect(missed.map((e) => [e.id, e.event])).toEqual([
      [String(v - 1), 'patch'],
      [String(v), 'patch'],
    ])
    expect(JSON.parse(missed[1]!.data)).toMatchObject({ op: 'put', kind: 'flag', key: 'r', version: v })
    expect(await stream.collect(100)).toEqual([])
    await changes(1)
    expect((await stream.next()).id).toBe(String(v + 1))
    await stream.cancel()
  })

  it('up to date: nothing until the next change', async () => {
    const v = await changes(1)
    const stream = await resume(String(v))
    expect(await stream.collect(150)).toEqual([])
    await changes(1)
    expect((await stream.next()).raw).toMatch(new RegExp(`^id: ${v + 1}\nevent: patch\n`))
    await stream.cancel()
  })

  it('with a gap the ring cannot cover but the change log can: the missed patches from the log', async () => {
    const v = await changes(6)
    const stream = await resume(String(v - 5))
    const got = await stream.take(5)
    expect(got.map((e) => `${e.id} ${e.event}`)).toEqual([4, 3, 2, 1, 0].map((d) => `${v - d} patch`))
    expect(await stream.collect(100)).toEqual([])
    await stream.cancel()
  })

  it('from the log, a change that starts using a cohort the client may lack: a fresh put', async () => {
    expect((await h.call('PUT', `${A}/cohorts/late`, { include: ['u1'] })).status).toBe(201)
    await changes(3)
    const rules = [{ id: 'late', cohorts: ['late'], serve: { variant: 'on' } }]
    const uses = { enabled: true, offVariant: 'off', rules, fallthrough: { variant: 'off' } }
    expect((await h.call('PUT', `${A}/environments/production/flags/r`, uses)).status).toBe(200)
    const v = h.hub.get('production')!.version
    // three changes back: beyond the ring of two, so from the log
    const stream = await resume(String(v - 3))
    const put = await stream.next()
    expect([put.id, put.event]).toEqual([String(v), 'put'])
    expect(JSON.parse(put.data).cohorts.late).toEqual({ key: 'late', version: 1, include: ['u1'] })
    expect(await stream.collect(100)).toEqual([])
    await stream.cancel()
  })

  it('with a gap beyond the change log: a fresh put', async () => {
    const v = await changes(4)
    // the log no longer reaches back (as after pruning): delete its oldest entries
    const db = new Database(join(h.dir, 'vane.db'))
    db.pragma('busy_timeout = 5000')
    db.prepare("DELETE FROM change_log WHERE environment = 'production' AND version <= ?").run(v - 3)
    db.close()
    const stream = await resume(String(v - 4))
    const put = await stream.next()
    expect([put.id, put.event]).toEqual([String(v), 'put'])
    expect(JSON.parse(put.data)).toMatchObject({ environment: 'production', version: v })
    expect(await stream.collect(100)).toEqual([])
    await stream.cancel()
  })

  it('from the future, or unreadable: a fresh put; lastEventId in the query works like the header', async () => {
    const v = await changes(1)
    for (const id of [String(v + 1), '999999999999999', '9'.repeat(40), 'abc', '-1', '1.5', '1e3', ' 3', '']) {
      const stream = await resume(id)
      const put = await stream.next()
      expect([put.id, put.event], `Last-Event-ID ${JSON.stringify(id)}`).toEqual([String(v), 'put'])
      await stream.cancel()
    }
    const res = await h.app.request(`/sdk/v1/stream?lastEventId=${v - 1}`, auth(serverKey))
    const stream = new SseReader(res.body)
    expect((await stream.next()).raw).toMatch(new RegExp(`^id: ${v}\nevent: patch\n`))
    await stream.cancel()
    expect(h.delivery.counts().sdk).toBe(0)
  })

  it('a change committed while a resume reads the change log is sent once, after the missed ones', async () => {
    const v = await changes(4)
    const stream = await resume(String(v - 4))
    // the prime awaits the log; this change lands meanwhile and is held back until it is done
    await changes(1)
    const got = await stream.take(5)
    expect(got.map((e) => Number(e.id))).toEqual([v - 3, v - 2, v - 1, v, v + 1])
    expect(await stream.collect(100)).toEqual([])
    await stream.cancel()
  })
})

describe('server-SDK stream: heartbeats, slow consumers, kills, revocation', () => {
  it('sends ": ping" comments every heartbeatMs', async () => {
    const h = await createHarness({ environments: ['production'], heartbeatMs: 40 })
    try {
      const stream = await openStream(h, await h.key('server', 'production'))
      expect((await stream.next()).event).toBe('put')
      expect(await stream.block(1000)).toBe(': ping\n\n')
      expect(await stream.block(1000)).toBe(': ping\n\n')
      await stream.cancel()
    } finally {
      await h.close()
    }
  })

  it('drops a consumer that stops reading once its backlog passes maxQueuedBytes; it resumes where it was', async () => {
    const h = await createHarness({ environments: ['production'], maxQueuedBytes: 4096 })
    try {
      const serverKey = await h.key('server', 'production')
      await h.call('PUT', `${A}/flags/s`, { type: 'string', variants: { a: 'x'.repeat(300), b: 'y' } })
      const stream = await openStream(h, serverKey)
      const put = await stream.next()
      // stops reading; each patch is ~500 bytes
      for (let i = 0; i < 12 && h.delivery.counts().sdk > 0; i++)
        await h.call('PUT', `${A}/flags/s`, { type: 'string', variants: { a: 'x'.repeat(300), b: `y${i}` } })
      expect(h.delivery.counts().sdk).toBe(0)
      // what was handed over before the drop can still be read, then the stream ends
      expect(await stream.ends()).toBe(true)
      const resumed = await openStream(h, serverKey, { 'last-event-id': put.id! })
      const v = h.hub.get('production')!.version
      const missed = await resumed.collect(200)
      expect(missed.map((e) => Number(e.id))).toEqual(
        Array.from({ length: v - Number(put.id) }, (_, i) => Number(put.id) + 1 + i),
      )
      await resumed.cancel()
    } finally {
      await h.close()
    }
  })

  it('up to date while the feed lags the hub: the change it already has is not sent again', async () => {
    // a harness of its own: this test installs a change in the hub that never reaches the store
    const h = await createHarness({ environments: ['production'] })
    try {
      const serverKey = await h.key('server', 'production')
      await h.call('PUT', `${A}/flags/r`, { type: 'boolean', variants: { on: true, off: false } })
      const v = h.hub.get('production')!.version
      // a writer installed version v + 1 in the hub; its change reaches the feed a moment later
      const change: ChangeRecord = {
        environment: 'production',
        version: v + 1,
        entity: 'flag',
        key: 'r',
        op: 'put',
        payload: {
          ...h.hub.get('production')!.flag('r')!,
          fallthrough: { variant: 'on' },
          version: 99,
        } as unknown as JsonValue,
        createdAt: new Date().toISOString(),
      }
      h.hub.set('production', h.hub.get('production')!.apply(changeToPatch(change)))
      const stream = await openStream(h, serverKey, { 'last-event-id': String(v + 1) })
      expect(await stream.collect(50)).toEqual([])
      h.feed.publish([change])
      expect(await stream.collect(100)).toEqual([])
      await stream.cancel()
    } finally {
      await h.close()
    }
  })

  it('sends a put larger than maxQueuedBytes to a new consumer instead of dropping it', async () => {
    const h = await createHarness({ environments: ['production'], maxQueuedBytes: 4096 })
    try {
      const members = Array.from({ length: 1000 }, (_, i) => `member-${i}`)
      expect((await h.call('PUT', `${A}/cohorts/big`, { include: members })).status).toBe(201)
      await h.call('PUT', `${A}/flags/uses-big`, { type: 'boolean', variants: { on: true, off: false } })
      const rules = [{ id: 'r1', cohorts: ['big'], serve: { variant: 'on' } }]
      const uses = { enabled: true, offVariant: 'off', rules, fallthrough: { variant: 'off' } }
      expect((await h.call('PUT', `${A}/environments/production/flags/uses-big`, uses)).status).toBe(200)
      const stream = await openStream(h, await h.key('server', 'production'))
      const put = await stream.next()
      expect(put.event).toBe('put')
      expect(put.data.length).toBeGreaterThan(4096)
      expect(h.delivery.counts().sdk).toBe(1)
      await stream.cancel()
    } finally {
      await h.close()
    }
  })

  it('sends a kill ahead of a backlog (without an id), and again in order with its id', async () => {
    const h = await createHarness({ environments: ['production'] })
    try {
      await h.call('PUT', `${A}/flags/k`, { type: 'boolean', variants: { on: true, off: false } })
      await h.call('PUT', `${A}/flags/other`, { type: 'boolean', variants: { on: true, off: false } })
      const stream = await openStream(h, await h.key('server', 'production'))
      const v = Number((await stream.next()).id)
      // a backlog: three changes nobody has read yet
      for (const variant of ['on', 'off', 'on'])
        await h.call('PUT', `${A}/environments/production/flags/other`, {
          enabled: true,
          offVariant: 'off',
          fallthrough: { variant },
        })
      await h.call('POST', `${A}/environments/production/flags/k/kill`, { reason: 'incident' })
      const events = await stream.take(5)
      expect(events.map((e) => [e.id, JSON.parse(e.data).key])).toEqual([
        [undefined, 'k'],
        [String(v + 1), 'other'],
        [String(v + 2), 'other'],
        [String(v + 3), 'other'],
        [String(v + 4), 'k'],
      ])
      expect(events[0]!.raw).toBe(events[4]!.raw.replace(`id: ${v + 4}\n`, ''))
      expect(JSON.parse(events[0]!.data).value.killed).toBe(true)
      await stream.cancel()
    } finally {
      await h.close()
    }
  })

  it('revoking a key closes its open streams at once, and only its own', async () => {
    const h = await createHarness({ environments: ['production'] })
    try {
      await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })
      const doomed = await h.key('server', 'production')
      const kept = await h.key('server', 'production')
      const client = await h.key('client', 'production')
      const id = (await h.auth.authenticate(doomed))!.id
      const a = await openStream(h, doomed)
      // up to date: it has been sent nothing yet, and is closed all the same
      const b = await openStream(h, doomed, { 'last-event-id': '1' })
      const c = await openStream(h, kept)
      const clientRes = await h.app.request('/client/v1/stream', { method: 'POST', ...auth(client) })
      const d = new SseReader(clientRes.body)
      for (const s of [a, c, d]) expect((await s.next()).event).toBe('put')
      expect(h.delivery.counts()).toMatchObject({ sdk: 3, client: 1 })
      expect((await h.call('DELETE', `${A}/keys/${id}`)).status).toBe(200)
      expect(await a.ends(200)).toBe(true)
      expect(await b.ends(200)).toBe(true)
      expect(await c.ends(100)).toBe(false)
      expect(await d.ends(100)).toBe(false)
      expect(h.delivery.counts()).toMatchObject({ sdk: 1, client: 1 })
      // and the key cannot open a new one
      expect((await h.app.request('/sdk/v1/stream', auth(doomed))).status).toBe(401)
      await c.cancel()
      await d.cancel()
    } finally {
      await h.close()
    }
  })

  it('the key check closes streams whose key was revoked directly in the store', async () => {
    const h = await createHarness({ environments: ['production'], keyCheckMs: 50 })
    try {
      const server = await h.key('server', 'production')
      const client = await h.key('client', 'production')
      const serverId = (await h.auth.authenticate(server))!.id
      const clientId = (await h.auth.authenticate(client))!.id
      const a = await openStream(h, server)
      const b = new SseReader((await h.app.request('/client/v1/stream', { method: 'POST', ...auth(client) })).body)
      await a.next()
      await b.next()
      // another instance (or an operator in SQL) revoked them: no event reached this process
      expect(await h.store.revokeApiKey(serverId, new Date().toISOString())).toBe(true)
      expect(await h.store.revokeApiKey(clientId, new Date().toISOString())).toBe(true)
      expect(await a.ends(5000)).toBe(true)
      expect(await b.ends(5000)).toBe(true)
      expect(h.delivery.counts()).toMatchObject({ sdk: 0, client: 0 })
    } finally {
      await h.close()
    }
  })
})

describe('server-SDK endpoints: malformed requests', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness({ environments: ['production'] })
  })
  afterAll(() => h.close())

  it('answers 4xx problem+json, never 5xx, and opens no stream', async () => {
    const server = await h.key('server', 'production')
    const client = await h.key('client', 'production')
    const cases: [string, RequestInit, number][] = [
      ['/sdk/v1/stream', {}, 401],
      ['/sdk/v1/stream', { headers: { authorization: 'Bearer' } }, 401],
      ['/sdk/v1/stream', { headers: { authorization: 'Basic dXNlcjpwdw==' } }, 401],
      ['/sdk/v1/stream', { headers: { authorization: 'Bearer vane_server_nope' } }, 401],
      ['/sdk/v1/stream', { headers: { 'x-api-key': 'vane_server_nope' } }, 401],
      ['/sdk/v1/stream', auth(client), 403],
      ['/sdk/v1/stream', auth(ADMIN_SECRET), 403],
      ['/sdk/v1/snapshot', {}, 401],
      ['/sdk/v1/snapshot', auth(client), 403],
      ['/sdk/v1/stream', { method: 'POST', ...auth(server), body: '{}' }, 404],
      ['/sdk/v1/snapshot', { method: 'DELETE', ...auth(server) }, 404],
      ['/sdk/v1/streams', auth(server), 404],
      ['/sdk/v2/stream', auth(server), 404],
    ]
    for (const [path, init, status] of cases) {
      const res = await h.app.request(path, init)
      await expectProblem(res, status)
    }
    expect(h.delivery.counts()).toEqual({ sdk: 0, client: 0, events: 0 })
  })
})
