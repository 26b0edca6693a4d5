import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ctx = { targetingKey: 'u1' }

describe('POST /hooks/v1/triggers/:secret', () => {
  let h: Harness
  let url = ''
  let id = ''
  const fire = (body?: string, headers: Record<string, string> = {}) =>
    h.app.request(url, { method: 'POST', headers, ...(body !== undefined && { body }) })
  const killed = () => h.hub.get('production')?.evaluate('search', ctx, true).killed === true

  beforeAll(async () => {
    h = await createHarness()
    expect((await h.call('PUT', `${A}/flags/search`, boolFlag())).status).toBe(201)
    await h.call('PUT', `${A}/environments/production/flags/search`, {
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    })
    const res = await h.call('POST', `${A}/environments/production/flags/search/triggers`, { name: 'pagerduty' })
    const created = await json<{ url: string; id: string }>(res)
    url = created.url
    id = created.id
  })
  afterAll(() => h.close())

  it('with no body and no key, kills the flag; the audit actor is the trigger', async () => {
    const before = await mark(h)
    const res = await fire()
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({ trigger: 'pagerduty', flag: 'search', environment: 'production', killed: true })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1 })
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'trigger:pagerduty',
        action: 'flag.kill',
        entityKey: 'search',
        environment: 'production',
        reason: 'kill by trigger "pagerduty"',
      }),
    ])
    expect(killed()).toBe(true)
    expect(h.hub.get('production')?.evaluate('search', ctx, true)).toMatchObject({ value: false, reason: 'DISABLED' })
  })

  it('firing again changes nothing', async () => {
    await expectNoChange(h, async () => {
      expect(await json(await fire())).toMatchObject({ killed: true })
    })
  })

  it('{"action":"unkill"} unkills, with the given reason', async () => {
    const before = await mark(h)
    const res = await fire(JSON.stringify({ action: 'unkill', reason: 'recovered' }), {
      'content-type': 'application/json',
    })
    expect(await json(res)).toMatchObject({ killed: false })
    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({ production: 1 })
    expect(audit).toMatchObject([{ actor: 'trigger:pagerduty', action: 'flag.unkill', reason: 'recovered' }])
    expect(killed()).toBe(false)
    expect(h.hub.get('production')?.evaluate('search', ctx, false)).toMatchObject({ value: true })
  })

  it('Alertmanager webhooks: "firing" kills, "resolved" unkills', async () => {
    const alert = (status: string) => JSON.stringify({ version: '4', status, alerts: [{ status, labels: {} }] })
    const firing = await fire(alert('firing'), { 'content-type': 'application/json' })
    expect(await json(firing)).toMatchObject({ killed: true })
    expect(killed()).toBe(true)
    const resolved = await fire(alert('resolved'), { 'content-type': 'application/json' })
    expect(await json(resolved)).toMatchObject({ killed: false })
    expect(killed()).toBe(false)
    const audit = await json<{ items: { actor: string; action: string }[] }>(
      await h.call('GET', `${A}/audit?entity=flag:search&limit=2`),
    )
    expect(audit.items.map((a) => [a.actor, a.action])).toEqual([
      ['trigger:pagerduty', 'flag.unkill'],
      ['trigger:pagerduty', 'flag.kill'],
    ])
  })

  it('an explicit action wins over an Alertmanager status', async () => {
    const res = await fire(JSON.stringify({ action: 'kill', status: 'resolved' }), {
      'content-type': 'application/json',
    })
    expect(await json(res)).toMatchObject({ killed: true })
    await fire(JSON.stringify({ action: 'unkill' }))
    expect(killed()).toBe(false)
  })

  it('an unknown action is a 422 that changes nothing', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await fire(JSON.stringify({ action: 'explode' })), 422, ['/action'])
    })
  })

  it('an unknown secret is a 404', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.app.request('/hooks/v1/triggers/vane_trigger_nope', { method: 'POST' }), 404)
    })
  })

  it('a revoked trigger is a 404 and kills nothing', async () => {
    await h.call('DELETE', `${A}/environments/production/flags/search/triggers/${id}`)
    await expectNoChange(h, async () => {
      await expectProblem(await fire(), 404)
    })
    expect(killed()).toBe(false)
  })
})
