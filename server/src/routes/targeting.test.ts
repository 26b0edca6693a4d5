import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/)
const staff = { targetingKey: 'u1', email: 'a@acme.com' }
const listed = { targetingKey: 'vip-1' }
const other = { targetingKey: 'u2', email: 'b@example.com' }

const targeting = {
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'off' },
  targets: { on: ['vip-1'] },
  rules: [
    {
      id: 'staff',
      description: 'employees first',
      clauses: [{ attribute: 'email', op: 'endsWith', values: ['@acme.com'] }],
      serve: { variant: 'on' },
    },
  ],
}

describe('targeting routes', () => {
  let h: Harness
  const T = (env: string, flag: string, rest = '') => `${A}/environments/${env}/flags/${flag}${rest}`
  const evaluate = (env: string, flag: string, context: object) => h.hub.get(env)?.evaluate(flag, context, false)

  beforeAll(async () => {
    h = await createHarness()
    for (const [key, tags] of [
      ['checkout', ['payments']],
      ['wallet', ['payments', 'mobile']],
      ['search', ['mobile']],
      ['profile', []],
    ] as const)
      expect((await h.call('PUT', `${A}/flags/${key}`, boolFlag({ tags }))).status).toBe(201)
  })
  afterAll(() => h.close())

  describe('GET/PUT /environments/:env/flags/:key', () => {
    it('GET answers the default, disabled targeting of a flag never configured (ETag "0")', async () => {
      const res = await h.call('GET', T('production', 'checkout'))
      expect(res.status).toBe(200)
      expect(res.headers.get('etag')).toBe('"0"')
      expect(await json(res)).toEqual({
        environment: 'production',
        flagKey: 'checkout',
        enabled: false,
        killed: false,
        killReason: null,
        kills: [],
        offVariant: 'off',
        fallthrough: { variant: 'off' },
        rules: [],
        targets: {},
        prerequisites: [],
        version: 0,
        updatedAt: ISO,
      })
    })

    it('PUT with If-Match "0" replaces it (200): one change in that environment only, audited', async () => {
      const before = await mark(h)
      const res = await h.call('PUT', T('production', 'checkout'), targeting, { 'if-match': '"0"' })
      expect(res.status).toBe(200)
      expect(res.headers.get('etag')).toBe('"1"')
      const config = await json(res)
      expect(config).toEqual({
        environment: 'production',
        flagKey: 'checkout',
        killed: false,
        killReason: null,
        kills: [],
        prerequisites: [],
        version: 1,
        updatedAt: ISO,
        ...targeting,
      })
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ production: 1 })
      expect(audit).toEqual([
        expect.objectContaining({
          actor: 'bootstrap',
          action: 'targeting.update',
          entityType: 'flag',
          entityKey: 'checkout',
          environment: 'production',
          reason: null,
          before: expect.objectContaining({ version: 0, enabled: false }),
          after: config,
        }),
      ])
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: true, ruleId: 'staff' })
      expect(evaluate('production', 'checkout', listed)).toMatchObject({ value: true, reason: 'TARGETING_MATCH' })
      expect(evaluate('production', 'checkout', other)).toMatchObject({ value: false, reason: 'DEFAULT' })
      // the flag version SDKs see is definition + targeting
      expect(evaluate('production', 'checkout', other)).toMatchObject({ flagVersion: 2 })
      expect(evaluate('staging', 'checkout', staff)).toMatchObject({ value: false, reason: 'DISABLED' })
      const read = await h.call('GET', T('production', 'checkout'))
      expect(read.headers.get('etag')).toBe('"1"')
      expect(await json(read)).toEqual(config)
    })

    it('a stale If-Match is a 412 that changes nothing', async () => {
      const current = await json(await h.call('GET', T('production', 'checkout')))
      await expectNoChange(h, async () => {
        const res = await h.call(
          'PUT',
          T('production', 'checkout'),
          { ...targeting, enabled: false },
          { 'if-match': '"0"' },
        )
        await expectProblem(res, 412)
      })
      expect(await json(await h.call('GET', T('production', 'checkout')))).toEqual(current)
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: true, ruleId: 'staff' })
    })

    it('an invalid targeting is a 422 that changes nothing', async () => {
      await expectNoChange(h, async () => {
        const res = await h.call('PUT', T('production', 'checkout'), {
          ...targeting,
          fallthrough: { variant: 'maybe' },
        })
        await expectProblem(res, 422, ['/fallthrough/variant'])
      })
    })

    it('404 for an unknown environment or flag', async () => {
      await expectProblem(await h.call('GET', T('nope', 'checkout')), 404)
      await expectProblem(await h.call('GET', T('production', 'nope')), 404)
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('PUT', T('nope', 'checkout'), targeting), 404)
        await expectProblem(await h.call('PUT', T('production', 'nope'), targeting), 404)
      })
    })
  })

  describe('rules/:ruleId/enable|disable', () => {
    it('disable skips the rule (200, one change, audited); disabling again changes nothing', async () => {
      const before = await mark(h)
      const res = await h.call('POST', T('production', 'checkout', '/rules/staff/disable'), undefined, {
        'if-match': '"1"',
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('etag')).toBe('"2"')
      const config = await json<{ rules: unknown[]; version: number }>(res)
      expect(config.rules).toEqual([{ ...targeting.rules[0], enabled: false }])
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ production: 1 })
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'rule.disable',
          entityKey: 'checkout',
          environment: 'production',
          before: expect.objectContaining({ version: 1 }),
          after: config,
        }),
      ])
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: false, reason: 'DEFAULT' })

      await expectNoChange(h, async () => {
        const again = await h.call('POST', T('production', 'checkout', '/rules/staff/disable'))
        expect(again.status).toBe(200)
        expect(again.headers.get('etag')).toBe('"2"')
      })
    })

    it('a stale If-Match is a 412 that changes nothing', async () => {
      await expectNoChange(h, async () => {
        const res = await h.call('POST', T('production', 'checkout', '/rules/staff/enable'), undefined, {
          'if-match': '"1"',
        })
        await expectProblem(res, 412)
      })
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: false })
    })

    it('enable brings it back', async () => {
      const before = await mark(h)
      const res = await h.call('POST', T('production', 'checkout', '/rules/staff/enable'))
      expect(res.status).toBe(200)
      expect(await json(res)).toMatchObject({ version: 3, rules: [{ id: 'staff', enabled: true }] })
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ production: 1 })
      expect(audit).toMatchObject([{ action: 'rule.enable' }])
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: true, ruleId: 'staff' })
    })

    it('404 for an unknown rule, flag or environment', async () => {
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', T('production', 'checkout', '/rules/nope/disable')), 404)
        await expectProblem(await h.call('POST', T('production', 'nope', '/rules/staff/disable')), 404)
        await expectProblem(await h.call('POST', T('nope', 'checkout', '/rules/staff/disable')), 404)
      })
    })
  })

  describe('kill and unkill', () => {
    it('kill serves the off variant (200, one change, audited with the reason) and keeps the targeting', async () => {
      const kept = await json(await h.call('GET', T('production', 'checkout')))
      const before = await mark(h)
      const res = await h.call('POST', T('production', 'checkout', '/kill'), { reason: 'INC-42' })
      expect(res.status).toBe(200)
      expect(res.headers.get('etag')).toBe('"4"')
      const config = await json(res)
      expect(config).toEqual({
        ...kept,
        killed: true,
        killReason: 'INC-42',
        kills: [{ source: 'direct', reason: 'INC-42', actor: 'bootstrap', at: ISO }],
        version: 4,
        updatedAt: ISO,
      })
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ production: 1 })
      expect(audit).toEqual([
        expect.objectContaining({
          actor: 'bootstrap',
          action: 'flag.kill',
          entityKey: 'checkout',
          environment: 'production',
          reason: 'INC-42',
          before: kept,
          after: config,
        }),
      ])
      expect(evaluate('production', 'checkout', staff)).toMatchObject({
        value: false,
        reason: 'DISABLED',
        killed: true,
      })
    })

    it('killing a killed flag changes nothing', async () => {
      await expectNoChange(h, async () => {
        const res = await h.call('POST', T('production', 'checkout', '/kill'), { reason: 'again' })
        expect(res.status).toBe(200)
        expect(await json(res)).toMatchObject({ version: 4, killReason: 'INC-42' })
      })
    })

    it('unkill restores the targeting exactly', async () => {
      const killed = await json(await h.call('GET', T('production', 'checkout')))
      const before = await mark(h)
      const res = await h.call('POST', T('production', 'checkout', '/unkill'), { reason: 'fixed' })
      expect(res.status).toBe(200)
      const config = await json(res)
      expect(config).toEqual({ ...killed, killed: false, killReason: null, kills: [], version: 5, updatedAt: ISO })
      expect(config).toMatchObject(targeting)
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ production: 1 })
      expect(audit).toMatchObject([{ action: 'flag.unkill', reason: 'fixed', before: killed, after: config }])
      expect(evaluate('production', 'checkout', staff)).toMatchObject({ value: true, ruleId: 'staff' })
      expect(evaluate('production', 'checkout', listed)).toMatchObject({ value: true, reason: 'TARGETING_MATCH' })

      await expectNoChange(h, async () => {
        expect((await h.call('POST', T('production', 'checkout', '/unkill'), { reason: 'again' })).status).toBe(200)
      })
    })

    it('kill needs a reason and a known environment and flag', async () => {
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', T('production', 'checkout', '/kill'), {}), 422, ['/reason'])
        await expectProblem(await h.call('POST', T('nope', 'checkout', '/kill'), { reason: 'r' }), 404)
        await expectProblem(await h.call('POST', T('production', 'nope', '/kill'), { reason: 'r' }), 404)
        await expectProblem(await h.call('POST', T('production', 'nope', '/unkill'), { reason: 'r' }), 404)
      })
    })
  })

  describe('kill and unkill by tag', () => {
    it('kills exactly the tagged flags in one transaction', async () => {
      const before = await mark(h)
      const res = await h.call('POST', `${A}/environments/staging/kill`, { tag: 'payments', reason: 'PSP down' })
      expect(res.status).toBe(200)
      expect(await json(res)).toEqual({ tag: 'payments', killed: true, changed: ['checkout', 'wallet'] })
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ staging: 2 })
      expect(audit).toMatchObject([
        { action: 'flag.kill', entityKey: 'checkout', environment: 'staging', reason: 'PSP down' },
        { action: 'flag.kill', entityKey: 'wallet', environment: 'staging', reason: 'PSP down' },
      ])
      expect(audit[0]?.at).toBe(audit[1]?.at)
      for (const flag of ['checkout', 'wallet'])
        expect(evaluate('staging', flag, staff)).toMatchObject({ killed: true })
      for (const flag of ['search', 'profile']) expect(evaluate('staging', flag, staff)).not.toHaveProperty('killed')
      expect(evaluate('production', 'checkout', staff)).not.toHaveProperty('killed')
      for (const flag of ['search', 'profile'])
        expect(await json(await h.call('GET', T('staging', flag)))).toMatchObject({ killed: false, version: 0 })
    })

    it("adds the tag's kill to flags killed already; the same tag again changes nothing", async () => {
      const before = await mark(h)
      const res = await h.call('POST', `${A}/environments/staging/kill`, { tag: 'mobile', reason: 'app crash' })
      expect(await json(res)).toEqual({ tag: 'mobile', killed: true, changed: ['search', 'wallet'] })
      expect((await since(h, before)).moved).toEqual({ staging: 2 })
      expect(await json(await h.call('GET', T('staging', 'wallet')))).toMatchObject({
        killed: true,
        killReason: 'app crash',
        kills: [
          { source: 'tag', tag: 'payments', reason: 'PSP down', actor: 'bootstrap', at: ISO },
          { source: 'tag', tag: 'mobile', reason: 'app crash', actor: 'bootstrap', at: ISO },
        ],
      })
      await expectNoChange(h, async () => {
        const again = await h.call('POST', `${A}/environments/staging/kill`, { tag: 'payments', reason: 'x' })
        expect(await json(again)).toEqual({ tag: 'payments', killed: true, changed: [] })
        const none = await h.call('POST', `${A}/environments/staging/kill`, { tag: 'no-such-tag', reason: 'x' })
        expect(await json(none)).toEqual({ tag: 'no-such-tag', killed: true, changed: [] })
      })
    })

    it("unkill by tag lifts that tag's kills only: a flag another tag killed stays killed", async () => {
      const before = await mark(h)
      const res = await h.call('POST', `${A}/environments/staging/unkill`, { tag: 'payments', reason: 'PSP back' })
      expect(res.status).toBe(200)
      expect(await json(res)).toEqual({
        tag: 'payments',
        killed: false,
        changed: ['checkout', 'wallet'],
        stillKilled: ['wallet'],
      })
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({ staging: 2 })
      expect(audit.map((a) => a.action)).toEqual(['flag.unkill', 'flag.unkill'])
      expect(evaluate('staging', 'checkout', staff)).not.toHaveProperty('killed')
      expect(evaluate('staging', 'wallet', staff)).toMatchObject({ killed: true })
      expect(evaluate('staging', 'search', staff)).toMatchObject({ killed: true })
      expect(await json(await h.call('GET', T('staging', 'wallet')))).toMatchObject({
        killReason: 'app crash',
        kills: [{ source: 'tag', tag: 'mobile', reason: 'app crash' }],
      })

      const back = await h.call('POST', `${A}/environments/staging/unkill`, { tag: 'mobile', reason: 'app fixed' })
      expect(await json(back)).toEqual({ tag: 'mobile', killed: false, changed: ['search', 'wallet'], stillKilled: [] })
      for (const flag of ['wallet', 'search']) expect(evaluate('staging', flag, staff)).not.toHaveProperty('killed')
      await expectNoChange(h, async () => {
        const again = await h.call('POST', `${A}/environments/staging/unkill`, { tag: 'mobile', reason: 'x' })
        expect(await json(again)).toEqual({ tag: 'mobile', killed: false, changed: [], stillKilled: [] })
      })
    })

    it('404 for an unknown environment', async () => {
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', `${A}/environments/nope/kill`, { tag: 'payments', reason: 'x' }), 404)
      })
    })
  })

  describe('kill triggers', () => {
    let id = ''
    it('POST creates one (201), showing its secret and URL once; no environment changes', async () => {
      const before = await mark(h)
      const res = await h.call('POST', T('production', 'profile', '/triggers'), { name: 'datadog' })
      expect(res.status).toBe(201)
      const created = await json<{ id: string; secret: string; url: string }>(res)
      expect(created).toEqual({
        id: expect.any(String),
        environment: 'production',
        flagKey: 'profile',
        tag: null,
        name: 'datadog',
        prefix: created.secret.slice(0, 18),
        createdAt: ISO,
        revokedAt: null,
        secret: expect.stringMatching(/^vane_trigger_[A-Za-z0-9_-]{43}$/),
        url: `/hooks/v1/triggers/${created.secret}`,
      })
      id = created.id
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({})
      expect(audit).toEqual([
        expect.objectContaining({
          action: 'trigger.create',
          entityType: 'flag',
          entityKey: 'profile',
          environment: 'production',
          before: null,
        }),
      ])
      expect(JSON.stringify(audit)).not.toContain(created.secret)
      expect(audit[0]?.after).not.toHaveProperty('hash')
    })

    it('GET lists triggers without secret or hash', async () => {
      const res = await h.call('GET', T('production', 'profile', '/triggers'))
      expect(res.status).toBe(200)
      const { items } = await json<{ items: Record<string, unknown>[] }>(res)
      expect(items).toEqual([
        {
          id,
          environment: 'production',
          flagKey: 'profile',
          tag: null,
          name: 'datadog',
          prefix: expect.stringMatching(/^vane_trigger_[A-Za-z0-9_-]{5}$/),
          createdAt: ISO,
          revokedAt: null,
        },
      ])
      expect(await json(await h.call('GET', T('staging', 'profile', '/triggers')))).toEqual({ items: [] })
    })

    it('DELETE revokes (200); revoking again changes nothing', async () => {
      const before = await mark(h)
      const res = await h.call('DELETE', T('production', 'profile', `/triggers/${id}`))
      expect(res.status).toBe(200)
      const revoked = await json(res)
      expect(revoked).toMatchObject({ id, name: 'datadog', revokedAt: ISO })
      expect(revoked).not.toHaveProperty('hash')
      const { moved, audit } = await since(h, before)
      expect(moved).toEqual({})
      expect(audit).toMatchObject([{ action: 'trigger.revoke', entityKey: 'profile', environment: 'production' }])
      await expectNoChange(h, async () => {
        expect((await h.call('DELETE', T('production', 'profile', `/triggers/${id}`))).status).toBe(200)
      })
      const { items } = await json<{ items: unknown[] }>(await h.call('GET', T('production', 'profile', '/triggers')))
      expect(items).toEqual([expect.objectContaining({ id, revokedAt: ISO })])
    })

    it('404 for an unknown environment, flag or trigger', async () => {
      await expectProblem(await h.call('GET', T('nope', 'profile', '/triggers')), 404)
      await expectProblem(await h.call('GET', T('production', 'nope', '/triggers')), 404)
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', T('nope', 'profile', '/triggers'), { name: 'x' }), 404)
        await expectProblem(await h.call('POST', T('production', 'nope', '/triggers'), { name: 'x' }), 404)
        await expectProblem(await h.call('DELETE', T('production', 'profile', '/triggers/nope')), 404)
        // a trigger is only found under its own flag and environment
        await expectProblem(await h.call('DELETE', T('staging', 'profile', `/triggers/${id}`)), 404)
      })
    })
  })
})
