import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, expectProblem } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'
import { SseReader } from '../testing/sse-reader.js'

/** Opens `POST /client/v1/stream` for `context` and returns a reader on it. */
async function openClient(h: Harness, secret: string, context: unknown, headers: Record<string, string> = {}) {
  const res = await h.app.request('/client/v1/stream', {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ context }),
  })
  if (res.status !== 200) throw new Error(`client stream answered ${res.status}: ${await res.text()}`)
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  return new SseReader(res.body)
}

interface ClientValue {
  value: unknown
  variant?: string
  reason: string
  version?: number
  errorCode?: string
}

const flagsOf = (data: string) => (JSON.parse(data) as { flags: Record<string, ClientValue> }).flags

/** Everything about targeting that must never reach a browser. */
const SECRETS = [
  'alice',
  'bob',
  'secret-plan-value',
  'member-zed',
  'insiders',
  'pro-rule',
  'insider-rule',
  '"rules"',
  '"clauses"',
  '"targets"',
  '"cohorts"',
  '"fallthrough"',
  '"variants"',
  '"offVariant"',
  '"prerequisites"',
  'ruleId',
]

describe('client stream', () => {
  let h: Harness
  let prodKey: string
  let stagingKey: string
  const version = (flag: string, env = 'production') => h.hub.get(env)!.flag(flag)!.version
  const envVersion = (env = 'production') => h.hub.get(env)!.version
  const bannerTargeting = (plan: string, onKeys: string[]) => ({
    enabled: true,
    offVariant: 'off',
    fallthrough: { variant: 'off' },
    targets: { on: onKeys },
    rules: [{ id: 'pro-rule', clauses: [{ attribute: 'plan', op: 'eq', values: [plan] }], serve: { variant: 'on' } }],
  })
  const ok = async (res: Promise<Response>) => {
    const r = await res
    expect(r.status, await r.clone().text()).toBeLessThan(300)
  }

  beforeAll(async () => {
    h = await createHarness()
    prodKey = await h.key('client', 'production')
    stagingKey = await h.key('client', 'staging')
    await ok(h.call('PUT', `${A}/cohorts/insiders`, { include: ['member-zed'] }))
    for (const flag of ['banner', 'new-ui'])
      await ok(h.call('PUT', `${A}/flags/${flag}`, { type: 'boolean', variants: { on: true, off: false } }))
    await ok(h.call('PUT', `${A}/flags/color`, { type: 'string', variants: { red: '#f00', blue: '#00f' } }))
    await ok(
      h.call(
        'PUT',
        `${A}/environments/production/flags/banner`,
        bannerTargeting('secret-plan-value', ['alice', 'bob']),
      ),
    )
    await ok(
      h.call('PUT', `${A}/environments/production/flags/new-ui`, {
        enabled: true,
        offVariant: 'off',
        fallthrough: { variant: 'off' },
        rules: [{ id: 'insider-rule', cohorts: ['insiders'], serve: { variant: 'on' } }],
      }),
    )
    for (const [env, variant] of [
      ['production', 'blue'],
      ['staging', 'red'],
    ] as const)
      await ok(
        h.call('PUT', `${A}/environments/${env}/flags/color`, {
          enabled: true,
          offVariant: 'red',
          fallthrough: { variant },
        }),
      )
  })
  afterAll(() => h.close())

  it('puts only evaluated values for the context: no rules, clauses, targets or cohort members anywhere', async () => {
    const stream = await openClient(h, prodKey, { targetingKey: 'carol', plan: 'free' })
    const put = await stream.next()
    expect(put.raw.startsWith(`id: ${envVersion()}\nevent: put\ndata: {"flags":{`)).toBe(true)
    expect(flagsOf(put.data)).toEqual({
      banner: { value: false, variant: 'off', reason: 'DEFAULT', version: version('banner') },
      'new-ui': { value: false, variant: 'off', reason: 'DEFAULT', version: version('new-ui') },
      color: { value: '#00f', variant: 'blue', reason: 'DEFAULT', version: version('color') },
    })
    for (const secret of SECRETS) expect(stream.text, secret).not.toContain(secret)
    await stream.cancel()

    // a targeted context sees its own outcome, and still nothing about anyone else
    const alice = await openClient(h, prodKey, { targetingKey: 'alice' })
    expect(flagsOf((await alice.next()).data).banner).toEqual({
      value: true,
      variant: 'on',
      reason: 'TARGETING_MATCH',
      version: version('banner'),
    })
    expect(alice.text).not.toContain('bob')
    expect(alice.text).not.toContain('"targets"')
    await alice.cancel()
  })

  it('sends a patch with only the flag a change affects for this context, and nothing for other changes', async () => {
    const carol = await openClient(h, prodKey, { targetingKey: 'carol', plan: 'free' })
    await carol.next()
    // the rule now matches carol's plan
    await ok(h.call('PUT', `${A}/environments/production/flags/banner`, bannerTargeting('free', ['alice', 'bob'])))
    const patch = await carol.next()
    expect(patch.raw).toBe(
      `id: ${envVersion()}\nevent: patch\ndata: {"flags":{"banner":{"value":true,"reason":"TARGETING_MATCH","variant":"on","version":${version('banner')}}}}\n\n`,
    )
    // changes that leave carol's values as they are: another target, another environment, a new rule's order
    await ok(h.call('PUT', `${A}/environments/production/flags/banner`, bannerTargeting('free', ['alice', 'dave'])))
    await ok(h.call('POST', `${A}/environments/staging/flags/banner/kill`, { reason: 'elsewhere' }))
    await ok(h.call('POST', `${A}/environments/staging/flags/banner/unkill`, { reason: 'elsewhere' }))
    await ok(h.call('PUT', `${A}/cohorts/insiders`, { include: ['member-zed', 'x'] }))
    expect(await carol.collect(200)).toEqual([])
    for (const secret of ['alice', 'dave', 'member-zed', '"rules"', '"targets"'])
      expect(carol.text, secret).not.toContain(secret)
    // back to how it was, for the other tests
    await ok(
      h.call(
        'PUT',
        `${A}/environments/production/flags/banner`,
        bannerTargeting('secret-plan-value', ['alice', 'bob']),
      ),
    )
    expect(flagsOf((await carol.next()).data)).toEqual({
      banner: { value: false, variant: 'off', reason: 'DEFAULT', version: version('banner') },
    })
    await carol.cancel()
  })

  it('a cohort membership change flips a flag for the new member only', async () => {
    const carol = await openClient(h, prodKey, { targetingKey: 'carol' })
    const dan = await openClient(h, prodKey, { targetingKey: 'dan' })
    await carol.next()
    await dan.next()
    await ok(h.call('POST', `${A}/cohorts/insiders/members`, { include: ['carol'] }))
    expect(flagsOf((await carol.next()).data)).toEqual({
      'new-ui': { value: true, variant: 'on', reason: 'TARGETING_MATCH', version: version('new-ui') },
    })
    expect(await dan.collect(150)).toEqual([])
    await ok(h.call('DELETE', `${A}/cohorts/insiders/members`, { include: ['carol'] }))
    expect(flagsOf((await carol.next()).data)['new-ui']).toMatchObject({ value: false, reason: 'DEFAULT' })
    expect(await dan.collect(150)).toEqual([])
    expect(dan.text).not.toContain('carol')
    await carol.cancel()
    await dan.cancel()
  })

  it('a kill reaches it at once, as the off value with reason DISABLED', async () => {
    const stream = await openClient(h, prodKey, { targetingKey: 'erin' })
    expect(flagsOf((await stream.next()).data).color).toMatchObject({ value: '#00f', variant: 'blue' })
    await ok(h.call('POST', `${A}/environments/production/flags/color/kill`, { reason: 'incident' }))
    const patch = await stream.next()
    expect(patch.id).toBe(String(envVersion()))
    expect(flagsOf(patch.data)).toEqual({
      color: { value: '#f00', variant: 'red', reason: 'DISABLED', version: version('color') },
    })
    await ok(h.call('POST', `${A}/environments/production/flags/color/unkill`, { reason: 'over' }))
    expect(flagsOf((await stream.next()).data).color).toMatchObject({ value: '#00f', reason: 'DEFAULT' })
    await stream.cancel()
  })

  it('new flags appear and archived ones are listed as deleted', async () => {
    const stream = await openClient(h, prodKey, { targetingKey: 'frank' })
    await stream.next()
    await ok(h.call('PUT', `${A}/flags/fresh`, { type: 'number', variants: { one: 1, two: 2 } }))
    expect(flagsOf((await stream.next()).data)).toEqual({
      fresh: { value: 1, variant: 'one', reason: 'DISABLED', version: version('fresh') },
    })
    await ok(h.call('DELETE', `${A}/flags/fresh`))
    expect(JSON.parse((await stream.next()).data)).toEqual({ flags: {}, deleted: ['fresh'] })
    await stream.cancel()
  })

  it('a key of one environment sees that environment only', async () => {
    const staging = await openClient(h, stagingKey, { targetingKey: 'alice', plan: 'secret-plan-value' })
    expect(flagsOf((await staging.next()).data)).toEqual({
      // targeted in production, never configured in staging
      banner: { value: false, variant: 'off', reason: 'DISABLED', version: version('banner', 'staging') },
      'new-ui': { value: false, variant: 'off', reason: 'DISABLED', version: version('new-ui', 'staging') },
      color: { value: '#f00', variant: 'red', reason: 'DEFAULT', version: version('color', 'staging') },
    })
    const production = await openClient(h, prodKey, { targetingKey: 'alice', plan: 'secret-plan-value' })
    await production.next()
    // a production change: nothing on the staging stream; a staging change: nothing on the production one
    await ok(
      h.call('PUT', `${A}/environments/production/flags/color`, {
        enabled: true,
        offVariant: 'red',
        fallthrough: { variant: 'red' },
      }),
    )
    expect(flagsOf((await production.next()).data)).toEqual({
      color: { value: '#f00', variant: 'red', reason: 'DEFAULT', version: version('color') },
    })
    expect(await staging.collect(150)).toEqual([])
    await ok(
      h.call('PUT', `${A}/environments/staging/flags/color`, {
        enabled: true,
        offVariant: 'red',
        fallthrough: { variant: 'blue' },
      }),
    )
    expect(flagsOf((await staging.next()).data)).toEqual({
      color: { value: '#00f', variant: 'blue', reason: 'DEFAULT', version: version('color', 'staging') },
    })
    expect(await production.collect(150)).toEqual([])
    expect(h.delivery.counts().client).toBe(2)
    await staging.cancel()
    await production.cancel()
    expect(h.delivery.counts().client).toBe(0)
  })

  it('a client key cannot open the server-SDK stream or read the ruleset', async () => {
    for (const path of ['/sdk/v1/stream', '/sdk/v1/snapshot']) {
      const res = await h.app.request(path, { headers: { authorization: `Bearer ${prodKey}` } })
      const problem = await expectProblem(res, 403)
      expect(problem.detail).toContain('client')
      expect(JSON.stringify(problem)).not.toContain('alice')
    }
    expect(h.delivery.counts().sdk).toBe(0)
  })

  it('answers malformed requests with 4xx problem+json, never 5xx, and opens no stream', async () => {
    const post = (body: string | undefined, headers: Record<string, string> = { authorization: `Bearer ${prodKey}` }) =>
      h.app.request('/client/v1/stream', { method: 'POST', headers, ...(body !== undefined && { body }) })
    const cases: [string | undefined, Record<string, string> | undefined, number][] = [
      ['{}', {}, 401],
      ['{}', { authorization: 'Bearer vane_client_unknown' }, 401],
      ['{}', { 'x-api-key': '' }, 401],
      ['{}', { authorization: `Bearer ${ADMIN_SECRET}` }, 403],
      ['{', undefined, 400],
      ['{"context": {"targetingKey": "x"}', undefined, 400],
      ['\u0000', undefined, 400],
      ['{"context": []}', undefined, 422],
      ['{"context": "carol"}', undefined, 422],
      ['{"context": 42}', undefined, 422],
      ['{"context": true}', undefined, 422],
      ['[]', undefined, 422],
      ['[{"context": {}}]', undefined, 422],
      ['42', undefined, 422],
      ['"carol"', undefined, 422],
      ['null', undefined, 422],
      [JSON.stringify({ context: { blob: 'x'.repeat(2 * 1024 * 1024) } }), undefined, 413],
    ]
    for (const [body, headers, status] of cases) {
      const res = await post(body, headers)
      expect(res.status, `${String(body).slice(0, 40)} → ${res.status}`).toBe(status)
      await expectProblem(res, status)
    }
    await expectProblem(
      await h.app.request('/client/v1/stream', { headers: { authorization: `Bearer ${prodKey}` } }),
      404,
    )
    await expectProblem(
      await h.app.request('/client/v1/streams', { method: 'POST', headers: { authorization: `Bearer ${prodKey}` } }),
      404,
    )
    expect(h.delivery.counts()).toEqual({ sdk: 0, client: 0, events: 0 })
    // an empty body is an empty context; a null context too
    for (const body of [undefined, '', '{}', '{"context": null}']) {
      const res = await post(body)
      expect(res.status, String(body)).toBe(200)
      await res.body!.cancel()
    }
  })

  it('answers browsers only from the origins the key allows', async () => {
    const open = h.delivery.counts().client
    const key = await h.key('client', 'production', ['https://app.example.com'])
    const allowed = await h.app.request('/client/v1/stream', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, origin: 'https://app.example.com' },
      body: '{"context":{"targetingKey":"carol"}}',
    })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    await allowed.body!.cancel()
    const refused = await h.app.request('/client/v1/stream', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, origin: 'https://evil.example.com' },
      body: '{"context":{"targetingKey":"carol"}}',
    })
    await expectProblem(refused, 403)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    expect(h.delivery.counts().client).toBe(open)
  })
})
