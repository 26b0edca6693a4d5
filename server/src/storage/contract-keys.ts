import { expect, it } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { apiKey, DUPLICATE, environment, flag, MISSING, T2, T3, trigger } from './contract-fixtures.js'

export function keyContract(store: CurrentStore): void {
  it('stores API keys, finds them by id and hash, revokes them once', async () => {
    await store().insertEnvironment(environment('production'))
    const admin = apiKey('a', { kind: 'admin', environment: null, allowedOrigins: [], createdAt: T2 })
    const client = apiKey('c')
    await store().insertApiKey(admin)
    await store().insertApiKey(client)
    await expect(store().insertApiKey(apiKey('dup', { hash: client.hash }))).rejects.toMatchObject(DUPLICATE)
    await expect(store().insertApiKey(apiKey('x', { environment: 'nope' }))).rejects.toMatchObject(MISSING)

    expect(await store().getApiKey('a')).toEqual(admin)
    expect(await store().getApiKeyByHash('hash-c')).toEqual(client)
    expect(await store().getApiKeyByHash('nope')).toBeUndefined()
    expect(await store().getApiKey('nope')).toBeUndefined()
    expect((await store().listApiKeys()).map((k) => k.id)).toEqual(['c', 'a'])

    expect(await store().revokeApiKey('c', T2)).toBe(true)
    expect(await store().revokeApiKey('c', T3)).toBe(true)
    expect((await store().getApiKeyByHash('hash-c'))?.revokedAt).toBe(T2)
    expect(await store().revokeApiKey('nope', T2)).toBe(false)
    expect((await store().getApiKey('a'))?.revokedAt).toBeNull()
  })

  it("keeps a client key's secure-mode secret as it was given", async () => {
    await store().insertEnvironment(environment('production'))
    const secure = apiKey('s', { secureModeSecret: 'vane_secure_Zm9vYmFy-_' })
    await store().insertApiKey(secure)
    expect(await store().getApiKey('s')).toEqual(secure)
    expect(await store().getApiKeyByHash(secure.hash)).toEqual(secure)
    expect((await store().listApiKeys()).map((k) => k.secureModeSecret)).toEqual(['vane_secure_Zm9vYmFy-_'])
  })

  it('stores kill triggers per flag, finds them by hash, revokes them once', async () => {
    await store().insertEnvironment(environment('production'))
    await store().upsertFlag(flag('checkout'))
    await store().upsertFlag(flag('search'))
    const first = trigger('t1')
    await store().insertTrigger(first)
    await store().insertTrigger(trigger('t2', { createdAt: T2 }))
    await store().insertTrigger(trigger('t3', { flagKey: 'search' }))
    await expect(store().insertTrigger(trigger('t4', { hash: first.hash }))).rejects.toMatchObject(DUPLICATE)
    await expect(store().insertTrigger(trigger('t5', { flagKey: 'nope' }))).rejects.toMatchObject(MISSING)

    expect((await store().listTriggers('production', { flagKey: 'checkout' })).map((t) => t.id)).toEqual(['t1', 't2'])
    expect(await store().listTriggers('staging', { flagKey: 'checkout' })).toEqual([])
    expect(await store().getTriggerByHash(first.hash)).toEqual(first)
    expect(await store().getTriggerByHash('nope')).toBeUndefined()

    expect(await store().revokeTrigger('t1', T2)).toBe(true)
    expect(await store().revokeTrigger('t1', T3)).toBe(true)
    expect((await store().getTriggerByHash(first.hash))?.revokedAt).toBe(T2)
    expect(await store().revokeTrigger('nope', T2)).toBe(false)
  })

  it('stores kill triggers per tag apart from those per flag', async () => {
    await store().insertEnvironment(environment('production'))
    await store().upsertFlag(flag('checkout'))
    const onTag = trigger('g1', { flagKey: null, tag: 'checkout' })
    await store().insertTrigger(trigger('f1'))
    await store().insertTrigger(onTag)
    await store().insertTrigger(trigger('g2', { flagKey: null, tag: 'payments', createdAt: T2 }))
    // a tag named like a flag is still a tag
    expect((await store().listTriggers('production', { tag: 'checkout' })).map((t) => t.id)).toEqual(['g1'])
    expect((await store().listTriggers('production', { flagKey: 'checkout' })).map((t) => t.id)).toEqual(['f1'])
    expect(await store().listTriggers('production', { tag: 'nope' })).toEqual([])
    expect(await store().getTriggerByHash(onTag.hash)).toEqual(onTag)
    // a trigger acts on one flag or one tag, never both nor neither
    await expect(store().insertTrigger(trigger('both', { tag: 'checkout' }))).rejects.toThrow()
    await expect(store().insertTrigger(trigger('none', { flagKey: null }))).rejects.toThrow()
    expect(await store().getTriggerByHash('trigger-hash-both')).toBeUndefined()
  })
}
