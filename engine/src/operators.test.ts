import { describe, expect, it } from 'vitest'
import { compileSnapshot, type Evaluator } from './evaluator.js'
import { type CohortLookup, compileClause } from './operators.js'
import { compareSemver, parseSemver } from './semver.js'
import type { Clause, Cohort, JsonValue, Operator } from './types.js'

/** Marks a row whose context lacks the attribute altogether. */
const MISSING = Symbol('missing')

/**
 * What a row expects. `negate` inverts only a real comparison: a missing
 * attribute or one of the wrong kind never matches, negated or not.
 */
type Outcome = 'match' | 'no match' | 'missing' | 'wrong kind'
const EXPECTED: Record<Outcome, { plain: boolean; negated: boolean }> = {
  match: { plain: true, negated: false },
  'no match': { plain: false, negated: true },
  missing: { plain: false, negated: false },
  'wrong kind': { plain: false, negated: false },
}

interface Row {
  name: string
  values: JsonValue[]
  value: unknown
  outcome: Outcome
}

const row = (name: string, values: JsonValue[], value: unknown, outcome: Outcome): Row => ({
  name,
  values,
  value,
  outcome,
})

/** Rows every value-comparing operator gets: the attribute absent, or null. */
const missingRows = (values: JsonValue[]): Row[] => [
  row('attribute absent', values, MISSING, 'missing'),
  row('attribute null', values, null, 'missing'),
]

const compiled = new Map<string, Evaluator>()

/** One flag whose only rule holds the clause; the whole path: parse, compile, evaluate. */
function evaluatorFor(clause: Clause, cohorts: Record<string, Cohort> = {}): Evaluator {
  const cacheKey = JSON.stringify([clause, cohorts])
  let evaluator = compiled.get(cacheKey)
  if (evaluator === undefined) {
    evaluator = compileSnapshot({
      environment: 'test',
      version: 1,
      flags: {
        f: {
          key: 'f',
          type: 'boolean',
          variants: { on: true, off: false },
          version: 7,
          enabled: true,
          offVariant: 'off',
          rules: [{ id: 'clause', clauses: [clause], serve: { variant: 'on' } }],
          fallthrough: { variant: 'off' },
        },
      },
      cohorts,
    })
    compiled.set(cacheKey, evaluator)
  }
  return evaluator
}

/** Whether the clause holds for the context, checked through `evaluate`. */
function holdsFor(clause: Clause, context: Record<string, unknown>, cohorts?: Record<string, Cohort>): boolean {
  const result = evaluatorFor(clause, cohorts).evaluate('f', context, false)
  expect(result.errorCode).toBeUndefined()
  if (result.variant === 'on') {
    expect(result).toMatchObject({ value: true, reason: 'TARGETING_MATCH', ruleId: 'clause', flagVersion: 7 })
    return true
  }
  expect(result).toMatchObject({ value: false, variant: 'off', reason: 'DEFAULT', flagVersion: 7 })
  expect(result.ruleId).toBeUndefined()
  return false
}

/** Whether `{ attribute: 'a', op, values, negate }` holds for a context whose `a` is `value`. */
function holds(op: Operator, values: JsonValue[], value: unknown, negate: boolean): boolean {
  const clause: Clause = negate ? { attribute: 'a', op, values, negate: true } : { attribute: 'a', op, values }
  const context: Record<string, unknown> = { targetingKey: 'user-1' }
  if (value !== MISSING) context.a = value
  return holdsFor(clause, context)
}

const ISO = '2024-01-01T00:00:00Z'
const MS = Date.parse(ISO) // 1704067200000

const TABLE: Partial<Record<Operator, Row[]>> = {
  eq: [
    row('equal string', ['x'], 'x', 'match'),
    row('different string', ['x'], 'y', 'no match'),
    row('case differs', ['x'], 'X', 'no match'),
    row('equal number', [1], 1, 'match'),
    row('different number', [1], 2, 'no match'),
    row('numeric string vs number (no coercion)', [1], '1', 'no match'),
    row('number vs numeric string (no coercion)', ['1'], 1, 'no match'),
    row('equal boolean', [true], true, 'match'),
    row('boolean vs "true"', [true], 'true', 'no match'),
    row('object attribute', ['x'], { x: 'x' }, 'wrong kind'),
    row('array attribute', ['x'], ['x'], 'wrong kind'),
    ...missingRows(['x']),
  ],
  in: [
    row('first value', ['a', 'b', 1, false], 'a', 'match'),
    row('later value', ['a', 'b', 1, false], 'b', 'match'),
    row('number value', ['a', 'b', 1, false], 1, 'match'),
    row('boolean value', ['a', 'b', 1, false], false, 'match'),
    row('no value equal', ['a', 'b', 1, false], 'c', 'no match'),
    row('numeric string vs number', ['a', 'b', 1, false], '1', 'no match'),
    row('array attribute', ['a', 'b'], ['a'], 'wrong kind'),
    row('object attribute', ['a', 'b'], { a: 1 }, 'wrong kind'),
    ...missingRows(['a']),
  ],
  contains: [
    row('string holds a value', ['foo', 'bar'], 'xxbarxx', 'match'),
    row('string is a value', ['foo'], 'foo', 'match'),
    row('string holds no value', ['foo', 'bar'], 'fo ba', 'no match'),
    row('array holds a value', ['dev', 'ops'], ['admin', 'ops'], 'match'),
    row('array holds no value', ['dev', 'ops'], ['admin', 'devops'], 'no match'),
    row('empty array', ['dev'], [], 'no match'),
    row('array of numbers vs string value', ['1'], [1, 2], 'no match'),
    row('number attribute', ['4'], 42, 'wrong kind'),
    row('boolean attribute', ['true'], true, 'wrong kind'),
    row('object attribute', ['foo'], { foo: 'foo' }, 'wrong kind'),
    ...missingRows(['foo']),
  ],
  startsWith: [
    row('starts with a value', ['ab', 'cd'], 'cdef', 'match'),
    row('starts with no value', ['ab', 'cd'], 'xab', 'no match'),
    row('empty string', ['ab'], '', 'no match'),
    row('number attribute', ['1'], 12, 'wrong kind'),
    row('array attribute', ['ab'], ['abc'], 'wrong kind'),
    ...missingRows(['ab']),
  ],
  endsWith: [
    row('ends with a value', ['.org', '.com'], 'ann@example.com', 'match'),
    row('ends with no value', ['.com'], 'ann@example.com.au', 'no match'),
    row('number attribute', ['5'], 5, 'wrong kind'),
    row('array attribute', ['.com'], ['a.com'], 'wrong kind'),
    ...missingRows(['.com']),
  ],
  matches: [
    row('anchored pattern matches', ['^[a-z]+@example\\.com$'], 'bob@example.com', 'match'),
    row('anchored pattern does not match', ['^[a-z]+@example\\.com$'], 'bob@example.org', 'no match'),
    row('unanchored: finds a match anywhere', ['b+'], 'abbbc', 'match'),
    row('any of several patterns', ['^x', 'z$'], 'abz', 'match'),
    row('none of several patterns', ['^x', 'z$'], 'zab', 'no match'),
    row('RE2 named group and Unicode class', ['^(?P<word>\\pL+)$'], 'héllo', 'match'),
    row('RE2 flags group', ['(?i)^HELLO$'], 'hello', 'match'),
    row('number attribute', ['^1'], 123, 'wrong kind'),
    row('array attribute', ['a'], ['a'], 'wrong kind'),
    ...missingRows(['a']),
  ],
  lt: [
    row('smaller', [10], 5, 'match'),
    row('negative infinity', [10], Number.NEGATIVE_INFINITY, 'match'),
    row('equal', [10], 10, 'no match'),
    row('larger', [10], 15, 'no match'),
    row('numeric string', [10], '5', 'wrong kind'),
    row('NaN', [10], Number.NaN, 'wrong kind'),
    row('boolean', [10], true, 'wrong kind'),
    row('bigint', [10], 5n, 'wrong kind'),
    ...missingRows([10]),
  ],
  lte: [
    row('smaller', [10], 9.5, 'match'),
    row('equal', [10], 10, 'match'),
    row('larger', [10], 11, 'no match'),
    row('numeric string', [10], '10', 'wrong kind'),
    row('NaN', [10], Number.NaN, 'wrong kind'),
    ...missingRows([10]),
  ],
  gt: [
    row('larger', [10], 11, 'match'),
    row('infinity', [10], Number.POSITIVE_INFINITY, 'match'),
    row('equal', [10], 10, 'no match'),
    row('smaller', [-1], -2, 'no match'),
    row('numeric string', [10], '11', 'wrong kind'),
    row('NaN', [10], Number.NaN, 'wrong kind'),
    ...missingRows([10]),
  ],
  gte: [
    row('larger', [10], 10.5, 'match'),
    row('equal', [0], -0, 'match'),
    row('smaller', [10], 9, 'no match'),
    row('numeric string', [10], '10', 'wrong kind'),
    row('NaN', [10], Number.NaN, 'wrong kind'),
    ...missingRows([10]),
  ],
  before: [
    row('ISO attribute, ISO operand: earlier', [ISO], '2023-12-31T23:59:59Z', 'match'),
    row('ISO attribute with offset: earlier', [ISO], '2024-01-01T01:00:00+02:00', 'match'),
    row('ISO attribute: same instant (strict)', [ISO], '2024-01-01T00:00:00.000Z', 'no match'),
    row('ISO attribute: later', [ISO], '2024-06-01', 'no match'),
    row('epoch ms attribute: earlier', [ISO], MS - 1, 'match'),
    row('epoch ms attribute: same instant', [ISO], MS, 'no match'),
    row('epoch ms operand, ISO attribute: earlier', [MS], '2023-06-01T12:00:00Z', 'match'),
    row('epoch ms operand, epoch ms attribute: later', [MS], MS + 1, 'no match'),
    row('not a date', [ISO], 'yesterday', 'wrong kind'),
    row('impossible calendar date', ['2024-03-01T00:00:01Z'], '2024-02-30', 'wrong kind'),
    row('epoch ms as a string', [ISO], String(MS - 1), 'wrong kind'),
    row('NaN', [ISO], Number.NaN, 'wrong kind'),
    row('boolean', [ISO], false, 'wrong kind'),
    ...missingRows([ISO]),
  ],
  after: [
    row('ISO attribute: later', [ISO], '2024-01-01T00:00:00.001Z', 'match'),
    row('ISO attribute: same instant (strict)', [ISO], ISO, 'no match'),
    row('ISO attribute: earlier', [ISO], '2023-12-31', 'no match'),
    row('epoch ms attribute: later', [ISO], MS + 1, 'match'),
    row('epoch ms attribute: earlier', [ISO], 0, 'no match'),
    row('epoch ms operand, ISO attribute: later', [MS], '2025-01-01T00:00:00Z', 'match'),
    row('not a date', [ISO], 'tomorrow', 'wrong kind'),
    row('epoch ms as a string', [ISO], String(MS + 1), 'wrong kind'),
    row('infinity', [ISO], Number.POSITIVE_INFINITY, 'wrong kind'),
    row('NaN', [ISO], Number.NaN, 'wrong kind'),
    ...missingRows([ISO]),
  ],
  semverEq: [
    row('same version', ['1.2.3'], '1.2.3', 'match'),
    row('leading v on the attribute', ['1.2.3'], 'v1.2.3', 'match'),
    row('leading v and build metadata on the operand', ['v1.2.3+meta'], '1.2.3', 'match'),
    row('build metadata ignored', ['1.2.3'], '1.2.3+build.5', 'match'),
    row('different patch', ['1.2.3'], '1.2.4', 'no match'),
    row('prerelease is not the release', ['1.2.3'], '1.2.3-rc.1', 'no match'),
    row('number attribute (numbers are not versions)', ['1.2.3'], 123, 'wrong kind'),
    row('not a semver', ['1.2.3'], '1.2', 'wrong kind'),
    row('leading zero', ['1.2.3'], '01.2.3', 'wrong kind'),
    ...missingRows(['1.2.3']),
  ],
  semverLt: [
    row('prerelease ranks below the release', ['1.0.0'], '1.0.0-rc.1', 'match'),
    row('older version', ['1.0.0'], '0.9.9', 'match'),
    row('same version', ['1.0.0'], '1.0.0', 'no match'),
    row('same version with build metadata', ['1.0.0'], '1.0.0+20240101', 'no match'),
    row('numeric, not lexical, order', ['1.10.0'], '1.9.0', 'match'),
    row('newer version', ['1.0.0'], '1.0.1', 'no match'),
    row('number attribute', ['2.0.0'], 1, 'wrong kind'),
    row('not a semver', ['1.0.0'], 'one', 'wrong kind'),
    ...missingRows(['1.0.0']),
  ],
  semverLte: [
    row('same prerelease', ['1.0.0-beta.2'], '1.0.0-beta.2', 'match'),
    row('fewer prerelease fields ranks lower', ['1.0.0-beta.2'], '1.0.0-beta', 'match'),
    row('numeric prerelease identifiers compare numerically', ['1.0.0-beta.2'], '1.0.0-beta.11', 'no match'),
    row('release above its prerelease', ['1.0.0-beta.2'], '1.0.0', 'no match'),
    row('not a semver', ['1.0.0'], 'x', 'wrong kind'),
    ...missingRows(['1.0.0']),
  ],
  semverGt: [
    row('more prerelease fields', ['1.0.0-alpha'], '1.0.0-alpha.1', 'match'),
    row('release above prerelease', ['1.0.0-alpha'], '1.0.0', 'match'),
    row('alphanumeric above numeric identifier', ['1.0.0-alpha.1'], '1.0.0-alpha.beta', 'match'),
    row('same prerelease', ['1.0.0-alpha'], '1.0.0-alpha', 'no match'),
    row('ASCII order: uppercase sorts first', ['1.0.0-alpha'], '1.0.0-Beta', 'no match'),
    row('older version', ['1.0.0-alpha'], '0.9.0', 'no match'),
    row('number attribute', ['1.0.0'], 2, 'wrong kind'),
    ...missingRows(['1.0.0']),
  ],
  semverGte: [
    row('same version', ['2.0.0'], '2.0.0', 'match'),
    row('numeric, not lexical, major', ['2.0.0'], '10.0.0', 'match'),
    row('prerelease of the operand', ['2.0.0'], '2.0.0-rc.1', 'no match'),
    row('older', ['2.0.0'], '1.99.99', 'no match'),
    row('leading zero', ['2.0.0'], '02.0.0', 'wrong kind'),
    row('missing patch', ['2.0.0'], '2.0', 'wrong kind'),
    ...missingRows(['2.0.0']),
  ],
}

describe.each(Object.entries(TABLE))('%s', (op, rows) => {
  it.each(rows)('$name → $outcome', ({ values, value, outcome }) => {
    const expected = EXPECTED[outcome]
    expect(holds(op as Operator, values, value, false)).toBe(expected.plain)
    expect(holds(op as Operator, values, value, true)).toBe(expected.negated)
  })
})

describe('exists', () => {
  it.each([
    { name: 'string', value: 'x', present: true },
    { name: 'empty string', value: '', present: true },
    { name: 'zero', value: 0, present: true },
    { name: 'false', value: false, present: true },
    { name: 'NaN', value: Number.NaN, present: true },
    { name: 'empty object', value: {}, present: true },
    { name: 'empty array', value: [], present: true },
    { name: 'absent', value: MISSING, present: false },
    { name: 'null', value: null, present: false },
    { name: 'undefined', value: undefined, present: false },
  ])('$name → present: $present; negated matches exactly the missing ones', ({ value, present }) => {
    expect(holds('exists', [], value, false)).toBe(present)
    expect(holds('exists', [], value, true)).toBe(!present)
  })
})

describe('inCohort', () => {
  const cohorts: Record<string, Cohort> = {
    beta: { key: 'beta', include: ['user-1'] },
    pros: { key: 'pros', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }] },
  }
  const inCohort = (values: string[], negate: boolean): Clause =>
    negate ? { op: 'inCohort', values, negate: true } : { op: 'inCohort', values }

  it.each([
    { name: 'listed in the only cohort', values: ['beta'], context: { targetingKey: 'user-1' }, member: true },
    { name: 'not in the only cohort', values: ['beta'], context: { targetingKey: 'user-2' }, member: false },
    {
      name: 'in the second of two cohorts (any)',
      values: ['beta', 'pros'],
      context: { targetingKey: 'user-2', plan: 'pro' },
      member: true,
    },
    {
      name: 'outside every listed cohort',
      values: ['beta', 'pros'],
      context: { targetingKey: 'user-2', plan: 'free' },
      member: false,
    },
    { name: 'no targeting key, no attributes', values: ['beta', 'pros'], context: {}, member: false },
  ])('$name → member: $member; negated matches non-members', ({ values, context, member }) => {
    expect(holdsFor(inCohort(values, false), context, cohorts)).toBe(member)
    expect(holdsFor(inCohort(values, true), context, cohorts)).toBe(!member)
  })

  it('ignores an attribute on the clause', () => {
    const clause: Clause = { attribute: 'whatever', op: 'inCohort', values: ['beta'] }
    expect(holdsFor(clause, { targetingKey: 'user-1' }, cohorts)).toBe(true)
  })
})

describe('matches: RE2 semantics', () => {
  it('a catastrophic-backtracking pattern finishes fast on 50k "a"s and a "!"', () => {
    const input = `${'a'.repeat(50_000)}!`
    const started = Date.now()
    expect(holds('matches', ['(a+)+$'], input, false)).toBe(false)
    expect(holds('matches', ['(a+)+$'], input, true)).toBe(true)
    expect(holds('matches', ['(a+)+$'], 'a'.repeat(50_000), false)).toBe(true)
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('nested quantifiers with alternation stay linear', () => {
    const input = `${'ab'.repeat(25_000)}c`
    const started = Date.now()
    expect(holds('matches', ['^(a|ab|b)*$'], input, false)).toBe(false)
    expect(Date.now() - started).toBeLessThan(2_000)
  })
})

describe('attribute resolution', () => {
  const eq = (attribute: string, value: JsonValue): Clause => ({ attribute, op: 'eq', values: [value] })

  it('a dotted name that is itself a key of the context wins', () => {
    const context = { 'user.email': 'flat@example.com', user: { email: 'nested@example.com' } }
    expect(holdsFor(eq('user.email', 'flat@example.com'), context)).toBe(true)
    expect(holdsFor(eq('user.email', 'nested@example.com'), context)).toBe(false)
  })

  it('otherwise dots walk nested objects', () => {
    const context = { user: { address: { country: 'NL' } } }
    expect(holdsFor(eq('user.address.country', 'NL'), context)).toBe(true)
    expect(holdsFor(eq('user.address.country', 'BE'), context)).toBe(false)
  })

  it('a path through a missing or non-object step is missing, even negated', () => {
    const negated: Clause = { attribute: 'user.address.country', op: 'eq', values: ['NL'], negate: true }
    expect(holdsFor(negated, { user: {} })).toBe(false)
    expect(holdsFor(negated, { user: 'NL' })).toBe(false)
    expect(holdsFor(negated, { user: { address: null } })).toBe(false)
  })

  it('targetingKey is the context key', () => {
    expect(holdsFor(eq('targetingKey', 'user-1'), { targetingKey: 'user-1' })).toBe(true)
  })

  it('never reads prototypes', () => {
    const exists = (attribute: string): Clause => ({ attribute, op: 'exists', values: [] })
    const inherited = Object.create({ plan: 'pro', nested: { plan: 'pro' } }) as Record<string, unknown>
    expect(holdsFor(exists('plan'), inherited)).toBe(false)
    expect(holdsFor(exists('nested.plan'), inherited)).toBe(false)
    expect(holdsFor(exists('toString'), {})).toBe(false)
    expect(holdsFor(exists('constructor'), {})).toBe(false)
    expect(holdsFor(exists('__proto__'), {})).toBe(false)
    expect(holdsFor(exists('a.constructor.name'), { a: {} })).toBe(false)
    expect(holdsFor(exists('s.length'), { s: 'abc' })).toBe(false)
  })
})

describe('compileClause', () => {
  const noCohorts: CohortLookup = () => false

  it('compiles a comparison into a predicate over the context', () => {
    const predicate = compileClause({ attribute: 'plan', op: 'in', values: ['pro', 'team'] })
    expect(predicate({ plan: 'team' }, noCohorts, 0)).toBe(true)
    expect(predicate({ plan: 'free' }, noCohorts, 0)).toBe(false)
    expect(predicate({}, noCohorts, 0)).toBe(false)
  })

  it('negation inverts a real comparison only', () => {
    const predicate = compileClause({ attribute: 'age', op: 'gte', values: [18], negate: true })
    expect(predicate({ age: 17 }, noCohorts, 0)).toBe(true)
    expect(predicate({ age: 18 }, noCohorts, 0)).toBe(false)
    expect(predicate({ age: '17' }, noCohorts, 0)).toBe(false)
    expect(predicate({}, noCohorts, 0)).toBe(false)
  })

  it('negated exists matches a missing attribute', () => {
    const predicate = compileClause({ attribute: 'email', op: 'exists', values: [], negate: true })
    expect(predicate({}, noCohorts, 0)).toBe(true)
    expect(predicate({ email: null }, noCohorts, 0)).toBe(true)
    expect(predicate({ email: '' }, noCohorts, 0)).toBe(false)
  })

  it('inCohort asks the lookup for each key, with the context and depth, until one holds', () => {
    const asked: [string, number][] = []
    const lookup: CohortLookup = (key, _ctx, depth) => {
      asked.push([key, depth])
      return key === 'b'
    }
    const ctx = { targetingKey: 'u' }
    expect(compileClause({ op: 'inCohort', values: ['a', 'b', 'c'] })(ctx, lookup, 3)).toBe(true)
    expect(asked).toEqual([
      ['a', 3],
      ['b', 3],
    ])
    expect(compileClause({ op: 'inCohort', values: ['a', 'c'], negate: true })(ctx, lookup, 0)).toBe(true)
    expect(compileClause({ op: 'inCohort', values: ['b'], negate: true })(ctx, lookup, 0)).toBe(false)
  })

  const weird: [string, unknown][] = [
    ['symbol', Symbol('s')],
    ['bigint', 10n],
    ['function', () => 'x'],
    ['Date object', new Date(0)],
    ['plain object', { toString: () => 'x', valueOf: () => 1 }],
  ]
  const clauses: Clause[] = [
    { attribute: 'a', op: 'eq', values: ['x'] },
    { attribute: 'a', op: 'in', values: ['x', 1] },
    { attribute: 'a', op: 'contains', values: ['x'] },
    { attribute: 'a', op: 'startsWith', values: ['x'] },
    { attribute: 'a', op: 'endsWith', values: ['x'] },
    { attribute: 'a', op: 'matches', values: ['x'] },
    { attribute: 'a', op: 'lt', values: [1] },
    { attribute: 'a', op: 'lte', values: [1] },
    { attribute: 'a', op: 'gt', values: [1] },
    { attribute: 'a', op: 'gte', values: [1] },
    { attribute: 'a', op: 'before', values: [ISO] },
    { attribute: 'a', op: 'after', values: [0] },
    { attribute: 'a', op: 'semverEq', values: ['1.0.0'] },
    { attribute: 'a', op: 'semverLt', values: ['1.0.0'] },
    { attribute: 'a', op: 'semverLte', values: ['1.0.0'] },
    { attribute: 'a', op: 'semverGt', values: ['1.0.0'] },
    { attribute: 'a', op: 'semverGte', values: ['1.0.0'] },
  ]
  it.each(weird)('a %s attribute is the wrong kind for every comparison, negated or not', (_name, value) => {
    for (const clause of clauses) {
      for (const negate of [false, true]) {
        const predicate = compileClause({ ...clause, negate })
        expect(predicate({ a: value }, noCohorts, 0), `${clause.op}${negate ? ' (negated)' : ''}`).toBe(false)
      }
    }
  })
})

describe('semver comparisons read plain versions in place', () => {
  // the in-place reader must agree with the full parser on every input, plain or not
  const inputs = [
    '1.2.3',
    'v1.2.3',
    '0.0.0',
    '10.20.30',
    '1.2.3-rc.1',
    '1.2.3+build.5',
    '1.2.3-rc.1+build',
    '01.2.3',
    '1.02.3',
    '1.2.03',
    '1.2',
    '1.2.3.4',
    '1..3',
    '.1.2',
    'v',
    '',
    ' 1.2.3',
    '1.2.3 ',
    'V1.2.3',
    '123456789012345.1.1',
    '1234567890123456.1.1',
    '9007199254740993.0.0',
    '1.2.x',
  ]
  const operands = ['1.2.3', '1.2.3-rc.1', '1.2.4', '0.9.9', '10.0.0', '1.2.3-alpha']
  const ops = ['semverEq', 'semverLt', 'semverLte', 'semverGt', 'semverGte'] as const
  const holds = { semverEq: [0], semverLt: [-1], semverLte: [-1, 0], semverGt: [1], semverGte: [0, 1] }
  const noCohorts: CohortLookup = () => false

  it('matches what parsing both and comparing gives', () => {
    for (const input of inputs)
      for (const operand of operands)
        for (const op of ops) {
          const parsed = parseSemver(input)
          const expected =
            parsed !== undefined && holds[op].includes(Math.sign(compareSemver(parsed, parseSemver(operand)!)))
          const predicate = compileClause({ attribute: 'v', op, values: [operand] })
          expect(predicate({ v: input }, noCohorts, 0), `${input} ${op} ${operand}`).toBe(expected)
        }
  })
})
