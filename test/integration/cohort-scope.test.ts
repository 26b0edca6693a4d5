/**
 * Cohorts reach only the environments that use them, against a real `vane serve` over loopback: a staging server
 * key's stream, snapshot and Node SDK never see a cohort only production's flags reference (nor its members, nor
 * member uploads to it); a staging rule that starts using it brings it along (with the cohorts it references),
 * and the SDK then evaluates it; dropping the last reference deletes it from staging again.
 */
import type { Snapshot } from '@vane/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient, type VaneClient } from '../../sdk-node/dist/index.js'
import { type Vane, VaneServers } from '../support/server.js'
import { clientSnapshot, serverSnapshot, targeting, waitConverged, waitUntil } from './sdk-node-support.js'
import { SseParser, type WireEvent } from './sse-follower.js'

/** One server-SDK stream read over fetch: every event and the raw text, as they arrive. */
class Wire {
  readonly events: WireEvent[] = []
  text = ''
  private readonly abort = new AbortController()

  static async open(url: string, key: string): Promise<Wire> {
    const wire = new Wire()
    const res = await fetch(`${url}/sdk/v1/stream`, {
      headers: { authorization: `Bearer ${key}` },
      signal: wire.abort.signal,
    })
    expect(res.status).toBe(200)
    const parser = new SseParser()
    const decoder = new TextDecoder()
    void (async () => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true })
        wire.text += text
        wire.events.push(...parser.push(text))
      }
    })().catch(() => {})
    await wire.until((e) => e.event === 'put', 'the put')
    return wire
  }

  /** Waits for an event from index `from` on that matches `match`. */
  async until(match: (e: WireEvent) => boolean, what: string, from = 0): Promise<WireEvent> {
    const found = () => this.events.slice(from).find(match)
    return waitUntil(found, 10_000, () => `${what}; got ${JSON.stringify(this.events.slice(from))}`)
  }

  /** Events from index `from` on. */
  since(from: number): WireEvent[] {
    return this.events.slice(from)
  }

  close(): void {
    this.abort.abort()
  }
}

const servers = new VaneServers()
const closers: (() => unknown)[] = []
let vane: Vane
let prodKey: string
let stagingKey: string

const version = async (key: string) => (await serverSnapshot(vane.url, key)).version
const perks = (rules: unknown[]) => ({ enabled: true, offVariant: 'off', rules, fallthrough: { variant: 'off' } })
const vipEuRule = { id: 'vip-eu', cohorts: ['vip-eu'], serve: { variant: 'on' } }

beforeAll(async () => {
  vane = await servers.start()
  for (const key of ['production', 'staging']) await vane.admin('POST', '/admin/v1/environments', { key }, [201])
  prodKey = await vane.createKey({ kind: 'server', environment: 'production' })
  stagingKey = await vane.createKey({ kind: 'server', environment: 'staging' })
  await vane.admin('PUT', '/admin/v1/cohorts/vip', { include: ['vip-alice', 'vip-bob'] }, [201])
  // vip-eu references vip: a flag that uses vip-eu needs both
  const clauses = [
    { op: 'inCohort', values: ['vip'] },
    { attribute: 'region', op: 'eq', values: ['eu'] },
  ]
  await vane.admin('PUT', '/admin/v1/cohorts/vip-eu', { clauses }, [201])
  await vane.admin('PUT', '/admin/v1/flags/perks', { type: 'boolean', variants: { on: true, off: false } })
  await targeting(vane, 'production', 'perks', perks([vipEuRule]))
  await targeting(vane, 'staging', 'perks', perks([]))
}, 30_000)

afterAll(async () => {
  for (const close of closers) await close()
  await servers.stopAll()
})

describe('cohorts per environment', () => {
  let staging: Wire
  let production: Wire
  let sdk: VaneClient

  beforeAll(async () => {
    staging = await Wire.open(vane.url, stagingKey)
    production = await Wire.open(vane.url, prodKey)
    sdk = createClient({ url: vane.url, sdkKey: stagingKey, platform: { random: () => 0 } })
    closers.push(
      () => staging.close(),
      () => production.close(),
      () => sdk.close(),
    )
    await sdk.waitForReady(10_000)
  })

  it('a staging put, snapshot and SDK hold no cohort only production uses, nor its members', async () => {
    const put = JSON.parse(staging.events[0]!.data) as Snapshot
    expect(put.environment).toBe('staging')
    expect(put.cohorts).toEqual({})
    expect(staging.text).not.toContain('vip-alice')
    expect((await serverSnapshot(vane.url, stagingKey)).cohorts).toEqual({})
    expect(clientSnapshot(sdk)?.cohorts).toEqual({})
    // production's put has both, the referenced one's members included
    const prodPut = JSON.parse(production.events[0]!.data) as Snapshot
    expect(Object.keys(prodPut.cohorts).sort()).toEqual(['vip', 'vip-eu'])
    expect(prodPut.cohorts.vip?.include).toEqual(['vip-alice', 'vip-bob'])
  })

  it('member uploads to a cohort staging does not use reach production only', async () => {
    const mark = staging.events.length
    await vane.admin('POST', '/admin/v1/cohorts/vip/members', { include: ['vip-carol'] })
    const v = String(await version(stagingKey))
    const members = await production.until((e) => e.data.includes('vip-carol'), 'the members patch on production')
    expect(JSON.parse(members.data)).toMatchObject({ op: 'members', key: 'vip', add: { include: ['vip-carol'] } })
    // staging gets the version, as a delete of what it does not hold: no definition, no member
    await staging.until((e) => e.id === v, `staging event ${v}`)
    expect(staging.since(mark).map((e) => [e.id, e.event, JSON.parse(e.data)])).toEqual([
      [v, 'delete', { op: 'delete', kind: 'cohort', key: 'vip', version: Number(v) }],
    ])
    expect(staging.text).not.toContain('vip-carol')
    await waitConverged(sdk, vane.url, stagingKey)
    expect(clientSnapshot(sdk)?.cohorts).toEqual({})
  })

  it('a staging rule that starts using a cohort brings it (and what it references) before the change', async () => {
    const mark = staging.events.length
    expect(sdk.getBoolean('perks', false, { targetingKey: 'vip-carol', region: 'eu' })).toBe(false)
    await targeting(vane, 'staging', 'perks', perks([vipEuRule]))
    const v = String(await version(stagingKey))
    await staging.until((e) => e.id === v, `staging event ${v}`)
    const got = staging.since(mark).map((e) => ({ id: e.id, event: e.event, patch: JSON.parse(e.data) }))
    expect(got.map((e) => [e.id, e.event, e.patch.kind, e.patch.key])).toEqual([
      [undefined, 'patch', 'cohort', 'vip'],
      [undefined, 'patch', 'cohort', 'vip-eu'],
      [v, 'patch', 'flag', 'perks'],
    ])
    expect(got[0]!.patch.value.include).toEqual(['vip-alice', 'vip-bob', 'vip-carol'])
    await waitConverged(sdk, vane.url, stagingKey)
    expect(Object.keys(clientSnapshot(sdk)!.cohorts).sort()).toEqual(['vip', 'vip-eu'])
    expect(sdk.getBoolean('perks', false, { targetingKey: 'vip-carol', region: 'eu' })).toBe(true)
    expect(sdk.getBoolean('perks', false, { targetingKey: 'vip-carol', region: 'us' })).toBe(false)
    expect(sdk.getBoolean('perks', false, { targetingKey: 'nobody', region: 'eu' })).toBe(false)

    // now staging uses vip: its member uploads reach staging too
    await vane.admin('POST', '/admin/v1/cohorts/vip/members', { include: ['vip-dave'] })
    await staging.until((e) => e.data.includes('vip-dave'), 'the members patch on staging')
    await waitConverged(sdk, vane.url, stagingKey)
    expect(sdk.getBoolean('perks', false, { targetingKey: 'vip-dave', region: 'eu' })).toBe(true)
  })

  it('dropping the last reference deletes the cohorts from staging; later uploads stay in production', async () => {
    const mark = staging.events.length
    await targeting(vane, 'staging', 'perks', perks([]))
    const v = String(await version(stagingKey))
    await staging.until((e) => e.event === 'delete' && e.data.includes('"vip"'), 'the delete of vip', mark)
    expect(staging.since(mark).map((e) => [e.id, e.event, JSON.parse(e.data).key])).toEqual([
      [v, 'patch', 'perks'],
      // what references first: a client refuses to delete a cohort something still names
      [undefined, 'delete', 'vip-eu'],
      [undefined, 'delete', 'vip'],
    ])
    expect((await serverSnapshot(vane.url, stagingKey)).cohorts).toEqual({})
    await waitConverged(sdk, vane.url, stagingKey)
    expect(clientSnapshot(sdk)?.cohorts).toEqual({})

    const after = staging.events.length
    await vane.admin('POST', '/admin/v1/cohorts/vip/members', { include: ['vip-erin'] })
    const w = String(await version(stagingKey))
    await production.until((e) => e.data.includes('vip-erin'), 'the members patch on production')
    await staging.until((e) => e.id === w, `staging event ${w}`)
    expect(staging.since(after).map((e) => e.event)).toEqual(['delete'])
    expect(staging.text.slice(staging.text.indexOf(`id: ${v}\n`))).not.toContain('vip-erin')
    // production's SDK view is unchanged by all this
    expect(Object.keys((await serverSnapshot(vane.url, prodKey)).cohorts).sort()).toEqual(['vip', 'vip-eu'])
  })
})
