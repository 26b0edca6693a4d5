// Vane: @vane/engine, compiled from a snapshot; evaluate / evaluateAll.
import { compileSnapshot } from '../../dist/index.js'
import { RULES, SPLIT } from '../workloads.mjs'

function flagOf(spec) {
  const base = { key: spec.key, version: 1, enabled: true }
  switch (spec.kind) {
    case 'plain':
      return {
        ...base,
        type: 'boolean',
        variants: { on: true, off: false },
        offVariant: 'off',
        fallthrough: { variant: 'on' },
      }
    case 'rules':
      return {
        ...base,
        type: 'boolean',
        variants: { on: true, off: false },
        offVariant: 'off',
        rules: [
          {
            id: 'staff',
            clauses: [{ attribute: 'email', op: 'endsWith', values: [RULES.emailSuffix] }],
            serve: { variant: 'on' },
          },
          {
            id: 'countries',
            clauses: [{ attribute: 'country', op: 'in', values: RULES.countries }],
            serve: { variant: 'on' },
          },
          {
            id: 'enterprise',
            clauses: [{ attribute: 'plan', op: 'eq', values: [RULES.plan] }],
            serve: { variant: 'on' },
          },
          {
            id: 'new-app',
            clauses: [{ attribute: 'appVersion', op: 'semverGte', values: [RULES.minVersion] }],
            serve: { variant: 'on' },
          },
          {
            id: 'seniors',
            clauses: [{ attribute: 'age', op: 'gt', values: [RULES.minAgeExclusive] }],
            serve: { variant: 'on' },
          },
        ],
        fallthrough: { rollout: { weights: { on: RULES.rolloutOn, off: 100_000 - RULES.rolloutOn } } },
      }
    case 'split':
      return {
        ...base,
        type: 'string',
        variants: Object.fromEntries(SPLIT.map(([name]) => [name, name])),
        offVariant: SPLIT[0][0],
        fallthrough: { rollout: { weights: Object.fromEntries(SPLIT) } },
      }
  }
  throw new Error(`unknown kind ${spec.kind}`)
}

const DEFAULTS = { plain: false, rules: false, split: 'control' }

export default {
  name: 'vane',
  label: 'Vane',
  config(specs) {
    return {
      environment: 'bench',
      version: 1,
      flags: Object.fromEntries(specs.map((s) => [s.key, flagOf(s)])),
      cohorts: {},
    }
  },
  load(text) {
    return compileSnapshot(JSON.parse(text))
  },
  dispose() {},
  contexts(pool) {
    return pool
  },
  one(evaluator, spec) {
    const key = spec.key
    const fallback = DEFAULTS[spec.kind]
    return (ctx) => evaluator.evaluate(key, ctx, fallback)
  },
  all(evaluator) {
    return (ctx) => evaluator.evaluateAll(ctx)
  },
  value(result) {
    if (result.errorCode !== undefined) throw new Error(`vane: ${result.errorCode} ${result.errorMessage}`)
    return result.value
  },
  values(results) {
    return Object.values(results).map((r) => r.value)
  },
  /** Whether a rule (rather than the fallthrough) decided: splits W2's outcomes for the agreement check. */
  decidedByRule(result) {
    return result.ruleId !== undefined
  },
}
