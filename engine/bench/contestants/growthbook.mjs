// GrowthBook: the multi-user GrowthBookClient (one instance, features set locally via
// initSync, no clientKey so no background sync), evaluated per context with
// evalFeature(key, { attributes }). This is GrowthBook's server-side API and the
// fastest of its per-context paths: the legacy GrowthBook class needs an async
// setAttributes (plus a re-render) per context.
import { GrowthBookClient } from '@growthbook/growthbook'
import { RULES, SPLIT } from '../workloads.mjs'

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function featureOf(spec) {
  switch (spec.kind) {
    case 'plain':
      return { defaultValue: true }
    case 'rules':
      return {
        defaultValue: false,
        rules: [
          // GrowthBook has no endsWith operator: an anchored regex (compiled once, cached)
          { id: 'staff', condition: { email: { $regex: `${escapeRegex(RULES.emailSuffix)}$` } }, force: true },
          { id: 'countries', condition: { country: { $in: RULES.countries } }, force: true },
          { id: 'enterprise', condition: { plan: { $eq: RULES.plan } }, force: true },
          { id: 'new-app', condition: { appVersion: { $vgte: RULES.minVersion } }, force: true },
          { id: 'seniors', condition: { age: { $gt: RULES.minAgeExclusive } }, force: true },
          // a percentage rollout: force `true` to 10 % of ids (hash v2, 1/10000 granularity)
          {
            id: 'rollout',
            force: true,
            coverage: RULES.rolloutOn / 100_000,
            hashAttribute: 'id',
            hashVersion: 2,
            seed: spec.key,
          },
        ],
      }
    case 'split':
      return {
        defaultValue: SPLIT[0][0],
        rules: [
          {
            id: 'split',
            key: spec.key,
            seed: spec.key,
            hashAttribute: 'id',
            hashVersion: 2,
            coverage: 1,
            variations: SPLIT.map(([name]) => name),
            weights: SPLIT.map(([, w]) => w / 100_000),
          },
        ],
      }
  }
  throw new Error(`unknown kind ${spec.kind}`)
}

export default {
  name: 'growthbook',
  label: 'GrowthBook',
  config(specs) {
    return { features: Object.fromEntries(specs.map((s) => [s.key, featureOf(s)])) }
  },
  load(text) {
    // no clientKey, no streaming, no pollingInterval: startBackgroundSync returns at once
    return new GrowthBookClient({ enabled: true }).initSync({ payload: JSON.parse(text) })
  },
  dispose(client) {
    client.destroy()
  },
  contexts(pool) {
    return pool.map((c) => ({
      attributes: {
        id: c.targetingKey,
        email: c.email,
        country: c.country,
        plan: c.plan,
        appVersion: c.appVersion,
        age: c.age,
      },
    }))
  },
  one(client, spec) {
    const key = spec.key
    return (user) => client.evalFeature(key, user)
  },
  all(client, specs) {
    // GrowthBook has no evaluate-all: build the same record Vane's evaluateAll returns
    const keys = specs.map((s) => s.key)
    return (user) => {
      const out = {}
      for (const key of keys) out[key] = client.evalFeature(key, user)
      return out
    }
  },
  value(result) {
    return result.value
  },
  values(results) {
    return Object.values(results).map((r) => r.value)
  },
}
