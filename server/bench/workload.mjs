// The OFREP workload: 500 mixed flags in the engine benchmark's mix (engine/bench/workloads.mjs)
// — 40 % plain, 40 % five rules then a 10 % rollout, 20 % 3-way split — as admin API bodies,
// and a generator of contexts with a different user every time.

export const FLAG_COUNT = 500

// the same context vocabulary as the engine benchmark, so the workloads stay comparable
import { BOOLEAN } from '../../bench-kit/flags.mjs'
import { COUNTRIES, OTHER_COUNTRIES, OTHER_DOMAINS, OTHER_PLANS, prng } from '../../engine/bench/workloads.mjs'

const MIX = ['plain', 'plain', 'rules', 'rules', 'split']

const SPLIT = { type: 'string', variants: { a: 'a', b: 'b', c: 'c' } }

const FIVE_RULES = [
  {
    id: 'staff',
    clauses: [{ attribute: 'email', op: 'endsWith', values: ['@example.com'] }],
    serve: { variant: 'on' },
  },
  { id: 'countries', clauses: [{ attribute: 'country', op: 'in', values: COUNTRIES }], serve: { variant: 'on' } },
  { id: 'enterprise', clauses: [{ attribute: 'plan', op: 'eq', values: ['enterprise'] }], serve: { variant: 'on' } },
  {
    id: 'new-app',
    clauses: [{ attribute: 'appVersion', op: 'semverGte', values: ['5.0.0'] }],
    serve: { variant: 'on' },
  },
  { id: 'seniors', clauses: [{ attribute: 'age', op: 'gt', values: [65] }], serve: { variant: 'on' } },
]

/** `{ key, kind, definition, targeting }` for each of the `count` flags: the bodies of the two admin PUTs. */
export function buildFlags(count = FLAG_COUNT) {
  const flags = []
  for (let i = 0; i < count; i++) {
    const key = `flag-${String(i).padStart(5, '0')}`
    const kind = MIX[i % MIX.length]
    if (kind === 'plain') {
      flags.push({
        key,
        kind,
        definition: BOOLEAN,
        targeting: { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } },
      })
    } else if (kind === 'rules') {
      flags.push({
        key,
        kind,
        definition: BOOLEAN,
        targeting: {
          enabled: true,
          offVariant: 'off',
          rules: FIVE_RULES,
          fallthrough: { rollout: { weights: { on: 10_000, off: 90_000 } } },
        },
      })
    } else {
      flags.push({
        key,
        kind,
        definition: SPLIT,
        targeting: {
          enabled: true,
          offVariant: 'a',
          fallthrough: { rollout: { weights: { a: 33_333, b: 33_333, c: 33_334 } } },
        },
      })
    }
  }
  return flags
}

/**
 * Returns `next()`: a fresh context on every call — a new `targetingKey` each time, and
 * attributes drawn so that each rule matches a few percent of users (about 80 % fall through).
 */
export function contextGenerator(prefix, seed = 0x5eed) {
  const random = prng(seed)
  const pick = (list) => list[Math.floor(random() * list.length)]
  let n = 0
  return () => {
    n++
    const major = random() < 0.05 ? 5 + Math.floor(random() * 2) : 3 + Math.floor(random() * 2)
    return {
      targetingKey: `${prefix}-${n}`,
      email: `user${n}@${random() < 0.03 ? 'example.com' : pick(OTHER_DOMAINS)}`,
      country: random() < 0.05 ? pick(COUNTRIES) : pick(OTHER_COUNTRIES),
      plan: random() < 0.03 ? 'enterprise' : pick(OTHER_PLANS),
      appVersion: `${major}.${Math.floor(random() * 20)}.${Math.floor(random() * 10)}`,
      age: random() < 0.05 ? 66 + Math.floor(random() * 25) : 18 + Math.floor(random() * 48),
    }
  }
}
