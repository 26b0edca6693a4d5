import { describe, expect, it } from 'vitest'
import { SnapshotValidationError } from './errors.js'
import { compileSnapshot, type Evaluator } from './evaluator.js'
import { bucketOf } from './murmur3.js'
import { semverCacheStats } from './semver.js'
import type { Cohort, EvaluationResult, Flag, JsonValue, Snapshot, SnapshotPatch } from './types.js'

/** A string flag with variants a, b, c and off; `over` replaces top-level fields. */
const stringFlag = (key: string, over: Partial<Flag> = {}): Flag => ({
  key,
  type: 'string',
  variants: { a: 'A', b: 'B', c: 'C', off: 'OFF' },
  version: 5,
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'c' },
  ...over,
})

const boolFlag = (key: string, over: Partial<Flag> = {}): Flag => ({
  key,
  type: 'boolean',
  variants: { on: true, off: false },
  version: 1,
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'on' },
  ...over,
})

const build = (flags: Flag[], cohorts: Cohort[] = [], version = 42): Snapshot => ({
  environment: 'production',
  version,
  flags: Object.fromEntries(flags.map((f) => [f.key, f])),
  cohorts: Object.fromEntries(cohorts.map((c) => [c.key, c])),
})

const compile = (flags: Flag[], cohorts: Cohort[] = [], version = 42): Evaluator =>
  compileSnapshot(JSON.parse(JSON.stringify(build(flags, cohorts, version))))

/** Runs `fn` and returns what it threw. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

function expectInvalidSnapshot(fn: () => unknown): SnapshotValidationError {
  const error = thrownBy(fn)
  expect(error).toBeInstanceOf(SnapshotValidationError)
  const e = error as SnapshotValidationError
  expect(e.code).toBe('INVALID_SNAPSHOT')
  expect(Array.isArray(e.issues)).toBe(true)
  expect(e.issues.length).toBeGreaterThan(0)
  return e
}

/** The main flag of the order tests: prerequisite, targets, three rules (one disabled), fallthrough. */
const full = (over: Partial<Flag> = {}): Flag =>
  stringFlag('full', {
    prerequisites: [{ flag: 'gate', variants: ['on'] }],
    targets: { a: ['targeted'] },
    rules: [
      { id: 'skipped', enabled: false, serve: { variant: 'off' } },
      { id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'b' } },
      { id: 'nl', clauses: [{ attribute: 'country', op: 'eq', values: ['NL'] }], serve: { variant: 'a' } },
    ],
    ...over,
  })
const gate = boolFlag('gate', {
  rules: [{ id: 'blocked', clauses: [{ attribute: 'blocked', op: 'eq', values: [true] }], serve: { variant: 'off' } }],
})

describe('order of evaluation', () => {
  const evaluator = compile([full(), gate])

  it('falls through when nothing else decides: DEFAULT, no ruleId', () => {
    const r = evaluator.evaluate('full', { targetingKey: 'u1' }, 'x')
    expect(r).toEqual({ value: 'C', variant: 'c', reason: 'DEFAULT', flagVersion: 5 })
  })

  it('serves the first matching rule in order, skipping disabled rules', () => {
    expect(evaluator.evaluate('full', { targetingKey: 'u1', plan: 'pro' })).toEqual({
      value: 'B',
      variant: 'b',
      reason: 'TARGETING_MATCH',
      ruleId: 'pro',
      flagVersion: 5,
    })
    expect(evaluator.evaluate('full', { targetingKey: 'u1', country: 'NL' })).toMatchObject({
      variant: 'a',
      reason: 'TARGETING_MATCH',
      ruleId: 'nl',
    })
    expect(evaluator.evaluate('full', { targetingKey: 'u1', plan: 'pro', country: 'NL' })).toMatchObject({
      variant: 'b',
      ruleId: 'pro',
    })
  })

  it('individual targets beat rules, without a ruleId', () => {
    expect(evaluator.evaluate('full', { targetingKey: 'targeted', plan: 'pro' })).toEqual({
      value: 'A',
      variant: 'a',
      reason: 'TARGETING_MATCH',
      flagVersion: 5,
    })
  })

  it('prerequisites beat targets', () => {
    expect(evaluator.evaluate('full', { targetingKey: 'targeted', plan: 'pro', blocked: true })).toEqual({
      value: 'OFF',
      variant: 'off',
      reason: 'PREREQUISITE_FAILED',
      flagVersion: 5,
    })
  })

  it('disabled beats prerequisites', () => {
    const disabled = compile([full({ enabled: false }), gate])
    const r = disabled.evaluate('full', { targetingKey: 'targeted', blocked: true })
    expect(r).toEqual({ value: 'OFF', variant: 'off', reason: 'DISABLED', flagVersion: 5 })
  })

  it('killed beats everything, even enabled: false, and says so', () => {
    const killed = compile([full({ killed: true, enabled: false }), gate])
    for (const context of [{ targetingKey: 'targeted' }, { targetingKey: 'u1', plan: 'pro' }, { blocked: true }, {}]) {
      expect(killed.evaluate('full', context, 'x')).toEqual({
        value: 'OFF',
        variant: 'off',
        reason: 'DISABLED',
        flagVersion: 5,
        killed: true,
      })
    }
    const disabledOnly = compile([full({ enabled: false }), gate]).evaluate('full', {})
    expect(disabledOnly.killed).toBeUndefined()
  })

  it('the kill switch keeps targeting, so unkilling restores it', () => {
    const killed = compile([full({ killed: true }), gate])
    expect(killed.flag('full')?.targets).toEqual({ a: ['targeted'] })
    expect(killed.snapshot().flags.full?.rules).toHaveLength(3)
    const unkilled = killed.apply({
      op: 'put',
      kind: 'flag',
      key: 'full',
      value: { ...killed.flag('full')!, killed: false },
    })
    expect(unkilled.evaluate('full', { targetingKey: 'targeted' })).toMatchObject({
      variant: 'a',
      reason: 'TARGETING_MATCH',
    })
    expect(unkilled.evaluate('full', { targetingKey: 'u1', country: 'NL' })).toMatchObject({
      variant: 'a',
      ruleId: 'nl',
    })
    expect(unkilled.evaluate('full', { targetingKey: 'u1' }).killed).toBeUndefined()
    expect(killed.evaluate('full', { targetingKey: 'targeted' }).killed).toBe(true)
  })

  it('a rule with neither cohorts nor clauses matches everyone', () => {
    const e = compile([stringFlag('f', { rules: [{ id: 'all', serve: { variant: 'b' } }] })])
    expect(e.evaluate('f', {})).toMatchObject({ variant: 'b', reason: 'TARGETING_MATCH', ruleId: 'all' })
    expect(e.evaluate('f')).toMatchObject({ variant: 'b', ruleId: 'all' })
  })

  it('a rule needs every clause to hold', () => {
    const e = compile([
      stringFlag('f', {
        rules: [
          {
            id: 'both',
            clauses: [
              { attribute: 'plan', op: 'eq', values: ['pro'] },
              { attribute: 'country', op: 'eq', values: ['NL'] },
            ],
            serve: { variant: 'a' },
          },
        ],
      }),
    ])
    expect(e.evaluate('f', { plan: 'pro', country: 'NL' }).variant).toBe('a')
    expect(e.evaluate('f', { plan: 'pro', country: 'BE' }).variant).toBe('c')
    expect(e.evaluate('f', { plan: 'pro' }).variant).toBe('c')
  })
})

describe('prerequisites', () => {
  const needs = (key: string, flag: string, variants: string[], over: Partial<Flag> = {}) =>
    boolFlag(key, { prerequisites: [{ flag, variants }], ...over })

  it('pass when the prerequisite yields a listed variant for the same context', () => {
    const e = compile([needs('child', 'gate', ['on']), gate])
    expect(e.evaluate('child', { targetingKey: 'u' })).toEqual({
      value: true,
      variant: 'on',
      reason: 'DEFAULT',
      flagVersion: 1,
    })
    expect(e.evaluate('child', { targetingKey: 'u', blocked: true })).toEqual({
      value: false,
      variant: 'off',
      reason: 'PREREQUISITE_FAILED',
      flagVersion: 1,
    })
  })

  it('follow chains: a needs b needs c', () => {
    const c = boolFlag('c', {
      fallthrough: { variant: 'off' },
      rules: [{ id: 'beta', clauses: [{ attribute: 'beta', op: 'eq', values: [true] }], serve: { variant: 'on' } }],
    })
    const e = compile([needs('a', 'b', ['on']), needs('b', 'c', ['on']), c])
    expect(e.evaluate('a', { beta: true })).toMatchObject({ variant: 'on', reason: 'DEFAULT' })
    expect(e.evaluate('a', { beta: false })).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
    expect(e.evaluate('b', { beta: false })).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
  })

  it('all must pass, in order', () => {
    const e = compile([
      boolFlag('child', {
        prerequisites: [
          { flag: 'gate', variants: ['on'] },
          { flag: 'other', variants: ['on'] },
        ],
      }),
      gate,
      boolFlag('other', { fallthrough: { variant: 'off' } }),
    ])
    expect(e.evaluate('child', {})).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
  })

  it('a disabled prerequisite yields its offVariant', () => {
    const disabledGate = boolFlag('gate', { enabled: false })
    const e = compile([needs('needs-on', 'gate', ['on']), needs('needs-off', 'gate', ['off']), disabledGate])
    expect(e.evaluate('needs-on', {})).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
    expect(e.evaluate('needs-off', {})).toMatchObject({ variant: 'on', reason: 'DEFAULT' })
  })

  it('a killed prerequisite yields its offVariant', () => {
    const e = compile([needs('child', 'gate', ['on']), boolFlag('gate', { killed: true })])
    expect(e.evaluate('child', {})).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
  })

  it('an archived prerequisite counts as missing', () => {
    const e = compile([needs('child', 'gate', ['on']), boolFlag('gate', { archived: true })])
    expect(e.evaluate('gate', {}, false)).toMatchObject({ errorCode: 'FLAG_NOT_FOUND' })
    expect(e.evaluate('child', {})).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
  })

  it('a prerequisite that cannot decide fails the dependant', () => {
    const split = boolFlag('gate', {
      fallthrough: { rollout: { weights: { on: 50_000, off: 50_000 }, bucketBy: 'company' } },
    })
    const e = compile([needs('child', 'gate', ['on', 'off']), split])
    expect(e.evaluate('child', { targetingKey: 'u' })).toMatchObject({ variant: 'off', reason: 'PREREQUISITE_FAILED' })
    expect(e.evaluate('child', { company: 'acme' })).toMatchObject({ variant: 'on', reason: 'DEFAULT' })
  })
})

describe('rollouts', () => {
  const keys = Array.from({ length: 300 }, (_, i) => `user-${i}`)
  const split = (weights: Record<string, number>, extra: { bucketBy?: string; salt?: string } = {}) =>
    stringFlag('exp', {
      variants: { control: 'C', treatment: 'T', off: 'OFF' },
      fallthrough: { rollout: { weights, ...extra } },
    })

  it('lays buckets out in variant order: bucket(flag key / targetingKey) < 95000 is control', () => {
    const e = compile([split({ control: 95_000, treatment: 5_000 })])
    const seen = new Set<string | undefined>()
    for (const key of keys) {
      const r = e.evaluate('exp', { targetingKey: key })
      const expected = bucketOf('exp', key) < 95_000 ? 'control' : 'treatment'
      expect(r).toEqual({
        value: expected === 'control' ? 'C' : 'T',
        variant: expected,
        reason: 'SPLIT',
        flagVersion: 5,
      })
      seen.add(r.variant)
    }
    expect(seen).toEqual(new Set(['control', 'treatment']))
  })

  it('reordering weights moves nobody; raising treatment keeps everyone already in it', () => {
    const a = compile([split({ control: 95_000, treatment: 5_000 })])
    const b = compile([split({ treatment: 5_000, control: 95_000 })])
    const c = compile([split({ control: 75_000, treatment: 25_000 })])
    for (const key of keys) {
      const before = a.evaluate('exp', { targetingKey: key }).variant
      expect(b.evaluate('exp', { targetingKey: key }).variant).toBe(before)
      if (before === 'treatment') expect(c.evaluate('exp', { targetingKey: key }).variant).toBe('treatment')
    }
  })

  it('uses salt and bucketBy, hashing numbers in their decimal form', () => {
    const e = compile([split({ control: 50_000, treatment: 50_000 }, { bucketBy: 'org.id', salt: 'pepper' })])
    for (const id of [1, 42, 1.5, 'acme', 'beta']) {
      const expected = bucketOf('pepper', String(id)) < 50_000 ? 'control' : 'treatment'
      expect(e.evaluate('exp', { targetingKey: 'ignored', org: { id } }).variant).toBe(expected)
    }
  })

  it('a rule rollout gives SPLIT with the ruleId', () => {
    const e = compile([
      stringFlag('f', { rules: [{ id: 'half', serve: { rollout: { weights: { a: 50_000, b: 50_000 } } } }] }),
    ])
    const r = e.evaluate('f', { targetingKey: 'u1' })
    expect(r).toMatchObject({ reason: 'SPLIT', ruleId: 'half', flagVersion: 5 })
    expect(['a', 'b']).toContain(r.variant)
  })

  it.each([
    ['absent', {}],
    ['null', { targetingKey: 'u', company: null }],
    ['a boolean', { company: true }],
    ['NaN', { company: Number.NaN }],
    ['Infinity', { company: Number.POSITIVE_INFINITY }],
    ['an object', { company: { id: 1 } }],
  ])('a bucketing attribute that is %s gives the default with TARGETING_KEY_MISSING', (_name, context) => {
    const e = compile([split({ control: 50_000, treatment: 50_000 }, { bucketBy: 'company' })])
    expect(e.evaluate('exp', context, 'dflt')).toEqual({
      value: 'dflt',
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
      errorMessage: expect.any(String),
      flagVersion: 5,
    })
    expect(e.evaluate('exp', context).value).toBeUndefined()
  })

  it('a rule rollout without its bucketing attribute gives TARGETING_KEY_MISSING too', () => {
    const e = compile([
      stringFlag('f', { rules: [{ id: 'half', serve: { rollout: { weights: { a: 50_000, b: 50_000 } } } }] }),
    ])
    expect(e.evaluate('f', {}, 'z')).toMatchObject({ value: 'z', reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' })
  })

  it('a rollout with a single non-zero weight still needs its bucketing attribute', () => {
    const e = compile([split({ control: 100_000, treatment: 0 })])
    expect(e.evaluate('exp', { targetingKey: 'u' })).toMatchObject({ variant: 'control', reason: 'SPLIT' })
    expect(e.evaluate('exp', {}, 'dflt')).toMatchObject({
      value: 'dflt',
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
    })
  })
})

describe('cohorts in rules', () => {
  const cohorts: Cohort[] = [
    { key: 'staff', include: ['u-staff', 'u-excluded'], exclude: ['u-excluded'] },
    { key: 'dutch', clauses: [{ attribute: 'country', op: 'eq', values: ['NL'] }] },
    { key: 'listed', include: ['u-listed'] },
    { key: 'canary', include: ['u-staff'], rollout: { weight: 30_000 } },
    {
      key: 'dutch-staff',
      clauses: [
        { op: 'inCohort', values: ['staff'] },
        { op: 'inCohort', values: ['dutch'] },
      ],
    },
  ]
  const ruleOn = (...names: string[]) =>
    boolFlag(`on-${names.join('-')}`, {
      fallthrough: { variant: 'off' },
      rules: [{ id: 'r', cohorts: names, serve: { variant: 'on' } }],
    })
  const e = compile(
    [
      ruleOn('staff'),
      ruleOn('dutch'),
      ruleOn('listed'),
      ruleOn('canary'),
      ruleOn('staff', 'dutch'),
      ruleOn('dutch-staff'),
    ],
    cohorts,
  )
  const on = (flag: string, context: Record<string, unknown>) => e.evaluate(flag, context).variant === 'on'

  it('include and exclude lists; exclude wins', () => {
    expect(on('on-staff', { targetingKey: 'u-staff' })).toBe(true)
    expect(on('on-staff', { targetingKey: 'u-excluded' })).toBe(false)
    expect(on('on-staff', { targetingKey: 'u-other' })).toBe(false)
  })

  it('clauses decide for unlisted contexts; a cohort with neither clauses nor rollout is its list', () => {
    expect(on('on-dutch', { country: 'NL' })).toBe(true)
    expect(on('on-dutch', { country: 'BE' })).toBe(false)
    expect(on('on-listed', { targetingKey: 'u-listed' })).toBe(true)
    expect(on('on-listed', { targetingKey: 'u-other', country: 'NL' })).toBe(false)
  })

  it('a rule needs every listed cohort', () => {
    expect(on('on-staff-dutch', { targetingKey: 'u-staff', country: 'NL' })).toBe(true)
    expect(on('on-staff-dutch', { targetingKey: 'u-staff', country: 'BE' })).toBe(false)
    expect(on('on-staff-dutch', { targetingKey: 'u-other', country: 'NL' })).toBe(false)
  })

  it('a cohort rollout keeps a sticky share, bucketed by cohort key; included keys bypass it', () => {
    let members = 0
    for (let i = 0; i < 300; i++) {
      const key = `user-${i}`
      const expected = bucketOf('canary', key) < 30_000
      expect(on('on-canary', { targetingKey: key })).toBe(expected)
      if (expected) members++
    }
    expect(members).toBeGreaterThan(0)
    expect(members).toBeLessThan(300)
    expect(on('on-canary', {})).toBe(false)
    expect(bucketOf('canary', 'u-staff')).toBeGreaterThanOrEqual(30_000)
    expect(on('on-canary', { targetingKey: 'u-staff' })).toBe(true)
  })

  it('cohortKeys and cohortDefinition give the cohorts in order, without their member lists', () => {
    expect(e.cohortKeys()).toEqual(['staff', 'dutch', 'listed', 'canary', 'dutch-staff'])
    expect(e.cohortDefinition('staff')).toEqual({ key: 'staff' })
    expect(e.cohortDefinition('canary')).toEqual({ key: 'canary', rollout: { weight: 30_000 } })
    expect(e.cohort('staff')?.include).toEqual(['u-staff', 'u-excluded'])
    expect(e.cohortDefinition('missing')).toBeUndefined()
  })

  it('a cohort can require other cohorts through inCohort clauses', () => {
    expect(on('on-dutch-staff', { targetingKey: 'u-staff', country: 'NL' })).toBe(true)
    expect(on('on-dutch-staff', { targetingKey: 'u-staff', country: 'BE' })).toBe(false)
    expect(on('on-dutch-staff', { targetingKey: 'u-excluded', country: 'NL' })).toBe(false)
  })
})

describe('results', () => {
  const e = compile([
    stringFlag('f', {
      rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'b' } }],
    }),
    {
      key: 'obj',
      type: 'object',
      variants: { on: { limits: { max: 5 }, list: [1, { x: 2 }] }, off: [] },
      version: 2,
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    },
  ])

  it('carry value, variant, reason, flagVersion and ruleId', () => {
    expect(e.evaluate('f', { plan: 'pro' })).toEqual({
      value: 'B',
      variant: 'b',
      reason: 'TARGETING_MATCH',
      ruleId: 'pro',
      flagVersion: 5,
    })
  })

  it('are frozen and shared between calls', () => {
    const first = e.evaluate('f', { targetingKey: 'u1', plan: 'pro' })
    const second = e.evaluate('f', { targetingKey: 'u2', plan: 'pro' })
    expect(Object.isFrozen(first)).toBe(true)
    expect(second).toBe(first)
    expect(() => {
      ;(first as { value: unknown }).value = 'hacked'
    }).toThrow(TypeError)
    expect(e.evaluate('f', { plan: 'pro' }).value).toBe('B')
  })

  it('object values are frozen all the way down', () => {
    const r = e.evaluate('obj', {}, {}) as EvaluationResult<{ limits: { max: number }; list: JsonValue[] }>
    expect(r.value).toEqual({ limits: { max: 5 }, list: [1, { x: 2 }] })
    expect(Object.isFrozen(r)).toBe(true)
    expect(Object.isFrozen(r.value)).toBe(true)
    expect(Object.isFrozen(r.value.limits)).toBe(true)
    expect(Object.isFrozen(r.value.list)).toBe(true)
    expect(Object.isFrozen(r.value.list[1])).toBe(true)
  })

  it('error results are frozen too', () => {
    for (const r of [
      e.evaluate('missing', {}, 'd'),
      e.evaluate('f', {}, 1 as unknown as string),
      e.evaluate('f', 42, 'd'),
    ]) {
      expect(r.reason).toBe('ERROR')
      expect(Object.isFrozen(r)).toBe(true)
    }
  })
})

describe('evaluate never throws', () => {
  const e = compile([
    stringFlag('f', {
      targets: { a: ['targeted'] },
      rules: [
        { id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'b' } },
        {
          id: 'deep',
          clauses: [{ attribute: 'self.self.self.plan', op: 'eq', values: ['team'] }],
          serve: { variant: 'a' },
        },
        { id: 'big', clauses: [{ attribute: 'blob', op: 'startsWith', values: ['xx'] }], serve: { variant: 'a' } },
        { id: 'rx', clauses: [{ attribute: 'text', op: 'matches', values: ['y$'] }], serve: { variant: 'a' } },
      ],
    }),
    stringFlag('plain'),
    stringFlag('split', { fallthrough: { rollout: { weights: { a: 50_000, b: 50_000 } } } }),
    boolFlag('bool'),
    stringFlag('old', { archived: true }),
    {
      key: 'num',
      type: 'number',
      variants: { one: 1 },
      version: 3,
      enabled: true,
      offVariant: 'one',
      fallthrough: { variant: 'one' },
    },
    {
      key: 'obj',
      type: 'object',
      variants: { o: {} },
      version: 4,
      enabled: true,
      offVariant: 'o',
      fallthrough: { variant: 'o' },
    },
  ])

  it('an unknown flag gives the default with FLAG_NOT_FOUND and no flagVersion', () => {
    const r = e.evaluate('nope', { targetingKey: 'u' }, 'dflt')
    expect(r).toEqual({ value: 'dflt', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', errorMessage: expect.any(String) })
    expect(e.evaluate('nope').value).toBeUndefined()
    expect(e.evaluate(42 as unknown as string, {}, 'd')).toMatchObject({ value: 'd', errorCode: 'FLAG_NOT_FOUND' })
    expect(e.evaluate('__proto__', {}, 'd')).toMatchObject({ value: 'd', errorCode: 'FLAG_NOT_FOUND' })
  })

  it('an archived flag evaluates as not found', () => {
    expect(e.evaluate('old', {}, 'dflt')).toMatchObject({ value: 'dflt', reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' })
  })

  it.each<[string, string, JsonValue]>([
    ['boolean flag, string default', 'bool', 'true'],
    ['boolean flag, null default', 'bool', null],
    ['string flag, number default', 'f', 1],
    ['string flag, boolean default', 'f', false],
    ['number flag, numeric string default', 'num', '1'],
    ['number flag, NaN default', 'num', Number.NaN],
    ['object flag, string default', 'obj', 'x'],
    ['object flag, null default', 'obj', null],
  ])('%s gives the default with TYPE_MISMATCH', (_name, key, dflt) => {
    const r = e.evaluate(key, { targetingKey: 'u' }, dflt)
    expect(r).toMatchObject({ reason: 'ERROR', errorCode: 'TYPE_MISMATCH' })
    expect(r.value).toBe(dflt)
    expect(r.variant).toBeUndefined()
    expect(r.flagVersion).toBe(e.flag(key)?.version)
  })

  it('an object flag takes an array default; no default means no type check', () => {
    expect(e.evaluate('obj', {}, [])).toMatchObject({ variant: 'o', reason: 'DEFAULT' })
    expect(e.evaluate('bool', {})).toMatchObject({ value: true, reason: 'DEFAULT' })
  })

  it('the type check comes before the context check', () => {
    expect(e.evaluate('bool', 42, 'x')).toMatchObject({ errorCode: 'TYPE_MISMATCH' })
  })

  it.each<[string, unknown]>([
    ['a number', 42],
    ['a string', 'str'],
    ['an array', []],
    ['a boolean', true],
    ['a symbol', Symbol('ctx')],
    ['a bigint', 1n],
    ['a non-string targetingKey', { targetingKey: 42 }],
    ['an object targetingKey', { targetingKey: { id: 'u' } }],
  ])('a context that is %s gives the default with INVALID_CONTEXT', (_name, context) => {
    for (const key of ['f', 'plain', 'split']) {
      const r = e.evaluate(key, context, 'dflt')
      expect(r).toMatchObject({ value: 'dflt', reason: 'ERROR', errorCode: 'INVALID_CONTEXT' })
      expect(r.variant).toBeUndefined()
    }
  })

  it.each([null, undefined])('a %s context counts as empty', (context) => {
    expect(e.evaluate('f', context, 'd')).toEqual({ value: 'C', variant: 'c', reason: 'DEFAULT', flagVersion: 5 })
    expect(e.evaluate('split', context, 'd')).toMatchObject({ value: 'd', errorCode: 'TARGETING_KEY_MISSING' })
  })

  it('a cyclic context is usable', () => {
    const context: Record<string, unknown> = { targetingKey: 'u', plan: 'team' }
    context.self = context
    expect(e.evaluate('f', context, 'd')).toMatchObject({ variant: 'a', ruleId: 'deep' })
    expect(e.evaluateAll(context).f).toMatchObject({ variant: 'a' })
  })

  it('a 10 MB string attribute is usable', () => {
    const blob = 'x'.repeat(10 * 1024 * 1024)
    const started = Date.now()
    expect(e.evaluate('f', { blob }, 'd')).toMatchObject({ variant: 'a', ruleId: 'big' })
    expect(e.evaluate('f', { text: blob }, 'd')).toMatchObject({ variant: 'c', reason: 'DEFAULT' })
    expect(e.evaluate('f', { targetingKey: blob }, 'd')).toMatchObject({ variant: 'c' })
    expect(['a', 'b']).toContain(e.evaluate('split', { targetingKey: blob }, 'd').variant)
    expect(e.evaluate('bool', {}, blob as unknown as boolean)).toMatchObject({ errorCode: 'TYPE_MISMATCH' })
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('symbol keys are ignored', () => {
    const context = { [Symbol('plan')]: 'pro', targetingKey: 'targeted', [Symbol.iterator]: () => null }
    expect(e.evaluate('f', context, 'd')).toMatchObject({ variant: 'a', reason: 'TARGETING_MATCH' })
  })

  it('a getter that throws gives the default with INVALID_CONTEXT when it is read', () => {
    const context = {
      targetingKey: 'u',
      get plan(): string {
        throw new Error('boom')
      },
    }
    expect(e.evaluate('f', context, 'dflt')).toMatchObject({
      value: 'dflt',
      reason: 'ERROR',
      errorCode: 'INVALID_CONTEXT',
    })
    // a flag that never reads it decides normally
    expect(e.evaluate('plain', context, 'dflt')).toEqual({
      value: 'C',
      variant: 'c',
      reason: 'DEFAULT',
      flagVersion: 5,
    })
  })

  it('a throwing targetingKey getter, or one that throws a hostile value', () => {
    const hostile = {
      toString() {
        throw new Error('no')
      },
      get message(): string {
        throw new Error('no')
      },
    }
    const contexts = [
      {
        get targetingKey(): string {
          throw new Error('boom')
        },
      },
      {
        get targetingKey(): string {
          throw hostile
        },
      },
      {
        get plan(): string {
          throw Object.create(null)
        },
      },
    ]
    for (const context of contexts) {
      expect(e.evaluate('f', context, 'dflt')).toMatchObject({ value: 'dflt', errorCode: 'INVALID_CONTEXT' })
    }
  })

  const throwingHandler: ProxyHandler<object> = {
    get() {
      throw new Error('get')
    },
    has() {
      throw new Error('has')
    },
    getOwnPropertyDescriptor() {
      throw new Error('getOwnPropertyDescriptor')
    },
    ownKeys() {
      throw new Error('ownKeys')
    },
    getPrototypeOf() {
      throw new Error('getPrototypeOf')
    },
  }

  it('a Proxy whose traps throw gives the default with INVALID_CONTEXT', () => {
    const proxy = new Proxy({}, throwingHandler)
    for (const key of ['f', 'plain', 'split', 'bool']) {
      expect(e.evaluate(key, proxy, key === 'bool' ? false : 'dflt')).toMatchObject({
        reason: 'ERROR',
        errorCode: 'INVALID_CONTEXT',
      })
    }
    expect(e.evaluate('f', proxy, 'dflt').value).toBe('dflt')
  })

  it('a revoked Proxy gives the default with INVALID_CONTEXT', () => {
    const { proxy, revoke } = Proxy.revocable({ targetingKey: 'u' }, {})
    revoke()
    expect(e.evaluate('f', proxy, 'dflt')).toMatchObject({ value: 'dflt', errorCode: 'INVALID_CONTEXT' })
  })

  it('a Proxy over an array is not an object context', () => {
    expect(e.evaluate('f', new Proxy([], {}), 'dflt')).toMatchObject({ value: 'dflt', errorCode: 'INVALID_CONTEXT' })
  })

  it('evaluateAll never throws either', () => {
    const proxy = new Proxy({}, throwingHandler)
    const all = e.evaluateAll(proxy)
    expect(Object.keys(all).sort()).toEqual(['bool', 'f', 'num', 'obj', 'plain', 'split'])
    for (const r of Object.values(all)) expect(r).toMatchObject({ reason: 'ERROR', errorCode: 'INVALID_CONTEXT' })
    const getter = {
      get plan(): string {
        throw new Error('boom')
      },
    }
    const partly = e.evaluateAll(getter)
    expect(partly.f).toMatchObject({ errorCode: 'INVALID_CONTEXT' })
    expect(partly.plain).toMatchObject({ variant: 'c', reason: 'DEFAULT' })
  })
})

describe('evaluateAll', () => {
  const e = compile([
    stringFlag('f', {
      rules: [{ id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'b' } }],
    }),
    boolFlag('on'),
    boolFlag('off', { enabled: false }),
    boolFlag('gone', { archived: true }),
    boolFlag('split', { fallthrough: { rollout: { weights: { on: 50_000, off: 50_000 } } } }),
  ])

  it('returns every non-archived flag, as evaluate would', () => {
    const context = { targetingKey: 'u1', plan: 'pro' }
    const all = e.evaluateAll(context)
    expect(Object.keys(all).sort()).toEqual(['f', 'off', 'on', 'split'])
    for (const [key, r] of Object.entries(all)) expect(r).toEqual(e.evaluate(key, context))
    expect(all.f).toMatchObject({ variant: 'b', ruleId: 'pro' })
    expect(all.off).toMatchObject({ variant: 'off', reason: 'DISABLED' })
  })

  it('reports per flag when a context cannot be decided or is invalid', () => {
    expect(e.evaluateAll({}).split).toMatchObject({ reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' })
    const invalid = e.evaluateAll(42)
    expect(Object.keys(invalid).sort()).toEqual(['f', 'off', 'on', 'split'])
    for (const r of Object.values(invalid)) expect(r).toMatchObject({ reason: 'ERROR', errorCode: 'INVALID_CONTEXT' })
    expect(Object.keys(e.evaluateAll()).sort()).toEqual(['f', 'off', 'on', 'split'])
  })

  it('evaluateEach hands over the same results, in the same order, without the record', () => {
    for (const context of [{ targetingKey: 'u1', plan: 'pro' }, { targetingKey: 'u2' }, {}, 42, undefined]) {
      const seen: [string, unknown][] = []
      e.evaluateEach(context, (key, result) => seen.push([key, result]))
      expect(seen).toEqual(Object.entries(e.evaluateAll(context)))
    }
  })

  it('evaluateEach lets an error thrown by the visitor through, after the flags before it', () => {
    const seen: string[] = []
    const visit = (key: string) => {
      seen.push(key)
      if (seen.length === 2) throw new Error('visitor failed')
    }
    expect(() => e.evaluateEach({ targetingKey: 'u1' }, visit)).toThrow('visitor failed')
    expect(seen).toEqual(Object.keys(e.evaluateAll({ targetingKey: 'u1' })).slice(0, 2))
  })
})

describe('compiled sources', () => {
  const rules = [
    { id: 'nl', clauses: [{ attribute: 'country', op: 'in' as const, values: ['NL', 'BE'] }], serve: { variant: 'a' } },
  ]
  const flags = [
    stringFlag('one', { rules }),
    stringFlag('two', { rules, description: 'same rules, other flag' }),
    stringFlag('three', { rules: [{ ...rules[0]!, serve: { variant: 'b' } }] }),
  ]
  const e = compile(flags)

  it('give back what was compiled', () => {
    for (const flag of flags) expect(e.flag(flag.key)).toEqual(flag)
    expect(e.snapshot()).toEqual(build(flags))
  })

  it('store equal parts once, across flags and within them', () => {
    expect(e.flag('one')!.rules).toBe(e.flag('two')!.rules)
    expect(e.flag('one')!.variants).toBe(e.flag('three')!.variants)
    expect(e.flag('one')!.rules![0]!.clauses).toBe(e.flag('three')!.rules![0]!.clauses)
    expect(e.flag('one')!.rules).not.toBe(e.flag('three')!.rules)
  })

  it('share only parts that are the same value, not just the same JSON text (-0 and 0)', () => {
    const negative = {
      id: 'neg',
      clauses: [{ attribute: 'n', op: 'eq' as const, values: [-0] }],
      serve: { variant: 'a' },
    }
    const positive = {
      id: 'pos',
      clauses: [{ attribute: 'n', op: 'gte' as const, values: [0] }],
      serve: { variant: 'b' },
    }
    const zeros = compileSnapshot(build([stringFlag('z', { rules: [negative, positive] })]))
    const [first, second] = zeros.flag('z')!.rules!
    expect(Object.is(first!.clauses![0]!.values[0], -0)).toBe(true)
    expect(Object.is(second!.clauses![0]!.values[0], 0)).toBe(true)
  })

  it('give cohorts back frozen too', () => {
    const e = compile([boolFlag('x')], [{ key: 'c', include: ['u'], description: 'staff' }])
    const cohort = e.cohort('c')!
    expect(Object.isFrozen(cohort)).toBe(true)
    expect(Object.isFrozen(cohort.include)).toBe(true)
    expect(e.snapshot().cohorts.c).toEqual({ key: 'c', include: ['u'], description: 'staff' })
  })

  it('are frozen, so a shared part cannot be changed through one flag', () => {
    const one = e.flag('one')!
    expect(Object.isFrozen(one)).toBe(true)
    expect(() => {
      ;(one.rules![0]!.clauses![0]!.values as string[]).push('DE')
    }).toThrow(TypeError)
    expect(e.evaluate('two', { targetingKey: 'u', country: 'DE' }, 'x')).toMatchObject({ variant: 'c' })
  })
})

describe('apply', () => {
  const cohorts: Cohort[] = [
    { key: 'staff', include: ['u-staff'] },
    { key: 'unused', include: ['u-x'] },
  ]
  const flags = [
    stringFlag('f', {
      rules: [{ id: 'staff', cohorts: ['staff'], serve: { variant: 'a' } }],
    }),
    boolFlag('gate'),
    boolFlag('child', { prerequisites: [{ flag: 'gate', variants: ['on'] }] }),
  ]
  const base = compile(flags, cohorts, 42)
  const staff = { targetingKey: 'u-staff' }

  it('put flag: adds or replaces in a new evaluator, the old one unchanged', () => {
    const added = base.apply({ op: 'put', kind: 'flag', key: 'new', value: boolFlag('new'), version: 43 })
    expect(added.evaluate('new', {}, false)).toMatchObject({ value: true, reason: 'DEFAULT' })
    expect(added.version).toBe(43)
    expect(base.evaluate('new', {}, false)).toMatchObject({ value: false, errorCode: 'FLAG_NOT_FOUND' })
    expect(base.has('new')).toBe(false)
    expect(base.version).toBe(42)

    const replaced = base.apply({
      op: 'put',
      kind: 'flag',
      key: 'f',
      value: stringFlag('f', { version: 6, fallthrough: { variant: 'b' } }),
    })
    expect(replaced.evaluate('f', {})).toEqual({ value: 'B', variant: 'b', reason: 'DEFAULT', flagVersion: 6 })
    expect(base.evaluate('f', {})).toEqual({ value: 'C', variant: 'c', reason: 'DEFAULT', flagVersion: 5 })
  })

  it('delete flag: gone from the new evaluator only', () => {
    const deleted = base.apply({ op: 'delete', kind: 'flag', key: 'f' })
    expect(deleted.has('f')).toBe(false)
    expect(deleted.evaluate('f', {}, 'd')).toMatchObject({ value: 'd', errorCode: 'FLAG_NOT_FOUND' })
    expect(deleted.flagKeys().sort()).toEqual(['child', 'gate'])
    expect(base.evaluate('f', staff)).toMatchObject({ variant: 'a' })
  })

  it('applyInSlices: a members change in slices gives what apply gives, and an unknown cohort is refused', async () => {
    const pause = async () => {}
    const patch = {
      op: 'members' as const,
      kind: 'cohort' as const,
      key: 'staff',
      version: 43,
      add: { include: ['u-new'] },
      remove: { include: ['u-staff'] },
    }
    const sliced = await base.applyInSlices(patch, { pause })
    expect(sliced.version).toBe(43)
    expect(sliced.evaluate('f', { targetingKey: 'u-new' })).toMatchObject({ variant: 'a' })
    expect(sliced.evaluate('f', staff)).toMatchObject({ variant: 'c' })
    expect(sliced.cohort('staff')).toEqual(base.apply(patch).cohort('staff'))
    expect(base.evaluate('f', staff)).toMatchObject({ variant: 'a' })
    await expect(base.applyInSlices({ ...patch, key: 'nope' }, { pause })).rejects.toMatchObject({
      code: 'INVALID_SNAPSHOT',
    })
  })

  it('put cohort: flags already compiled see the new membership; the old evaluator does not', () => {
    const changed = base.apply({ op: 'put', kind: 'cohort', key: 'staff', value: { key: 'staff', include: ['u-new'] } })
    expect(changed.evaluate('f', { targetingKey: 'u-new' })).toMatchObject({ variant: 'a', ruleId: 'staff' })
    expect(changed.evaluate('f', staff)).toMatchObject({ variant: 'c' })
    expect(base.evaluate('f', staff)).toMatchObject({ variant: 'a' })
    expect(base.evaluate('f', { targetingKey: 'u-new' })).toMatchObject({ variant: 'c' })
    expect(changed.cohort('staff')).toEqual({ key: 'staff', include: ['u-new'] })
    expect(base.cohort('staff')).toEqual({ key: 'staff', include: ['u-staff'] })
  })

  it('put cohort keeping the members: a new definition, the same lists', () => {
    const redefined = base.apply({
      op: 'put',
      kind: 'cohort',
      key: 'staff',
      value: {
        key: 'staff',
        description: 'staff, and everyone in NL',
        clauses: [{ attribute: 'country', op: 'eq', values: ['NL'] }],
      },
      keepMembers: true,
      version: 43,
    })
    expect(redefined.evaluate('f', staff)).toMatchObject({ variant: 'a', ruleId: 'staff' })
    expect(redefined.evaluate('f', { targetingKey: 'u-nl', country: 'NL' })).toMatchObject({ variant: 'a' })
    expect(redefined.cohort('staff')).toEqual({
      key: 'staff',
      description: 'staff, and everyone in NL',
      clauses: [{ attribute: 'country', op: 'eq', values: ['NL'] }],
      include: ['u-staff'],
    })
    expect(base.evaluate('f', { targetingKey: 'u-nl', country: 'NL' })).toMatchObject({ variant: 'c' })
    // a new cohort defined this way starts with no members
    const fresh = base.apply({ op: 'put', kind: 'cohort', key: 'new', value: { key: 'new' }, keepMembers: true })
    expect(fresh.cohort('new')).toEqual({ key: 'new' })
  })

  it('put cohort keeping the members refuses member lists in the value', () => {
    const error = expectInvalidSnapshot(() =>
      base.apply({
        op: 'put',
        kind: 'cohort',
        key: 'staff',
        value: { key: 'staff', include: ['x'] },
        keepMembers: true,
      }),
    )
    expect(error.issues.map((i) => i.pointer)).toEqual(['/value/include'])
    expect(base.cohort('staff')).toEqual({ key: 'staff', include: ['u-staff'] })
  })

  it('delete cohort: fine when unreferenced', () => {
    const deleted = base.apply({ op: 'delete', kind: 'cohort', key: 'unused' })
    expect(deleted.cohort('unused')).toBeUndefined()
    expect(base.cohort('unused')).toBeDefined()
  })

  it('deleting a cohort still referenced throws and changes nothing', () => {
    const error = expectInvalidSnapshot(() => base.apply({ op: 'delete', kind: 'cohort', key: 'staff' }))
    expect(error.issues.map((i) => i.pointer)).toEqual(['/flags/f/rules/0/cohorts/0'])
    expect(base.evaluate('f', staff)).toMatchObject({ variant: 'a', ruleId: 'staff' })
  })

  it('deleting a cohort referenced by an inCohort clause of another cohort throws', () => {
    const e = compile(
      [boolFlag('x')],
      [
        { key: 'a', include: ['u'] },
        { key: 'b', clauses: [{ op: 'inCohort', values: ['a'] }] },
      ],
    )
    expectInvalidSnapshot(() => e.apply({ op: 'delete', kind: 'cohort', key: 'a' }))
  })

  it('deleting a prerequisite flag throws', () => {
    expectInvalidSnapshot(() => base.apply({ op: 'delete', kind: 'flag', key: 'gate' }))
    expect(base.evaluate('child', {})).toMatchObject({ variant: 'on', reason: 'DEFAULT' })
  })

  it('removing a variant another flag needs as a prerequisite throws', () => {
    const shrunk = boolFlag('gate', { variants: { yes: true, off: false }, fallthrough: { variant: 'yes' } })
    const error = expectInvalidSnapshot(() => base.apply({ op: 'put', kind: 'flag', key: 'gate', value: shrunk }))
    expect(error.issues.map((i) => i.pointer)).toContain('/flags/child/prerequisites/0/variants/0')
    expect(base.flag('gate')?.variants).toEqual({ on: true, off: false })
    expect(base.evaluate('child', {})).toMatchObject({ variant: 'on' })
  })

  it('a patch that creates a prerequisite cycle throws', () => {
    const cyclic = boolFlag('gate', { prerequisites: [{ flag: 'child', variants: ['on'] }] })
    expectInvalidSnapshot(() => base.apply({ op: 'put', kind: 'flag', key: 'gate', value: cyclic }))
  })

  it('a patch that creates a cohort cycle throws', () => {
    const e = compile(
      [boolFlag('x')],
      [
        { key: 'a', clauses: [{ op: 'inCohort', values: ['b'] }] },
        { key: 'b', include: ['u'] },
      ],
    )
    const cyclic: Cohort = { key: 'b', clauses: [{ op: 'inCohort', values: ['a'] }] }
    expectInvalidSnapshot(() => e.apply({ op: 'put', kind: 'cohort', key: 'b', value: cyclic }))
  })

  it.each<[string, SnapshotPatch]>([
    ['unknown offVariant', { op: 'put', kind: 'flag', key: 'f', value: stringFlag('f', { offVariant: 'nope' }) }],
    [
      'unknown field',
      { op: 'put', kind: 'flag', key: 'f', value: { ...stringFlag('f'), extra: 1 } as unknown as Flag },
    ],
    ['not an object', { op: 'put', kind: 'flag', key: 'f', value: 'on' as unknown as Flag }],
    ['patch key differs from the value key', { op: 'put', kind: 'flag', key: 'g', value: stringFlag('f') }],
    [
      'invalid cohort',
      { op: 'put', kind: 'cohort', key: 'staff', value: { key: 'staff', include: 'u' } as unknown as Cohort },
    ],
    [
      'unknown cohort in a flag',
      {
        op: 'put',
        kind: 'flag',
        key: 'n',
        value: stringFlag('n', { rules: [{ id: 'r', cohorts: ['ghost'], serve: { variant: 'a' } }] }),
      },
    ],
  ])('an invalid patch (%s) throws SnapshotValidationError and the old evaluator still works', (_name, patch) => {
    expectInvalidSnapshot(() => base.apply(patch))
    expect(base.evaluate('f', staff)).toMatchObject({ variant: 'a', ruleId: 'staff' })
    expect(base.flag('f')).toEqual(flags[0])
    expect(base.has('g')).toBe(false)
    expect(base.snapshot()).toEqual(build(flags, cohorts, 42))
  })

  it('a batch that fails part way applies nothing', () => {
    const patches: SnapshotPatch[] = [
      { op: 'put', kind: 'flag', key: 'new', value: boolFlag('new'), version: 43 },
      { op: 'delete', kind: 'cohort', key: 'staff', version: 44 },
    ]
    expectInvalidSnapshot(() => base.apply(patches))
    expect(base.has('new')).toBe(false)
    expect(base.version).toBe(42)
  })

  it('a batch applies in order', () => {
    const next = base.apply([
      { op: 'put', kind: 'cohort', key: 'ops', value: { key: 'ops', include: ['u-ops'] }, version: 43 },
      {
        op: 'put',
        kind: 'flag',
        key: 'f',
        value: stringFlag('f', { rules: [{ id: 'ops', cohorts: ['ops'], serve: { variant: 'b' } }] }),
        version: 44,
      },
      { op: 'delete', kind: 'cohort', key: 'staff', version: 45 },
    ])
    expect(next.version).toBe(45)
    expect(next.evaluate('f', { targetingKey: 'u-ops' })).toMatchObject({ variant: 'b', ruleId: 'ops' })
    expect(next.cohort('staff')).toBeUndefined()
  })

  it('deleting an absent flag or cohort is a no-op', () => {
    const a = base.apply({ op: 'delete', kind: 'flag', key: 'absent' })
    const b = a.apply({ op: 'delete', kind: 'cohort', key: 'absent' })
    expect(b.snapshot()).toEqual(base.snapshot())
    expect(b.evaluate('f', staff)).toMatchObject({ variant: 'a' })
    // replaying a delete is harmless
    const once = base.apply({ op: 'delete', kind: 'cohort', key: 'unused' })
    expect(once.apply({ op: 'delete', kind: 'cohort', key: 'unused' }).snapshot()).toEqual(once.snapshot())
  })

  it('version follows patch.version, and stays when a patch has none', () => {
    expect(base.apply({ op: 'put', kind: 'flag', key: 'new', value: boolFlag('new') }).version).toBe(42)
    expect(base.apply({ op: 'put', kind: 'flag', key: 'new', value: boolFlag('new'), version: 50 }).version).toBe(50)
    expect(base.apply({ op: 'delete', kind: 'flag', key: 'absent', version: 51 }).version).toBe(51)
    expect(base.apply([]).version).toBe(42)
    expect(base.environment).toBe('production')
    expect(base.apply({ op: 'delete', kind: 'flag', key: 'f' }).environment).toBe('production')
  })

  it('snapshot() reflects patches; the old snapshot does not change', () => {
    const next = base
      .apply({ op: 'put', kind: 'flag', key: 'new', value: boolFlag('new'), version: 43 })
      .apply({ op: 'delete', kind: 'flag', key: 'f', version: 44 })
      .apply({ op: 'put', kind: 'cohort', key: 'ops', value: { key: 'ops', include: ['u'] }, version: 45 })
      .apply({ op: 'delete', kind: 'cohort', key: 'staff', version: 46 })
    const expected = build(
      [boolFlag('gate'), flags[2]!, boolFlag('new')],
      [cohorts[1]!, { key: 'ops', include: ['u'] }],
      46,
    )
    expect(next.snapshot()).toEqual(expected)
    expect(base.snapshot()).toEqual(build(flags, cohorts, 42))
    expect(compileSnapshot(next.snapshot()).snapshot()).toEqual(expected)
  })
})

describe('memory a context can claim', () => {
  it('a semver clause keeps nothing of 1 MB appVersion values (each request one)', () => {
    const evaluator = compile([
      boolFlag('new-app', {
        rules: [
          {
            id: 'r',
            clauses: [{ attribute: 'appVersion', op: 'semverGte', values: ['2.0.0'] }],
            serve: { variant: 'off' },
          },
        ],
      }),
    ])
    const before = semverCacheStats()
    const filler = '0'.repeat(1 << 20)
    for (let i = 0; i < 200; i++) {
      // valid in every way but length, and distinct
      const result = evaluator.evaluate('new-app', { targetingKey: 'u', appVersion: `3.0.0-${i}a${filler}` }, false)
      expect(result.variant).toBe('on')
    }
    expect(semverCacheStats()).toEqual(before)
    expect(evaluator.evaluate('new-app', { targetingKey: 'u', appVersion: '3.0.0-rc.1' }, false).variant).toBe('off')
  })
})
