import type { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from './app.js'
import { StreamTokens } from './delivery/tokens.js'
import type { AppEnv } from './http/env.js'
import { expectProblem } from './testing/api.js'
import { createHarness, type Harness, STREAM_SECRET } from './testing/harness.js'

describe('app', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
  })
  afterAll(() => h.close())

  it('answers /healthz and /readyz', async () => {
    const health = await h.app.request('/healthz')
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })
    const ready = await h.app.request('/readyz')
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ ready: true, database: 'up', environments: 2 })
  })

  it('answers unknown routes with problem+json', async () => {
    const res = await h.app.request('/nope')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 404, type: 'urn:vane:problem:not_found' })
  })

  /** The production wiring over the harness's parts, with one more route. */
  const appWith = (extend: (app: Hono<AppEnv>) => void, onUnexpectedError?: (error: unknown, id: string) => void) =>
    createApp({
      store: h.store,
      hub: h.hub,
      feed: h.feed,
      auth: h.auth,
      delivery: h.delivery,
      tokens: new StreamTokens(STREAM_SECRET),
      extend,
      ...(onUnexpectedError !== undefined && { onUnexpectedError }),
    })

  it('answers an unexpected error with a problem+json 500 that has a type, and reports it once', async () => {
    const reported: { error: unknown; requestId: string }[] = []
    const app = appWith(
      (app) =>
        app.get('/boom', () => {
          throw new TypeError('boom')
        }),
      (error, requestId) => reported.push({ error, requestId }),
    )
    const res = await app.request('/boom')
    const body = await expectProblem(res, 500)
    expect(body).toMatchObject({ type: 'urn:vane:problem:internal', title: 'Internal Server Error', instance: '/boom' })
    expect(body.detail).not.toContain('boom')
    expect(reported).toHaveLength(1)
    expect(reported[0]?.error).toBeInstanceOf(TypeError)
    expect((body as unknown as { requestId: string }).requestId).toBe(reported[0]?.requestId)
    expect(res.headers.get('x-request-id')).toBe(reported[0]?.requestId)
  })

  it('maps an error by its code, also one from another copy of the error module', async () => {
    const app = appWith((app) =>
      app.get('/elsewhere', () => {
        // what a VaneError from a second bundled copy looks like: same name and code, another class
        throw Object.assign(new Error('taken'), {
          name: 'VaneError',
          code: 'conflict',
          status: 409,
          issues: [],
          headers: {},
        })
      }),
    )
    const body = await expectProblem(await app.request('/elsewhere'), 409)
    expect(body).toMatchObject({ type: 'urn:vane:problem:conflict', detail: 'taken' })
  })

  it('walks a flag through create, target, kill and unkill', async () => {
    const put = await h.call('PUT', '/admin/v1/flags/new-checkout', {
      type: 'boolean',
      variants: { on: true, off: false },
      tags: ['checkout'],
    })
    expect(put.status).toBe(201)
    expect(put.headers.get('etag')).toBe('"1"')

    const target = await h.call(
      'PUT',
      '/admin/v1/environments/production/flags/new-checkout',
      {
        enabled: true,
        offVariant: 'off',
        fallthrough: { variant: 'off' },
        rules: [
          {
            id: 'staff',
            clauses: [{ attribute: 'email', op: 'endsWith', values: ['@acme.com'] }],
            serve: { variant: 'on' },
          },
        ],
      },
      { 'if-match': '"0"' },
    )
    expect(target.status).toBe(200)
    const staff = { targetingKey: 'u1', email: 'a@acme.com' }
    expect(h.hub.get('production')?.evaluate('new-checkout', staff, false)).toMatchObject({
      value: true,
      ruleId: 'staff',
    })

    const kill = await h.call('POST', '/admin/v1/environments/production/flags/new-checkout/kill', { reason: 'INC-1' })
    expect(kill.status).toBe(200)
    expect(h.hub.get('production')?.evaluate('new-checkout', staff, false)).toMatchObject({
      value: false,
      reason: 'DISABLED',
      killed: true,
    })

    await h.call('POST', '/admin/v1/environments/production/flags/new-checkout/unkill', { reason: 'fixed' })
    expect(h.hub.get('production')?.evaluate('new-checkout', staff, false)).toMatchObject({
      value: true,
      ruleId: 'staff',
    })

    const audit = (await (await h.call('GET', '/admin/v1/audit?entity=flag:new-checkout')).json()) as {
      items: { action: string }[]
    }
    expect(audit.items.map((i: { action: string }) => i.action)).toEqual([
      'flag.unkill',
      'flag.kill',
      'targeting.update',
      'flag.create',
    ])
    expect(audit.items[1]).toMatchObject({ reason: 'INC-1', actor: 'bootstrap', environment: 'production' })
  })
})
