import { describe, expect, it } from 'vitest'
import type { Store } from '../storage/repository.js'
import { A } from '../testing/api.js'
import { createHarness } from '../testing/harness.js'
import { createLocalFeed } from './feed.js'
import { EvaluatorHub } from './hub.js'

describe('EvaluatorHub.reload', () => {
  it('does not overwrite what a write installed while the store was being read', async () => {
    const h = await createHarness({ environments: ['production'] })
    try {
      // another instance created "x": in the store, not yet in this hub
      await h.store.insertEnvironment({ key: 'x', name: 'x', version: 0, createdAt: new Date().toISOString() })
      expect(h.hub.get('x')).toBeUndefined()
      // the change feed starts loading "x"; one of its reads is slow
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const slow = new Proxy(h.store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver)
          if (typeof value !== 'function') return value
          if (prop === 'listCohorts')
            return async (...args: unknown[]) => {
              await gate
              return value.apply(target, args)
            }
          return value.bind(target)
        },
      }) as Store
      const reloading = h.hub.reload(slow, 'x')
      await new Promise((resolve) => setTimeout(resolve, 20))
      // meanwhile a write to every environment starts "x" from its committed state and installs it
      expect(
        (await h.call('PUT', `${A}/flags/f`, { type: 'boolean', variants: { on: true, off: false } })).status,
      ).toBe(201)
      expect(h.hub.get('x')).toMatchObject({ version: 1 })
      release()
      expect(await reloading).toBe(h.hub.get('x'))
      expect(h.hub.get('x')?.version).toBe(1)
      expect(h.hub.get('x')?.flag('f')).toBeDefined()
    } finally {
      await h.close()
    }
  })
})

describe('EvaluatorHub following the feed', () => {
  it('reports a rebuild from the store that failed, instead of swallowing it', async () => {
    const h = await createHarness({ environments: ['production'] })
    try {
      let down = false
      const store = new Proxy(h.store, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver)
          if (typeof value !== 'function') return value
          if (prop === 'getEnvironment' && down)
            return async () => {
              throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
            }
          return value.bind(target)
        },
      }) as Store
      let failed!: (report: { environment: string; error: unknown }) => void
      const reported = new Promise<{ environment: string; error: unknown }>((resolve) => {
        failed = resolve
      })
      const hub = new EvaluatorHub({ onReloadFailed: (environment, error) => failed({ environment, error }) })
      const feed = createLocalFeed()
      await hub.load(store, feed)
      down = true
      // a change for an environment this hub has not loaded: it rebuilds from the store, which is down
      feed.publish([
        { environment: 'fresh', version: 1, entity: 'flag', key: 'f', op: 'delete', payload: null, createdAt: '' },
      ])
      const report = await reported
      expect(report.environment).toBe('fresh')
      expect(report.error).toMatchObject({ code: 'ECONNREFUSED' })
      expect(hub.get('fresh')).toBeUndefined()
    } finally {
      await h.close()
    }
  })
})
