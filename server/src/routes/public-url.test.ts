import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, json } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'

// the Node server builds the request's URL from its Host header, which the client chooses
const SPOOFED = 'http://attacker.example'

async function setUp(h: Harness): Promise<string> {
  expect((await h.call('PUT', `${A}/flags/search`, boolFlag())).status).toBe(201)
  return h.key('client', 'production')
}

const bulk = (h: Harness, key: string) =>
  h.app.request(`${SPOOFED}/ofrep/v1/evaluate/flags`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ context: { targetingKey: 'u1' } }),
  })

const createTrigger = (h: Harness) =>
  h.app.request(`${SPOOFED}${A}/environments/production/flags/search/triggers`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'pd' }),
  })

describe('without a public URL, handed-out URLs never come from the request Host', () => {
  let h: Harness
  let key = ''
  beforeAll(async () => {
    h = await createHarness()
    key = await setUp(h)
  })
  afterAll(() => h.close())

  it('OFREP eventStreams give a path for the provider to resolve against its base URL', async () => {
    const res = await bulk(h, key)
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(text).not.toContain('attacker')
    const { eventStreams } = JSON.parse(text) as { eventStreams: { endpoint: { requestUri: string } }[] }
    expect(eventStreams[0]?.endpoint.requestUri).toMatch(/^\/ofrep\/v1\/events\?token=/)
  })

  it('trigger URLs are paths', async () => {
    const res = await createTrigger(h)
    expect(res.status).toBe(201)
    const { url } = await json<{ url: string }>(res)
    expect(url).toMatch(/^\/hooks\/v1\/triggers\/vane_trigger_/)
  })
})

describe('with a public URL, handed-out URLs are absolute under it', () => {
  let h: Harness
  let key = ''
  beforeAll(async () => {
    h = await createHarness({ publicUrl: 'https://flags.example.com' })
    key = await setUp(h)
  })
  afterAll(() => h.close())

  it('OFREP eventStreams', async () => {
    const { eventStreams } = await json<{ eventStreams: { url: string }[] }>(await bulk(h, key))
    expect(eventStreams[0]?.url).toMatch(/^https:\/\/flags\.example\.com\/ofrep\/v1\/events\?token=/)
  })

  it('trigger URLs', async () => {
    const { url } = await json<{ url: string }>(await createTrigger(h))
    expect(url).toMatch(/^https:\/\/flags\.example\.com\/hooks\/v1\/triggers\/vane_trigger_/)
  })
})
