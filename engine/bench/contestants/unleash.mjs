// Unleash: unleash-client (Node SDK) bootstrapped from in-memory data, fully offline:
// refreshInterval 0 (the polling fetcher returns before any request), metrics disabled
// with metricsInterval 0 (no registration, no timer), an in-memory storage provider
// (no backup file), no autostart. The URL is a loopback placeholder that is never
// contacted; bench/guard.mjs would throw on any non-loopback connection anyway.
// Evaluation goes through the SDK's own UnleashClient (what Unleash#isEnabled
// delegates to), skipping the public wrapper's per-call context spread and metrics
// bookkeeping: the fastest path the SDK has.
import { once } from 'node:events'
import unleashClient from 'unleash-client'
import { RULES, SPLIT } from '../workloads.mjs'

const { Unleash, InMemStorageProvider } = unleashClient

function toggleOf(spec) {
  const base = { name: spec.key, enabled: true, type: 'release', project: 'default', impressionData: false }
  switch (spec.kind) {
    case 'plain':
      return { ...base, strategies: [{ name: 'default', parameters: {}, constraints: [] }] }
    case 'rules': {
      const only = (constraint) => ({ name: 'default', parameters: {}, constraints: [constraint] })
      return {
        ...base,
        strategies: [
          only({ contextName: 'email', operator: 'STR_ENDS_WITH', values: [RULES.emailSuffix] }),
          only({ contextName: 'country', operator: 'IN', values: RULES.countries }),
          only({ contextName: 'plan', operator: 'IN', values: [RULES.plan] }),
          only({ contextName: 'appVersion', operator: 'SEMVER_GTE', value: RULES.minVersion }),
          only({ contextName: 'age', operator: 'NUM_GT', value: String(RULES.minAgeExclusive) }),
          // Unleash rollouts are whole percents
          {
            name: 'flexibleRollout',
            parameters: { rollout: String(RULES.rolloutOn / 1000), stickiness: 'userId', groupId: spec.key },
            constraints: [],
          },
        ],
      }
    }
    case 'split':
      return {
        ...base,
        strategies: [
          {
            name: 'flexibleRollout',
            parameters: { rollout: '100', stickiness: 'userId', groupId: spec.key },
            constraints: [],
            // strategy variants accept any total weight, so the split is exact
            variants: SPLIT.map(([name, weight]) => ({ name, weight, stickiness: 'userId', weightType: 'variable' })),
          },
        ],
      }
  }
  throw new Error(`unknown kind ${spec.kind}`)
}

const fallback = () => false

export default {
  name: 'unleash',
  label: 'Unleash',
  config(specs) {
    return { version: 2, features: specs.map(toggleOf) }
  },
  async load(text) {
    const { features } = JSON.parse(text)
    const unleash = new Unleash({
      appName: 'vane-bench',
      url: 'http://127.0.0.1:9/',
      refreshInterval: 0,
      metricsInterval: 0,
      disableMetrics: true,
      disableAutoStart: true,
      skipInstanceCountWarning: true,
      storageProvider: new InMemStorageProvider(),
      bootstrap: { data: features },
    })
    unleash.on('error', (error) => {
      throw error
    })
    const ready = once(unleash, 'ready')
    await unleash.start()
    await ready
    return unleash
  },
  dispose(unleash) {
    unleash.destroy()
  },
  contexts(pool) {
    return pool.map((c) => ({
      userId: c.targetingKey,
      properties: { email: c.email, country: c.country, plan: c.plan, appVersion: c.appVersion, age: c.age },
    }))
  },
  one(unleash, spec) {
    const client = unleash.client
    const key = spec.key
    if (spec.kind === 'split') return (ctx) => client.getVariant(key, ctx)
    return (ctx) => client.isEnabled(key, ctx, fallback)
  },
  all(unleash, specs) {
    // no evaluate-all in the SDK: build the same record Vane's evaluateAll returns
    const client = unleash.client
    const keys = specs.map((s) => s.key)
    const split = specs.map((s) => s.kind === 'split')
    return (ctx) => {
      const out = {}
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]
        out[key] = split[i] ? client.getVariant(key, ctx) : client.isEnabled(key, ctx, fallback)
      }
      return out
    }
  },
  value(result) {
    return typeof result === 'boolean' ? result : result.name
  },
  values(results) {
    return Object.values(results).map((r) => (typeof r === 'boolean' ? r : r.name))
  },
}
