// Shared workload definitions: the context pool and the contestant-neutral flag specs.
// Every contestant translates the same specs into its own model (see contestants/*.mjs).

/** Contexts cycled through by every workload; distinct, so no result can be cached per context. */
export const POOL_SIZE = 10_000
/** Flags evaluated by W4 (evaluate-all) and used for the small heap figure. */
export const ALL_FLAGS = 500
/** Flags compiled for the compile-time and large heap figures. */
export const MANY_FLAGS = 10_000

/** The 20 country codes of W2's second rule. */
export const COUNTRIES = [
  'NL',
  'BE',
  'LU',
  'DE',
  'AT',
  'CH',
  'FR',
  'IT',
  'ES',
  'PT',
  'IE',
  'DK',
  'SE',
  'NO',
  'FI',
  'PL',
  'CZ',
  'SK',
  'HU',
  'SI',
]
export const OTHER_COUNTRIES = [
  'US',
  'GB',
  'CA',
  'AU',
  'IN',
  'BR',
  'JP',
  'MX',
  'ZA',
  'NG',
  'KR',
  'SG',
  'AR',
  'TR',
  'ID',
]
export const OTHER_DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'proton.me', 'acme.io']
export const OTHER_PLANS = ['free', 'free', 'free', 'pro', 'pro', 'team']

/** W2: five rules that each serve `on`, then a 10 % rollout of `on`. */
export const RULES = Object.freeze({
  emailSuffix: '@example.com',
  countries: COUNTRIES,
  plan: 'enterprise',
  minVersion: '5.0.0',
  minAgeExclusive: 65,
  /** Share of the fallthrough served `on`, in thousandths of a percent. */
  rolloutOn: 10_000,
})

/** W3: a 3-way split, thousandths of a percent. */
export const SPLIT = Object.freeze([
  ['a', 33_333],
  ['b', 33_333],
  ['c', 33_334],
])

/** mulberry32: a small seeded PRNG, so every process builds the very same pool. */
export function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function uuid(random) {
  const hex = (n) => {
    let s = ''
    for (let i = 0; i < n; i++) s += Math.floor(random() * 16).toString(16)
    return s
  }
  const variant = (8 + Math.floor(random() * 4)).toString(16)
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${variant}${hex(3)}-${hex(12)}`
}

/**
 * The context pool: targetingKey (a UUID), email, country, plan, appVersion, age.
 * Each of W2's rules matches a few percent of contexts, so about 80 % fall through
 * to the rollout ("mostly miss").
 */
export function buildPool(size = POOL_SIZE, seed = 0x5eed) {
  const random = prng(seed)
  const pick = (list) => list[Math.floor(random() * list.length)]
  const keys = new Set()
  const pool = []
  while (pool.length < size) {
    const targetingKey = uuid(random)
    if (keys.has(targetingKey)) continue
    keys.add(targetingKey)
    const n = pool.length
    const email = `user${n}@${random() < 0.03 ? 'example.com' : pick(OTHER_DOMAINS)}`
    const country = random() < 0.05 ? pick(COUNTRIES) : pick(OTHER_COUNTRIES)
    const plan = random() < 0.03 ? 'enterprise' : pick(OTHER_PLANS)
    const major = random() < 0.05 ? 5 + Math.floor(random() * 2) : 3 + Math.floor(random() * 2)
    const appVersion = `${major}.${Math.floor(random() * 20)}.${Math.floor(random() * 10)}`
    const age = random() < 0.05 ? 66 + Math.floor(random() * 25) : 18 + Math.floor(random() * 48)
    pool.push({ targetingKey, email, country, plan, appVersion, age })
  }
  return pool
}

/** A contestant-neutral flag: `plain` (always on), `rules` (W2's shape) or `split` (W3's shape). */
export const W1 = Object.freeze({ key: 'w1', kind: 'plain' })
export const W2 = Object.freeze({ key: 'w2', kind: 'rules' })
export const W3 = Object.freeze({ key: 'w3', kind: 'split' })

const MIX = ['plain', 'plain', 'rules', 'rules', 'split']

/** `count` flags in a fixed mix: 40 % plain, 40 % five-rule with rollout, 20 % 3-way split. */
export function buildMix(count) {
  const specs = []
  for (let i = 0; i < count; i++) {
    specs.push({ key: `flag-${String(i).padStart(5, '0')}`, kind: MIX[i % MIX.length] })
  }
  return specs
}
