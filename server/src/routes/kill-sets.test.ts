import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openPostgresStore } from '../storage/postgres.js'
import type { Store } from '../storage/repository.js'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const url = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)
const user = { targetingKey: 'u1' }

/** A store per dialect: kill sets live in the database, so the scenario runs on both. */
const dialects: Record<string, { open?: () => Promise<Store>; cleanup: () => Promise<void> }> = {
  sqlite: { cleanup: async () => {} },
  postgres: (() => {
    const schema = `vane_test_${randomBytes(6).toString('hex')}`
    return {
      open: () => openPostgresStore({ url, schema }),
      cleanup: async () => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        await client.end()
      },
    }
  })(),
}

describe.each(Object.keys(dialects))('kill sets (%s)', (dialect) => {
  const { open, cleanup } = dialects[dialect]!
  let h: Harness
  const T = (flag: string, rest = '') => `${A}/environments/production/flags/${flag}${rest}`
  const kill = (flag: string, reason: string) => h.call('POST', T(flag, '/kill'), { reason })
  const unkill = (flag: string, body: object) => h.call('POST', T(flag, '/unkill'), body)
  const killTag = (tag: string, reason: string) => h.call('POST', `${A}/environments/production/kill`, { tag, reason })
  const unkillTag = (tag: string, reason: string) =>
    h.call('POST', `${A}/environments/production/unkill`, { tag, reason })
  const targeting = async (flag: string) => json(await h.call('GET', T(flag)))
  const served = (flag: string) => h.hub.get('production')?.evaluate(flag, user, false)
  const fire = (triggerUrl: string, body?: object) =>
    h.app.request(triggerUrl, { method: 'POST', ...(body !== undefined && { body: JSON.stringify(body) }) })

  beforeAll(async () => {
    h = await createHarness(open === undefined ? {} : { openStore: open })
    for (const [key, tags] of [
      ['cart', ['checkout']],
      ['basket', ['checkout']],
      ['search', []],
    ] as const) {
      expect((await h.call('PUT', `${A}/flags/${key}`, boolFlag({ tags }))).status).toBe(201)
      const on = { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } }
      expect((await h.call('PUT', T(key), on)).status).toBe(200)
    }
  })
  afterAll(async () => {
    await h.close()
    await cleanup()
  })

  it("unkilling a tag leaves a flag killed for another incident killed, with that incident's reason", async () => {
    expect((await kill('cart', 'INC-1: cart totals wrong')).status).toBe(200)
    expect(await json(await killTag('checkout', 'INC-2: payment provider down'))).toEqual({
      tag: 'checkout',
      killed: true,
      changed: ['basket', 'cart'],
    })
    expect(await targeting('cart')).toMatchObject({
      killed: true,
      killReason: 'INC-2: payment provider down',
      kills: [
        { source: 'direct', reason: 'INC-1: cart totals wrong', actor: 'bootstrap', at: ISO },
        { source: 'tag', tag: 'checkout', reason: 'INC-2: payment provider down', actor: 'bootstrap', at: ISO },
      ],
    })

    const before = await mark(h)
    const res = await unkillTag('checkout', 'INC-2: provider back')
    expect(await json(res)).toEqual({
      tag: 'checkout',
      killed: false,
      changed: ['basket', 'cart'],
      stillKilled: ['cart'],
    })
    expect(served('basket')).toMatchObject({ value: true })
    expect(served('cart')).toMatchObject({ value: false, reason: 'DISABLED', killed: true })
    const cart = await targeting('cart')
    expect(cart).toMatchObject({ killed: true, killReason: 'INC-1: cart totals wrong' })
    expect(cart.kills).toEqual([{ source: 'direct', reason: 'INC-1: cart totals wrong', actor: 'bootstrap', at: ISO }])
    // the audit log shows each flag's kill set before and after
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 2 })
    expect(audit).toMatchObject([
      {
        action: 'flag.unkill',
        entityKey: 'basket',
        reason: 'INC-2: provider back',
        after: { killed: false, kills: [] },
      },
      {
        action: 'flag.unkill',
        entityKey: 'cart',
        reason: 'INC-2: provider back',
        before: { kills: [{ source: 'direct' }, { source: 'tag', tag: 'checkout' }] },
        after: { killed: true, kills: [{ source: 'direct', reason: 'INC-1: cart totals wrong' }] },
      },
    ])

    expect(await json(await unkill('cart', { reason: 'INC-1: fixed' }))).toMatchObject({ killed: false, kills: [] })
    expect(served('cart')).toMatchObject({ value: true })
  })

  it('a direct unkill lifts the direct kill only and shows what remains; {"all": true} lifts every kill', async () => {
    await killTag('checkout', 'INC-3: checkout down')
    await expectNoChange(h, async () => {
      const res = await unkill('cart', { reason: 'not killed directly' })
      expect(res.status).toBe(200)
      expect(await json(res)).toMatchObject({
        killed: true,
        killReason: 'INC-3: checkout down',
        kills: [{ source: 'tag', tag: 'checkout', reason: 'INC-3: checkout down' }],
      })
    })
    expect(served('cart')).toMatchObject({ killed: true })

    await kill('cart', 'INC-4: also broken')
    const before = await mark(h)
    const all = await json(await unkill('cart', { reason: 'INC-3, INC-4: all clear', all: true }))
    expect(all).toMatchObject({ killed: false, killReason: null, kills: [] })
    const { audit } = await since(h, before)
    expect(audit).toMatchObject([
      {
        action: 'flag.unkill',
        reason: 'INC-3, INC-4: all clear',
        before: { kills: [{ source: 'tag' }, { source: 'direct' }] },
      },
    ])
    expect(served('cart')).toMatchObject({ value: true })
    // the tag's kill stays on the flags it was not lifted from
    expect(served('basket')).toMatchObject({ killed: true })
    expect(await json(await unkillTag('checkout', 'INC-3: fixed'))).toMatchObject({
      changed: ['basket'],
      stillKilled: [],
    })

    await expectProblem(await unkill('cart', { reason: 'x', all: 'yes' }), 422, ['/all'])
    await expectProblem(await unkill('cart', { reason: 'x', also: true }), 422)
  })

  it('a trigger\'s "resolved" lifts only that trigger\'s kill', async () => {
    const created = await json<{ url: string; id: string }>(
      await h.call('POST', T('search', '/triggers'), { name: 'pagerduty' }),
    )
    await kill('search', 'INC-5: search slow')
    expect(await json(await fire(created.url, { status: 'firing' }))).toEqual({
      trigger: 'pagerduty',
      flag: 'search',
      environment: 'production',
      killed: true,
    })
    expect((await targeting('search')).kills).toEqual([
      { source: 'direct', reason: 'INC-5: search slow', actor: 'bootstrap', at: ISO },
      {
        source: 'trigger',
        trigger: created.id,
        reason: 'kill by trigger "pagerduty"',
        actor: 'trigger:pagerduty',
        at: ISO,
      },
    ])
    expect(await json(await fire(created.url, { status: 'resolved' }))).toMatchObject({ killed: true })
    expect(served('search')).toMatchObject({ killed: true })
    expect(await targeting('search')).toMatchObject({ killReason: 'INC-5: search slow', kills: [{ source: 'direct' }] })

    await unkill('search', { reason: 'INC-5: fixed' })
    await fire(created.url)
    expect(await json(await fire(created.url, { status: 'resolved' }))).toMatchObject({ killed: false })
    expect(served('search')).toMatchObject({ value: true })
  })

  it('a trigger on a tag kills every flag carrying it; its "resolved" lifts its own kills only', async () => {
    const res = await h.call('POST', `${A}/environments/production/tags/checkout/triggers`, { name: 'checkout-errors' })
    expect(res.status).toBe(201)
    const created = await json<{ url: string; id: string; secret: string }>(res)
    expect(created).toMatchObject({
      environment: 'production',
      flagKey: null,
      tag: 'checkout',
      name: 'checkout-errors',
    })

    await kill('cart', 'INC-6: cart totals wrong')
    const before = await mark(h)
    expect(await json(await fire(created.url))).toEqual({
      trigger: 'checkout-errors',
      tag: 'checkout',
      environment: 'production',
      killed: true,
      changed: ['basket', 'cart'],
    })
    const { audit } = await since(h, before)
    expect(audit).toMatchObject([
      { actor: 'trigger:checkout-errors', action: 'flag.kill', entityKey: 'basket' },
      { actor: 'trigger:checkout-errors', action: 'flag.kill', entityKey: 'cart' },
    ])
    expect((await targeting('basket')).kills).toEqual([
      {
        source: 'trigger',
        trigger: created.id,
        tag: 'checkout',
        reason: 'kill by trigger "checkout-errors"',
        actor: 'trigger:checkout-errors',
        at: ISO,
      },
    ])
    // an unkill of the tag lifts kills by tag, not the trigger's
    await expectNoChange(h, async () => {
      expect(await json(await unkillTag('checkout', 'x'))).toMatchObject({ changed: [] })
    })

    expect(await json(await fire(created.url, { status: 'resolved' }))).toEqual({
      trigger: 'checkout-errors',
      tag: 'checkout',
      environment: 'production',
      killed: false,
      changed: ['basket', 'cart'],
      stillKilled: ['cart'],
    })
    expect(served('basket')).toMatchObject({ value: true })
    expect(await targeting('cart')).toMatchObject({
      killed: true,
      kills: [{ source: 'direct', reason: 'INC-6: cart totals wrong' }],
    })
    await unkill('cart', { reason: 'INC-6: fixed' })

    const listed = await json<{ items: object[] }>(
      await h.call('GET', `${A}/environments/production/tags/checkout/triggers`),
    )
    expect(listed.items).toEqual([expect.objectContaining({ id: created.id, tag: 'checkout', flagKey: null })])
    expect(listed.items[0]).not.toHaveProperty('hash')
    // the flag's own listing holds only the flag's triggers
    expect((await json<{ items: object[] }>(await h.call('GET', T('cart', '/triggers')))).items).toEqual([])
    const revoked = await h.call('DELETE', `${A}/environments/production/tags/checkout/triggers/${created.id}`)
    expect(await json(revoked)).toMatchObject({ id: created.id, revokedAt: ISO })
    await expectProblem(await fire(created.url), 404)

    await expectProblem(await h.call('GET', `${A}/environments/production/tags/${'t'.repeat(65)}/triggers`), 422)
    await expectProblem(await h.call('GET', `${A}/environments/nope/tags/checkout/triggers`), 404)
    await expectProblem(await h.call('DELETE', `${A}/environments/production/tags/other/triggers/${created.id}`), 404)
  })
})
