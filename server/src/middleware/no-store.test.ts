import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const expectPrivate = (res: Response) => {
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
}

describe('admin and trigger answers are never stored or sniffed', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
    expect((await h.call('PUT', `${A}/flags/search`, boolFlag())).status).toBe(201)
  })
  afterAll(() => h.close())

  it('key creation (which shows the secret) and listings', async () => {
    const created = await h.call('POST', `${A}/keys`, { kind: 'server', name: 'api', environment: 'production' })
    expect(created.status).toBe(201)
    expectPrivate(created)
    expectPrivate(await h.call('GET', `${A}/keys`))
    expectPrivate(await h.call('GET', `${A}/flags/search`))
  })

  it('errors, before and after authentication', async () => {
    const unauthenticated = await h.app.request(`${A}/flags`)
    expect(unauthenticated.status).toBe(401)
    expectPrivate(unauthenticated)
    const missing = await h.call('GET', `${A}/flags/nope`)
    expect(missing.status).toBe(404)
    expectPrivate(missing)
  })

  it('trigger creation (which shows the secret URL) and firing', async () => {
    const created = await h.call('POST', `${A}/environments/production/flags/search/triggers`, { name: 'pd' })
    expect(created.status).toBe(201)
    expectPrivate(created)
    const { url } = await json<{ url: string }>(created)
    const fired = await h.app.request(url, { method: 'POST' })
    expect(fired.status).toBe(200)
    expectPrivate(fired)
  })
})
