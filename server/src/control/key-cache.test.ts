import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Store } from '../storage/repository.js'
import { createHarness, type Harness } from '../testing/harness.js'
import { KeyAuthenticator, UNKNOWN_KEYS_CACHE_BYTES } from './keys.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

describe('KeyAuthenticator caches', () => {
  let h: Harness
  let down = false
  let store: Store
  beforeAll(async () => {
    h = await createHarness()
    // the real store, with a switch that makes key lookups fail as a database outage does
    store = {
      ...h.store,
      getApiKeyByHash: async (hash) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
        return h.store.getApiKeyByHash(hash)
      },
    }
  })
  afterAll(() => h.close())

  it('keep no junk secret verbatim: 128 MB of them cost a bounded few megabytes', async () => {
    const auth = new KeyAuthenticator(store)
    const before = heapUsed()
    for (let i = 0; i < 2_000; i++) {
      const junk = `${i}-${'x'.repeat(64 * 1024)}`
      expect(await auth.authenticate(junk)).toBeUndefined()
    }
    const grown = heapUsed() - before
    expect(grown).toBeLessThan(UNKNOWN_KEYS_CACHE_BYTES + 8 * 1024 * 1024)
    expect(auth.cachedBytes().unknown).toBeLessThanOrEqual(UNKNOWN_KEYS_CACHE_BYTES)
    expect(auth.cachedBytes().known).toBe(0)
  })

  it('a known key survives a flood of unknown ones and keeps working while the database is down', async () => {
    let t = 0
    const auth = new KeyAuthenticator(store, { now: () => t, unknownBytes: 64 * 1024 })
    const secret = await h.key('server', 'production')
    expect((await auth.authenticate(secret))?.kind).toBe('server')
    for (let i = 0; i < 5_000; i++) await auth.authenticate(`vane_server_junk${i}`)
    expect(auth.cachedBytes().unknown).toBeLessThanOrEqual(64 * 1024)
    down = true
    try {
      t += 60_000
      expect((await auth.authenticate(secret))?.kind).toBe('server')
      // an unknown secret cannot be checked: the outage is reported, not taken for "unknown"
      await expect(auth.authenticate('vane_server_never_seen')).rejects.toThrow('ECONNREFUSED')
    } finally {
      down = false
    }
  })

  it('a recently rejected secret is answered from the cache, by its hash', async () => {
    let lookups = 0
    const counting: Store = {
      ...store,
      getApiKeyByHash: async (hash) => {
        lookups++
        return store.getApiKeyByHash(hash)
      },
    }
    const auth = new KeyAuthenticator(counting)
    expect(await auth.authenticate('vane_server_nope')).toBeUndefined()
    expect(await auth.authenticate('vane_server_nope')).toBeUndefined()
    expect(lookups).toBe(1)
  })
})
