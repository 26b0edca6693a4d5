// flagd: @openfeature/flagd-core's FlagdCore (flagd's in-process evaluator) with a flagd
// flag configuration; targeting is JSON Logic (compiled mode, flagd-core's default).
// Resolve methods are called directly, not through an OpenFeature client.
import { FlagdCore } from '@openfeature/flagd-core'
import { RULES, SPLIT } from '../workloads.mjs'

function flagOf(spec) {
  switch (spec.kind) {
    case 'plain':
      return { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' }
    case 'rules':
      return {
        state: 'ENABLED',
        variants: { on: true, off: false },
        defaultVariant: 'off',
        targeting: {
          if: [
            { ends_with: [{ var: 'email' }, RULES.emailSuffix] },
            'on',
            { in: [{ var: 'country' }, RULES.countries] },
            'on',
            { '==': [{ var: 'plan' }, RULES.plan] },
            'on',
            { sem_ver: [{ var: 'appVersion' }, '>=', RULES.minVersion] },
            'on',
            { '>': [{ var: 'age' }, RULES.minAgeExclusive] },
            'on',
            // buckets by flag key + targetingKey (flagd's default)
            {
              fractional: [
                ['on', RULES.rolloutOn],
                ['off', 100_000 - RULES.rolloutOn],
              ],
            },
          ],
        },
      }
    case 'split':
      return {
        state: 'ENABLED',
        variants: Object.fromEntries(SPLIT.map(([name]) => [name, name])),
        defaultVariant: SPLIT[0][0],
        targeting: { fractional: SPLIT.map(([name, weight]) => [name, weight]) },
      }
  }
  throw new Error(`unknown kind ${spec.kind}`)
}

export default {
  name: 'flagd',
  label: 'flagd-core',
  config(specs) {
    return { flags: Object.fromEntries(specs.map((s) => [s.key, flagOf(s)])) }
  },
  load(text) {
    const core = new FlagdCore()
    core.setConfigurations(text)
    return core
  },
  dispose() {},
  contexts(pool) {
    return pool
  },
  one(core, spec) {
    const key = spec.key
    if (spec.kind === 'split') return (ctx) => core.resolveStringEvaluation(key, 'control', ctx)
    return (ctx) => core.resolveBooleanEvaluation(key, false, ctx)
  },
  all(core) {
    return (ctx) => core.resolveAll(ctx)
  },
  value(result) {
    if (result.errorCode !== undefined) throw new Error(`flagd: ${result.errorCode} ${result.errorMessage}`)
    return result.value
  },
  values(results) {
    return results.map((r) => r.value)
  },
}
