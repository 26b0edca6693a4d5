import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { audit, change, DUPLICATE, environment, MISSING, T1, T2, T3 } from './contract-fixtures.js'

export function logContract(store: CurrentStore): void {
  it('appends changes and reads them back by version, ascending, with a limit', async () => {
    for (const env of ['production', 'staging']) await store().insertEnvironment(environment(env))
    expect(await store().oldestChange('production')).toBeUndefined()
    expect(await store().changesSince('production', 0, 10)).toEqual([])

    // payloads of every JSON kind, including a string that looks like a number
    const payloads = [{ a: [1, { b: null }] }, '42', null, [true, 'x'], 3.5, { members: { add: ['u1'] } }]
    for (const [i, version] of [3, 1, 2, 6, 4, 5].entries()) {
      await store().appendChange(change('production', version, { payload: payloads[i]!, createdAt: T2 }))
    }
    await store().appendChange(change('staging', 9, { entity: 'cohort', op: 'members', key: 'beta' }))
    await expect(store().appendChange(change('production', 2))).rejects.toMatchObject(DUPLICATE)
    await expect(store().appendChange(change('nope', 1))).rejects.toMatchObject(MISSING)

    const all = await store().changesSince('production', 0, 100)
    expect(all.map((c) => c.version)).toEqual([1, 2, 3, 4, 5, 6])
    expect(all[2]).toEqual(change('production', 3, { payload: payloads[0]!, createdAt: T2 }))
    expect(all.map((c) => c.payload)).toEqual([
      payloads[1],
      payloads[2],
      payloads[0],
      payloads[4],
      payloads[5],
      payloads[3],
    ])
    expect((await store().changesSince('production', 2, 3)).map((c) => c.version)).toEqual([3, 4, 5])
    expect(await store().changesSince('production', 6, 10)).toEqual([])
    expect(await store().changesSince('staging', 0, 10)).toEqual([
      change('staging', 9, { entity: 'cohort', op: 'members', key: 'beta' }),
    ])
    expect(await store().oldestChange('production')).toBe(1)
    expect(await store().oldestChange('staging')).toBe(9)
  })

  it('appends audit entries with increasing ids and round-trips them', async () => {
    const first = await store().appendAudit(audit())
    const second = await store().appendAudit(audit({ environment: null, before: null, after: 'x', reason: null }))
    expect(second).toBeGreaterThan(first)
    expect(await store().listAudit({ limit: 10 })).toEqual([
      { id: second, ...audit({ environment: null, before: null, after: 'x', reason: null }) },
      { id: first, ...audit() },
    ])
  })

  it('pages the audit log newest first, by cursor, entity and time', async () => {
    const entries = [
      audit({ entityKey: 'checkout', at: T1 }),
      audit({ entityType: 'cohort', entityKey: 'beta', at: T1 }),
      audit({ entityKey: 'search', at: T2 }),
      audit({ entityKey: 'checkout', at: T2 }),
      audit({ entityType: 'key', entityKey: 'k1', at: T3 }),
      audit({ entityKey: 'checkout', at: T3 }),
    ]
    const ids: number[] = []
    for (const entry of entries) ids.push(await store().appendAudit(entry))
    const list = async (query: Parameters<ReturnType<CurrentStore>['listAudit']>[0]) =>
      (await store().listAudit(query)).map((a) => ids.indexOf(a.id))

    expect(await list({ limit: 100 })).toEqual([5, 4, 3, 2, 1, 0])
    expect(await list({ limit: 2 })).toEqual([5, 4])
    expect(await list({ limit: 2, before: ids[4]! })).toEqual([3, 2])
    expect(await list({ limit: 2, before: ids[0]! })).toEqual([])
    expect(await list({ limit: 100, entity: 'flag' })).toEqual([5, 3, 2, 0])
    expect(await list({ limit: 100, entity: 'flag:checkout' })).toEqual([5, 3, 0])
    expect(await list({ limit: 1, entity: 'flag:checkout', before: ids[5]! })).toEqual([3])
    expect(await list({ limit: 100, entity: 'cohort:beta' })).toEqual([1])
    expect(await list({ limit: 100, entity: 'flag:nope' })).toEqual([])
    expect(await list({ limit: 100, since: T2 })).toEqual([5, 4, 3, 2])
    // the same instant written with an offset
    expect(await list({ limit: 100, since: '2025-03-04T07:06:07.890+02:00' })).toEqual([5, 4])
    expect(await list({ limit: 100, since: T2, entity: 'flag:checkout', before: ids[5]! })).toEqual([3])
  })
}
