/**
 * Secure mode against a real server: a client key created with `secureMode: true` serves a context only with
 * the hash of its targetingKey (`hex(HMAC-SHA256(secureModeSecret, targetingKey))`, what `secureModeHash` in
 * @vane/sdk-node computes). The browser client sends it (`hash` option, `identify(context, hash)`); without it,
 * or with another user's, the key is refused and the client stops rather than retry.
 */
import { createHmac } from 'node:crypto'
import { OpenFeature, ProviderStatus } from '@openfeature/web-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Vane, VaneServers } from '../../test/support/server.js'
import { createClient, type VaneBrowserClient } from './client.js'
import { VaneWebProvider } from './openfeature.js'

const ENV = 'secure'
const servers = new VaneServers()
const clients: VaneBrowserClient[] = []
let vane: Vane
let clientKey: string
let secret: string

const hashOf = (targetingKey: string) => createHmac('sha256', secret).update(targetingKey, 'utf8').digest('hex')

function client(context: { targetingKey: string }, hash?: string) {
  const c = createClient({ url: vane.url, clientKey, context, hash, cache: false })
  clients.push(c)
  const errors: (Error & { status?: number })[] = []
  c.on('error', (e) => errors.push(e))
  return { c, errors }
}

beforeAll(async () => {
  vane = await servers.start()
  await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
  await vane.admin('PUT', '/admin/v1/flags/greeting', { type: 'string', variants: { a: 'hello', b: 'hi' } }, [201])
  await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/greeting`, {
    enabled: true,
    offVariant: 'a',
    fallthrough: { variant: 'a' },
    targets: { b: ['user-2'] },
  })
  const reply = await vane.admin(
    'POST',
    '/admin/v1/keys',
    { kind: 'client', name: 'secure', environment: ENV, secureMode: true },
    [201],
  )
  const created = reply.json as { secret: string; secureModeSecret?: string }
  if (created.secureModeSecret === undefined) throw new Error(`no secureModeSecret in ${reply.text}`)
  clientKey = created.secret
  secret = created.secureModeSecret
}, 30_000)

afterAll(async () => {
  await OpenFeature.clearProviders()
  for (const c of clients) c.close()
  await servers.stopAll()
})

describe('secure mode against a real server', () => {
  it('with the right hash: values, and identify with the next user’s hash', async () => {
    const { c, errors } = client({ targetingKey: 'user-1' }, hashOf('user-1'))
    await c.waitForReady(5_000)
    expect(c.getString('greeting', 'none')).toBe('hello')
    await c.identify({ targetingKey: 'user-2' }, hashOf('user-2'))
    expect(c.getString('greeting', 'none')).toBe('hi')
    expect(errors).toEqual([])
  })

  for (const [name, hash] of [
    ['without a hash', undefined],
    ["with another user's hash", 'other'],
  ] as const)
    it(`${name}: refused (403), an error event, no retry`, async () => {
      const { c, errors } = client({ targetingKey: 'user-1' }, hash === 'other' ? hashOf('user-2') : hash)
      for (let waited = 0; errors.length === 0 && waited < 5_000; waited += 20)
        await new Promise((r) => setTimeout(r, 20))
      expect(errors.map((e) => e.status)).toEqual([403])
      expect(c.isReady).toBe(false)
      expect(c.getStringDetails('greeting', 'none')).toMatchObject({ value: 'none', errorCode: 'PROVIDER_NOT_READY' })
    })
})

describe('secure mode through the OpenFeature provider', () => {
  it('the hash goes along while the targetingKey stays the one it signs', async () => {
    const provider = new VaneWebProvider({ url: vane.url, clientKey, hash: hashOf('user-2'), cache: false })
    await OpenFeature.setProviderAndWait('secure', provider, { targetingKey: 'user-2' })
    const client = OpenFeature.getClient('secure')
    expect(client.getStringValue('greeting', 'none')).toBe('hi')
    // another attribute, the same user: still signed
    await OpenFeature.setContext('secure', { targetingKey: 'user-2', plan: 'pro' })
    expect(client.providerStatus).toBe(ProviderStatus.READY)
    expect(client.getStringValue('greeting', 'none')).toBe('hi')
    // another user: no hash for them, so the key refuses; the context change fails instead of hanging
    const started = Date.now()
    await OpenFeature.setContext('secure', { targetingKey: 'user-1' })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(client.providerStatus).toBe(ProviderStatus.ERROR)
  })
})
