import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json, mark, since } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)

describe('environments routes', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
    expect((await h.call('PUT', `${A}/flags/checkout`, boolFlag())).status).toBe(201)
  })
  afterAll(() => h.close())

  it('GET /environments lists every environment with its version', async () => {
    const res = await h.call('GET', `${A}/environments`)
    expect(res.status).toBe(200)
    expect(await json(res)).toEqual({
      items: [
        { key: 'production', name: 'production', version: 1, createdAt: ISO },
        { key: 'staging', name: 'staging', version: 1, createdAt: ISO },
      ],
    })
  })

  it('POST /environments creates one (201, Location), audited, touching no other environment', async () => {
    const before = await mark(h)
    const res = await h.call('POST', `${A}/environments`, { key: 'qa', name: 'Quality' })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe('/admin/v1/environments/qa')
    const env = await json(res)
    expect(env).toEqual({ key: 'qa', name: 'Quality', version: 0, createdAt: ISO })

    const { moved, audit } = await since(h, before)
    expect(moved).toEqual({})
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bootstrap',
        action: 'environment.create',
        entityType: 'environment',
        entityKey: 'qa',
        environment: null,
        reason: null,
        before: null,
        after: env,
      }),
    ])
    // existing flags start disabled there, and the hub already serves it
    expect(h.hub.get('qa')?.evaluate('checkout', { targetingKey: 'u1' }, true)).toMatchObject({
      value: false,
      variant: 'off',
      reason: 'DISABLED',
    })
  })

  it('names default to the key', async () => {
    const res = await h.call('POST', `${A}/environments`, { key: 'dev' })
    expect(res.status).toBe(201)
    expect(await json(res)).toMatchObject({ key: 'dev', name: 'dev', version: 0 })
  })

  it('a duplicate key is a 409 that changes nothing', async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('POST', `${A}/environments`, { key: 'qa', name: 'Other' }), 409)
    })
    const { items } = await json<{ items: { key: string; name: string }[] }>(await h.call('GET', `${A}/environments`))
    expect(items.find((e) => e.key === 'qa')?.name).toBe('Quality')
  })
})
