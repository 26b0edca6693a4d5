import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)
const ctx = { targetingKey: 'u1' }

describe('flags routes', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(() => h.close())

  it('GET /flags is empty at first', async () => {
    const res = await h.call('GET', `${A}/flags`)
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({ items: [] })
  })

  it('PUT creates (201, ETag "1"): one change per environment, one audit entry, the hub serves it', async () => {
    const before = await mark(h)
    const res = await h.call('PUT', `${A}/flags/banner`, {
      type: 'string',
      variants: { off: 'none', blue: 'blue', red: 'red' },
      description: 'hero banner',
      tags: ['ui'],
      owner: 'web',
    })
    expect(res.status).toBe(201)
    expect(res.headers.get('etag')).toBe('"1"')
    const flag = await json(res)
    expect(flag).toEqual({
      key: 'banner',
      type: 'string',
      variants: { off: 'none', blue: 'blue', red: 'red' },
      description: 'hero banner',
      tags: ['ui'],
      owner: 'web',
      archived: false,
      version: 1,
      createdAt: ISO,
      updatedAt: ISO,
    })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bootstrap',
        action: 'flag.create',
        entityType: 'flag',
        entityKey: 'banner',
        environment: null,
        reason: null,
        before: null,
        after: flag,
      }),
    ])
    for (const env of ['production', 'staging'])
      expect(h.hub.get(env)?.evaluate('banner', ctx, 'x')).toMatchObject({
        value: 'none',
        reason: 'DISABLED',
        flagVersion: 1,
      })
  })

  it('GET /flags/:key answers the definition with its version as ETag', async () => {
    const res = await h.call('GET', `${A}/flags/banner`)
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"1"')
    expect(await json(res)).toMatchObject({ key: 'banner', version: 1, archived: false })
  })

  it('GET /flags lists live flags', async () => {
    const { items } = await json<{ items: { key: string }[] }>(await h.call('GET', `${A}/flags`))
    expect(items.map((f) => f.key)).toEqual(['banner'])
  })

  it('PUT with a matching If-Match updates (200): before and after in the audit, the hub follows', async () => {
    const before = await mark(h)
    const res = await h.call(
      'PUT',
      `${A}/flags/banner`,
      { type: 'string', variants: { off: 'hidden', blue: 'blue', red: 'red' }, tags: ['ui', 'home'] },
      { 'if-match': '"1"' },
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"2"')
    const flag = await json(res)
    expect(flag).toMatchObject({ version: 2, description: null, owner: null, tags: ['ui', 'home'] })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        action: 'flag.update',
        entityKey: 'banner',
        before: expect.objectContaining({ version: 1, variants: { off: 'none', blue: 'blue', red: 'red' } }),
        after: flag,
      }),
    ])
    expect(h.hub.get('production')?.evaluate('banner', ctx, 'x')).toMatchObject({ value: 'hidden', flagVersion: 2 })
  })

  it('accepts weak and unquoted ETags in If-Match', async () => {
    const body = { type: 'string', variants: { off: 'hidden', blue: 'blue', red: 'red' }, tags: ['ui', 'home'] }
    expect((await h.call('PUT', `${A}/flags/banner`, body, { 'if-match': 'W/"2"' })).status).toBe(200)
    expect((await h.call('PUT', `${A}/flags/banner`, body, { 'if-match': '3' })).status).toBe(200)
    expect((await h.call('GET', `${A}/flags/banner`)).headers.get('etag')).toBe('"4"')
  })

  it('a stale If-Match is a 412 that changes nothing', async () => {
    const current = await json(await h.call('GET', `${A}/flags/banner`))
    await expectNoChange(h, async () => {
      const res = await h.call(
        'PUT',
        `${A}/flags/banner`,
        { type: 'string', variants: { off: 'gone' } },
        { 'if-match': '"1"' },
      )
      await expectProblem(res, 412)
    })
    expect(await json(await h.call('GET', `${A}/flags/banner`))).toEqual(current)
    expect(h.hub.get('production')?.evaluate('banner', ctx, 'x')).toMatchObject({ value: 'hidden' })
  })

  it('If-Match "*" needs the flag to exist; "0" creates', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('PUT', `${A}/flags/fresh`, boolFlag(), { 'if-match': '*' }), 412)
    })
    expect((await h.call('PUT', `${A}/flags/fresh`, boolFlag(), { 'if-match': '"0"' })).status).toBe(201)
    expect((await h.call('PUT', `${A}/flags/fresh`, boolFlag(), { 'if-match': '*' })).status).toBe(200)
  })

  it("a flag's type cannot change (409), and nothing changes", async () => {
    await expectNoChange(h, async () => {
      const res = await h.call('PUT', `${A}/flags/fresh`, { type: 'string', variants: { on: 'y', off: 'n' } })
      await expectProblem(res, 409, ['/type'])
    })
    expect(await json(await h.call('GET', `${A}/flags/fresh`))).toMatchObject({ type: 'boolean', version: 2 })
  })

  it('removing a variant the targeting still serves is a 422 pointing into that targeting', async () => {
    await h.call('PUT', `${A}/environments/staging/flags/banner`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'red' },
    })
    await expectNoChange(h, async () => {
      const res = await h.call('PUT', `${A}/flags/banner`, { type: 'string', variants: { off: 'x', blue: 'b' } })
      await expectProblem(res, 422, ['/environments/staging/targeting/fallthrough/variant'])
    })
  })

  it("removing a variant another flag's prerequisite needs is a 422 pointing at that reference", async () => {
    await h.call('PUT', `${A}/flags/gate`, boolFlag())
    await h.call('PUT', `${A}/environments/production/flags/gate`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
      prerequisites: [{ flag: 'banner', variants: ['red'] }],
    })
    await expectNoChange(h, async () => {
      const res = await h.call('PUT', `${A}/flags/banner`, { type: 'string', variants: { off: 'x', blue: 'b' } })
      await expectProblem(res, 422, ['/flags/gate/prerequisites/0/variants/0'])
    })
  })

  it('404 for unknown flags', async () => {
    await expectProblem(await h.call('GET', `${A}/flags/nope`), 404)
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('DELETE', `${A}/flags/nope`), 404)
    })
  })

  it('DELETE with a stale If-Match is a 412 that changes nothing', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('DELETE', `${A}/flags/fresh`, undefined, { 'if-match': '"1"' }), 412)
    })
    expect((await h.call('GET', `${A}/flags/fresh`)).status).toBe(200)
  })

  it('DELETE archives (200): gone from every environment, listed only with ?archived=true', async () => {
    const before = await mark(h)
    const res = await h.call('DELETE', `${A}/flags/fresh`, undefined, { 'if-match': '"2"' })
    expect(res.status).toBe(200)
    expect(res.headers.get('etag')).toBe('"3"')
    const flag = await json(res)
    expect(flag).toMatchObject({ key: 'fresh', archived: true, version: 3 })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        action: 'flag.archive',
        entityKey: 'fresh',
        before: expect.objectContaining({ archived: false, version: 2 }),
        after: flag,
      }),
    ])
    for (const env of ['production', 'staging'])
      expect(h.hub.get(env)?.evaluate('fresh', ctx, true)).toMatchObject({
        value: true,
        reason: 'ERROR',
        errorCode: 'FLAG_NOT_FOUND',
      })
    await expectProblem(await h.call('GET', `${A}/flags/fresh`), 404)
    await expectProblem(await h.call('DELETE', `${A}/flags/fresh`), 404)
    const live = await json<{ items: { key: string }[] }>(await h.call('GET', `${A}/flags`))
    expect(live.items.map((f) => f.key)).toEqual(['banner', 'gate'])
    const all = await json<{ items: { key: string; archived: boolean }[] }>(
      await h.call('GET', `${A}/flags?archived=true`),
    )
    expect(all.items.map((f) => [f.key, f.archived])).toEqual([
      ['banner', false],
      ['fresh', true],
      ['gate', false],
    ])
  })

  it('PUT on an archived key revives it (201) with a new version, even with another type', async () => {
    const before = await mark(h)
    const res = await h.call('PUT', `${A}/flags/fresh`, { type: 'number', variants: { low: 1, high: 2 } })
    expect(res.status).toBe(201)
    expect(res.headers.get('etag')).toBe('"4"')
    expect(await json(res)).toMatchObject({ archived: false, version: 4, type: 'number' })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1, staging: 1 })
    expect(audit).toMatchObject([{ action: 'flag.create', before: null }])
    expect(h.hub.get('production')?.evaluate('fresh', ctx, 0)).toMatchObject({ value: 1, reason: 'DISABLED' })
  })
})
