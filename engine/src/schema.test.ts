import { describe, expect, it } from 'vitest'
import { SnapshotValidationError } from './errors.js'
import { compileSnapshot } from './evaluator.js'
import { parseSnapshot, type SnapshotIssue, toPointer } from './schema.js'
import type { Snapshot } from './types.js'

type Json = Record<string, unknown>

/** A valid boolean flag; `over` replaces top-level fields. */
const flag = (key: string, over: Json = {}): Json => ({
  key,
  type: 'boolean',
  variants: { on: true, off: false },
  version: 1,
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'off' },
  ...over,
})

const snapshot = (flags: Json, cohorts: Json = {}): Json => ({ environment: 'production', version: 3, flags, cohorts })

/** A snapshot with one flag `f` whose first rule holds `clause`. */
const withClause = (clause: Json, cohorts: Json = {}): Json =>
  snapshot({ f: flag('f', { rules: [{ id: 'r', clauses: [clause], serve: { variant: 'on' } }] }) }, cohorts)

/** Parses, asserts failure and self-consistent issues, and returns them. */
function issuesOf(input: unknown): SnapshotIssue[] {
  const result = parseSnapshot(input)
  expect(result.success).toBe(false)
  if (result.success) return []
  expect(result.issues.length).toBeGreaterThan(0)
  for (const issue of result.issues) {
    expect(issue.pointer).toBe(toPointer(issue.path))
    expect(typeof issue.message).toBe('string')
    expect(issue.message.length).toBeGreaterThan(0)
  }
  return result.issues
}

const pointersOf = (input: unknown): string[] => issuesOf(input).map((i) => i.pointer)

/** Checks the exact set of pointers reported (order is not part of the contract). */
function expectPointers(input: unknown, expected: string[]): void {
  expect([...pointersOf(input)].sort()).toEqual([...expected].sort())
}

type Case = [name: string, input: unknown, pointers: string[]]

describe('parseSnapshot: wrong types', () => {
  it.each<Case>([
    ['snapshot is null', null, ['']],
    ['snapshot is a number', 42, ['']],
    ['snapshot is an array', [], ['']],
    ['environment is a number', { ...snapshot({}), environment: 5 }, ['/environment']],
    ['environment is empty', { ...snapshot({}), environment: '' }, ['/environment']],
    ['environment is missing', { version: 1, flags: {}, cohorts: {} }, ['/environment']],
    ['version is negative', { ...snapshot({}), version: -1 }, ['/version']],
    ['version is fractional', { ...snapshot({}), version: 1.5 }, ['/version']],
    ['version is a string', { ...snapshot({}), version: '1' }, ['/version']],
    ['flags is an array', { ...snapshot({}), flags: [] }, ['/flags']],
    ['cohorts is a string', { ...snapshot({}), cohorts: 'x' }, ['/cohorts']],
    ['flag is a string', snapshot({ f: 'on' }), ['/flags/f']],
    ['flag is null', snapshot({ f: null }), ['/flags/f']],
    ['flag type unknown', snapshot({ f: flag('f', { type: 'integer' }) }), ['/flags/f/type']],
    ['flag version is a string', snapshot({ f: flag('f', { version: '1' }) }), ['/flags/f/version']],
    ['flag version is negative', snapshot({ f: flag('f', { version: -1 }) }), ['/flags/f/version']],
    ['enabled is a string', snapshot({ f: flag('f', { enabled: 'yes' }) }), ['/flags/f/enabled']],
    ['enabled is missing', snapshot({ f: flag('f', { enabled: undefined }) }), ['/flags/f/enabled']],
    ['killed is a number', snapshot({ f: flag('f', { killed: 1 }) }), ['/flags/f/killed']],
    ['archived is a string', snapshot({ f: flag('f', { archived: 'no' }) }), ['/flags/f/archived']],
    ['variants is an array', snapshot({ f: flag('f', { variants: [true, false] }) }), ['/flags/f/variants']],
    ['tags holds a number', snapshot({ f: flag('f', { tags: ['ok', 3] }) }), ['/flags/f/tags/1']],
    ['description is a number', snapshot({ f: flag('f', { description: 5 }) }), ['/flags/f/description']],
    ['rules is an object', snapshot({ f: flag('f', { rules: {} }) }), ['/flags/f/rules']],
    ['targets holds a string', snapshot({ f: flag('f', { targets: { on: 'user-1' } }) }), ['/flags/f/targets/on']],
    ['targets holds a number key', snapshot({ f: flag('f', { targets: { on: [1] } }) }), ['/flags/f/targets/on/0']],
    [
      'rule enabled is a string',
      snapshot({ f: flag('f', { rules: [{ id: 'r', enabled: 'no', serve: { variant: 'on' } }] }) }),
      ['/flags/f/rules/0/enabled'],
    ],
    [
      'rule cohorts is a string',
      snapshot({ f: flag('f', { rules: [{ id: 'r', cohorts: 'beta', serve: { variant: 'on' } }] }) }),
      ['/flags/f/rules/0/cohorts'],
    ],
    ['rule without serve', snapshot({ f: flag('f', { rules: [{ id: 'r' }] }) }), ['/flags/f/rules/0/serve']],
    [
      'clause values is a string',
      withClause({ attribute: 'a', op: 'eq', values: 'x' }),
      ['/flags/f/rules/0/clauses/0/values'],
    ],
    [
      'clause negate is a string',
      withClause({ attribute: 'a', op: 'eq', values: ['x'], negate: 'yes' }),
      ['/flags/f/rules/0/clauses/0/negate'],
    ],
    [
      'clause attribute is empty',
      withClause({ attribute: '', op: 'eq', values: ['x'] }),
      ['/flags/f/rules/0/clauses/0/attribute'],
    ],
    ['clause attribute is missing', withClause({ op: 'eq', values: ['x'] }), ['/flags/f/rules/0/clauses/0/attribute']],
    [
      'clause op is unknown',
      withClause({ attribute: 'a', op: 'like', values: ['x'] }),
      ['/flags/f/rules/0/clauses/0/op'],
    ],
    [
      'prerequisite without variants',
      snapshot({ f: flag('f', { prerequisites: [{ flag: 'g', variants: [] }] }), g: flag('g') }),
      ['/flags/f/prerequisites/0/variants'],
    ],
    ['cohort is a string', snapshot({}, { c: 'beta' }), ['/cohorts/c']],
    ['cohort include is a string', snapshot({}, { c: { key: 'c', include: 'user-1' } }), ['/cohorts/c/include']],
    ['cohort version is fractional', snapshot({}, { c: { key: 'c', version: 0.5 } }), ['/cohorts/c/version']],
    [
      'cohort rollout weight above 100000',
      snapshot({}, { c: { key: 'c', rollout: { weight: 100_001 } } }),
      ['/cohorts/c/rollout/weight'],
    ],
    [
      'cohort rollout weight fractional',
      snapshot({}, { c: { key: 'c', rollout: { weight: 1.5 } } }),
      ['/cohorts/c/rollout/weight'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })
})

describe('parseSnapshot: unknown fields are rejected at every level', () => {
  const rollout = { weights: { on: 50_000, off: 50_000 } }
  it.each<Case>([
    ['snapshot', { ...snapshot({}), extra: 1 }, ['']],
    ['flag', snapshot({ f: flag('f', { extra: 1 }) }), ['/flags/f']],
    [
      'fallthrough variant serve',
      snapshot({ f: flag('f', { fallthrough: { variant: 'off', extra: 1 } }) }),
      ['/flags/f/fallthrough'],
    ],
    [
      'fallthrough rollout',
      snapshot({ f: flag('f', { fallthrough: { rollout: { ...rollout, extra: 1 } } }) }),
      ['/flags/f/fallthrough/rollout'],
    ],
    [
      'rule',
      snapshot({ f: flag('f', { rules: [{ id: 'r', serve: { variant: 'on' }, extra: 1 }] }) }),
      ['/flags/f/rules/0'],
    ],
    [
      'rule serve',
      snapshot({ f: flag('f', { rules: [{ id: 'r', serve: { variant: 'on', extra: 1 } }] }) }),
      ['/flags/f/rules/0/serve'],
    ],
    [
      'rule rollout',
      snapshot({ f: flag('f', { rules: [{ id: 'r', serve: { rollout: { ...rollout, extra: 1 } } }] }) }),
      ['/flags/f/rules/0/serve/rollout'],
    ],
    ['clause', withClause({ attribute: 'a', op: 'eq', values: ['x'], extra: 1 }), ['/flags/f/rules/0/clauses/0']],
    [
      'prerequisite',
      snapshot({ f: flag('f', { prerequisites: [{ flag: 'g', variants: ['on'], extra: 1 }] }), g: flag('g') }),
      ['/flags/f/prerequisites/0'],
    ],
    ['cohort', snapshot({}, { c: { key: 'c', extra: 1 } }), ['/cohorts/c']],
    ['cohort rollout', snapshot({}, { c: { key: 'c', rollout: { weight: 5000, extra: 1 } } }), ['/cohorts/c/rollout']],
    [
      'cohort clause',
      snapshot({}, { c: { key: 'c', clauses: [{ attribute: 'a', op: 'exists', values: [], extra: 1 }] } }),
      ['/cohorts/c/clauses/0'],
    ],
  ])('%s', (_name, input, pointers) => {
    const issues = issuesOf(input)
    expect(issues.map((i) => i.pointer)).toEqual(pointers)
    expect(issues[0]!.message).toContain('"extra"')
  })
})

describe('parseSnapshot: unknown variants', () => {
  it.each<Case>([
    ['offVariant', snapshot({ f: flag('f', { offVariant: 'nope' }) }), ['/flags/f/offVariant']],
    [
      'fallthrough variant',
      snapshot({ f: flag('f', { fallthrough: { variant: 'nope' } }) }),
      ['/flags/f/fallthrough/variant'],
    ],
    [
      'fallthrough rollout weight',
      snapshot({ f: flag('f', { fallthrough: { rollout: { weights: { on: 50_000, nope: 50_000 } } } }) }),
      ['/flags/f/fallthrough/rollout/weights/nope'],
    ],
    [
      'rule variant',
      snapshot({
        f: flag('f', {
          rules: [
            { id: 'r1', serve: { variant: 'on' } },
            { id: 'r2', serve: { variant: 'nope' } },
          ],
        }),
      }),
      ['/flags/f/rules/1/serve/variant'],
    ],
    [
      'rule rollout weight',
      snapshot({ f: flag('f', { rules: [{ id: 'r', serve: { rollout: { weights: { nope: 100_000 } } } }] }) }),
      ['/flags/f/rules/0/serve/rollout/weights/nope'],
    ],
    ['targets', snapshot({ f: flag('f', { targets: { on: ['u1'], nope: ['u2'] } }) }), ['/flags/f/targets/nope']],
    [
      'prerequisite variants',
      snapshot({ f: flag('f'), g: flag('g', { prerequisites: [{ flag: 'f', variants: ['on', 'nope'] }] }) }),
      ['/flags/g/prerequisites/0/variants/1'],
    ],
    [
      'prerequisite flag',
      snapshot({ g: flag('g', { prerequisites: [{ flag: 'absent', variants: ['on'] }] }) }),
      ['/flags/g/prerequisites/0/flag'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })

  it('a context key targeted by two variants is reported where it repeats', () => {
    expectPointers(snapshot({ f: flag('f', { targets: { on: ['u1', 'u2'], off: ['u3', 'u2'] } }) }), [
      '/flags/f/targets/off/1',
    ])
  })
})

describe('parseSnapshot: rollout weights', () => {
  const fallthrough = (weights: Json) => snapshot({ f: flag('f', { fallthrough: { rollout: { weights } } }) })

  it.each<Case>([
    ['sum below 100000', fallthrough({ on: 50_000, off: 40_000 }), ['/flags/f/fallthrough/rollout/weights']],
    ['sum above 100000', fallthrough({ on: 50_000, off: 50_001 }), ['/flags/f/fallthrough/rollout/weights']],
    ['percent instead of thousandths', fallthrough({ on: 50, off: 50 }), ['/flags/f/fallthrough/rollout/weights']],
    ['no weights', fallthrough({}), ['/flags/f/fallthrough/rollout/weights']],
    [
      'rule rollout sum',
      snapshot({ f: flag('f', { rules: [{ id: 'r', serve: { rollout: { weights: { on: 1 } } } }] }) }),
      ['/flags/f/rules/0/serve/rollout/weights'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })

  it('non-integer weights are reported at each weight', () => {
    expectPointers(fallthrough({ on: 50_000.5, off: 49_999.5 }), [
      '/flags/f/fallthrough/rollout/weights/on',
      '/flags/f/fallthrough/rollout/weights/off',
    ])
  })

  it('accepts zero weights and a single 100000 weight', () => {
    expect(parseSnapshot(fallthrough({ on: 100_000, off: 0 })).success).toBe(true)
    expect(parseSnapshot(fallthrough({ on: 100_000 })).success).toBe(true)
  })
})

describe('parseSnapshot: rule ids', () => {
  it('reports a duplicate rule id at the repeat', () => {
    const issues = issuesOf(
      snapshot({
        f: flag('f', {
          rules: [
            { id: 'r1', serve: { variant: 'on' } },
            { id: 'r2', serve: { variant: 'on' } },
            { id: 'r1', serve: { variant: 'off' } },
          ],
        }),
      }),
    )
    expect(issues.map((i) => i.path)).toEqual([['flags', 'f', 'rules', 2, 'id']])
    expect(issues[0]!.pointer).toBe('/flags/f/rules/2/id')
  })

  it('the same rule id in two flags is fine', () => {
    const rules = [{ id: 'r1', serve: { variant: 'on' } }]
    expect(parseSnapshot(snapshot({ f: flag('f', { rules }), g: flag('g', { rules }) })).success).toBe(true)
  })
})

describe('parseSnapshot: cohort references', () => {
  const beta = { beta: { key: 'beta', include: ['u1'] } }
  it.each<Case>([
    [
      'rule cohorts',
      snapshot({ f: flag('f', { rules: [{ id: 'r', cohorts: ['beta', 'nope'], serve: { variant: 'on' } }] }) }, beta),
      ['/flags/f/rules/0/cohorts/1'],
    ],
    [
      'inCohort clause in a rule',
      withClause({ op: 'inCohort', values: ['beta', 'nope'] }, beta),
      ['/flags/f/rules/0/clauses/0/values/1'],
    ],
    [
      'negated inCohort clause in a rule',
      withClause({ op: 'inCohort', values: ['nope'], negate: true }, beta),
      ['/flags/f/rules/0/clauses/0/values/0'],
    ],
    [
      'inCohort clause in a cohort',
      snapshot({}, { ...beta, c: { key: 'c', clauses: [{ op: 'inCohort', values: ['nope'] }] } }),
      ['/cohorts/c/clauses/0/values/0'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })
})

describe('parseSnapshot: cycles', () => {
  const requires = (key: string, ...on: string[]) =>
    flag(key, { prerequisites: on.map((other) => ({ flag: other, variants: ['on'] })) })
  const inCohort = (key: string, ...others: string[]) => ({
    key,
    clauses: others.map((other) => ({ op: 'inCohort', values: [other] })),
  })

  it('a flag that is its own prerequisite', () => {
    expectPointers(snapshot({ a: requires('a', 'a') }), ['/flags/a/prerequisites/0/flag'])
  })

  it('a 2-cycle of prerequisites is reported once', () => {
    const issues = issuesOf(snapshot({ a: requires('a', 'b'), b: requires('b', 'a') }))
    expect(issues.map((i) => i.pointer)).toEqual(['/flags/a/prerequisites'])
    expect(issues[0]!.message).toMatch(/a.*b.*a/)
  })

  it('a 3-cycle of prerequisites is reported once', () => {
    const issues = issuesOf(snapshot({ a: requires('a', 'b'), b: requires('b', 'c'), c: requires('c', 'a') }))
    expect(issues.map((i) => i.pointer)).toEqual(['/flags/a/prerequisites'])
    expect(issues[0]!.message).toMatch(/a.*b.*c.*a/)
  })

  it('a diamond of prerequisites is not a cycle', () => {
    const diamond = snapshot({ a: requires('a', 'b', 'c'), b: requires('b', 'd'), c: requires('c', 'd'), d: flag('d') })
    expect(parseSnapshot(diamond).success).toBe(true)
  })

  it('a cohort in itself', () => {
    expectPointers(snapshot({}, { a: inCohort('a', 'a') }), ['/cohorts/a/clauses'])
  })

  it('a 2-cycle of cohorts through inCohort', () => {
    const issues = issuesOf(snapshot({}, { a: inCohort('a', 'b'), b: inCohort('b', 'a') }))
    expect(issues.map((i) => i.pointer)).toEqual(['/cohorts/a/clauses'])
    expect(issues[0]!.message).toMatch(/a.*b.*a/)
  })

  it('a 3-cycle of cohorts through negated inCohort', () => {
    const negated = (key: string, other: string) => ({
      key,
      clauses: [{ op: 'inCohort', values: [other], negate: true }],
    })
    const issues = issuesOf(snapshot({}, { a: negated('a', 'b'), b: negated('b', 'c'), c: negated('c', 'a') }))
    expect(issues.map((i) => i.pointer)).toEqual(['/cohorts/a/clauses'])
  })

  it('cohorts nesting without a cycle are fine', () => {
    const nested = snapshot({}, { a: inCohort('a', 'b', 'c'), b: inCohort('b', 'c'), c: { key: 'c', include: ['u'] } })
    expect(parseSnapshot(nested).success).toBe(true)
  })
})

describe('parseSnapshot: variant values must fit the flag type', () => {
  it.each<Case>([
    [
      'string in a boolean flag',
      snapshot({ f: flag('f', { variants: { on: 'yes', off: false } }) }),
      ['/flags/f/variants/on'],
    ],
    [
      'numbers in a boolean flag',
      snapshot({ f: flag('f', { variants: { on: 1, off: 0 } }) }),
      ['/flags/f/variants/on', '/flags/f/variants/off'],
    ],
    [
      'numeric string in a number flag',
      snapshot({ f: flag('f', { type: 'number', variants: { on: '1', off: 0 } }) }),
      ['/flags/f/variants/on'],
    ],
    [
      'number in a string flag',
      snapshot({ f: flag('f', { type: 'string', variants: { on: 'a', off: 0 } }) }),
      ['/flags/f/variants/off'],
    ],
    [
      'string in an object flag',
      snapshot({ f: flag('f', { type: 'object', variants: { on: {}, off: 'x' } }) }),
      ['/flags/f/variants/off'],
    ],
    [
      'null in an object flag',
      snapshot({ f: flag('f', { type: 'object', variants: { on: {}, off: null } }) }),
      ['/flags/f/variants/off'],
    ],
    [
      'no variants',
      snapshot({ f: flag('f', { variants: {}, offVariant: 'off' }) }),
      ['/flags/f/variants', '/flags/f/offVariant', '/flags/f/fallthrough/variant'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })

  it('an object flag takes objects and arrays', () => {
    const f = flag('f', { type: 'object', variants: { on: { a: [1, { b: null }] }, off: [] } })
    expect(parseSnapshot(snapshot({ f })).success).toBe(true)
  })
})

describe('parseSnapshot: clause values', () => {
  const at = '/flags/f/rules/0/clauses/0/values'
  it.each<[name: string, clause: Json, pointers: string[]]>([
    ['invalid regex', { attribute: 'a', op: 'matches', values: ['ok', '(a'] }, [`${at}/1`]],
    ['lookahead (not RE2)', { attribute: 'a', op: 'matches', values: ['a(?=b)'] }, [`${at}/0`]],
    ['backreference (not RE2)', { attribute: 'a', op: 'matches', values: ['(a)\\1'] }, [`${at}/0`]],
    ['pattern that is not a string', { attribute: 'a', op: 'matches', values: [5] }, [`${at}/0`]],
    ['semver missing its patch', { attribute: 'a', op: 'semverEq', values: ['1.0'] }, [`${at}/0`]],
    ['semver with a leading zero', { attribute: 'a', op: 'semverGt', values: ['01.0.0'] }, [`${at}/0`]],
    ['semver as a number', { attribute: 'a', op: 'semverLt', values: [1] }, [`${at}/0`]],
    ['number op with a numeric string', { attribute: 'a', op: 'lt', values: ['5'] }, [`${at}/0`]],
    ['date op with a non-date', { attribute: 'a', op: 'before', values: ['yesterday'] }, [`${at}/0`]],
    ['eq with an object', { attribute: 'a', op: 'eq', values: [{}] }, [`${at}/0`]],
    ['eq with null', { attribute: 'a', op: 'eq', values: [null] }, [`${at}/0`]],
    ['in with an array', { attribute: 'a', op: 'in', values: ['a', ['b']] }, [`${at}/1`]],
    ['contains with a number', { attribute: 'a', op: 'contains', values: ['a', 1] }, [`${at}/1`]],
    ['inCohort with a number', { op: 'inCohort', values: [1] }, [`${at}/0`]],
  ])('%s', (_name, clause, pointers) => {
    expectPointers(withClause(clause), pointers)
  })

  it.each<[op: string, values: unknown[]]>([
    ['eq', []],
    ['eq', ['a', 'b']],
    ['in', []],
    ['contains', []],
    ['startsWith', []],
    ['endsWith', []],
    ['matches', []],
    ['lt', []],
    ['lte', [1, 2]],
    ['gt', [1, 2]],
    ['gte', []],
    ['before', []],
    ['after', ['2024-01-01', '2025-01-01']],
    ['semverEq', []],
    ['semverLt', ['1.0.0', '2.0.0']],
    ['semverLte', []],
    ['semverGt', []],
    ['semverGte', ['1.0.0', '2.0.0']],
    ['exists', ['x']],
    ['inCohort', []],
  ])('%s with %j has the wrong number of values', (op, values) => {
    const clause = op === 'inCohort' ? { op, values } : { attribute: 'a', op, values }
    expectPointers(withClause(clause), [at])
  })
})

describe('parseSnapshot: keys', () => {
  it.each<Case>([
    ['flag key differs from its entry', snapshot({ g: flag('f') }), ['/flags/g/key']],
    ['cohort key differs from its entry', snapshot({}, { c: { key: 'd' } }), ['/cohorts/c/key']],
    ['uppercase flag key', snapshot({ Bad: flag('Bad') }), ['/flags/Bad/key']],
    ['flag key with a space', snapshot({ 'a b': flag('a b') }), ['/flags/a b/key']],
    ['flag key starting with "-"', snapshot({ '-a': flag('-a') }), ['/flags/-a/key']],
    ['empty flag key', snapshot({ '': flag('') }), ['/flags//key']],
    [
      'flag key of 129 characters',
      snapshot({ ['a'.repeat(129)]: flag('a'.repeat(129)) }),
      [`/flags/${'a'.repeat(129)}/key`],
    ],
    ['flag key with "/" (escaped in the pointer)', snapshot({ 'a/b': flag('a/b') }), ['/flags/a~1b/key']],
    ['entry with "~" and "/" (escaped in the pointer)', snapshot({ 'a~b/c': flag('f') }), ['/flags/a~0b~1c/key']],
    ['uppercase cohort key', snapshot({}, { Beta: { key: 'Beta' } }), ['/cohorts/Beta/key']],
    [
      'integer-like variant name',
      snapshot({ f: flag('f', { variants: { on: true, off: false, '1': true } }) }),
      ['/flags/f/variants/1'],
    ],
    [
      'rule id with a space',
      snapshot({ f: flag('f', { rules: [{ id: 'rule one', serve: { variant: 'on' } }] }) }),
      ['/flags/f/rules/0/id'],
    ],
    [
      'prerequisite flag key uppercase',
      snapshot({ f: flag('f', { prerequisites: [{ flag: 'G', variants: ['on'] }] }) }),
      ['/flags/f/prerequisites/0/flag'],
    ],
  ])('%s', (_name, input, pointers) => {
    expectPointers(input, pointers)
  })

  it('accepts a key of 128 characters', () => {
    const key = `a${'-'.repeat(127)}`
    expect(parseSnapshot(snapshot({ [key]: flag(key) })).success).toBe(true)
  })
})

describe('parseSnapshot: every problem at once', () => {
  it('reports problems across flags and cohorts together', () => {
    const input = snapshot(
      {
        a: flag('a', { extra: true }),
        b: flag('b', { offVariant: 'nope', fallthrough: { rollout: { weights: { on: 1, off: 2 } } } }),
        c: flag('c', {
          rules: [
            { id: 'r', serve: { variant: 'on' } },
            { id: 'r', clauses: [{ attribute: 'x', op: 'lt', values: ['1'] }], serve: { variant: 'on' } },
          ],
        }),
        d: flag('d', { prerequisites: [{ flag: 'absent', variants: ['on'] }] }),
        e: flag('e', { rules: [{ id: 'r', cohorts: ['ghost'], serve: { variant: 'on' } }] }),
        wrong: flag('right'),
      },
      {
        x: { key: 'x', extra: 1 },
        y: { key: 'y', clauses: [{ op: 'inCohort', values: ['z'] }] },
        z: { key: 'z', clauses: [{ op: 'inCohort', values: ['y'] }] },
        w: { key: 'w', clauses: [{ op: 'inCohort', values: ['ghost'] }] },
      },
    )
    expectPointers(input, [
      '/flags/a',
      '/flags/b/offVariant',
      '/flags/b/fallthrough/rollout/weights',
      '/flags/c/rules/1/id',
      '/flags/c/rules/1/clauses/0/values/0',
      '/flags/d/prerequisites/0/flag',
      '/flags/e/rules/0/cohorts/0',
      '/flags/wrong/key',
      '/cohorts/x',
      '/cohorts/y/clauses',
      '/cohorts/w/clauses/0/values/0',
    ])
  })

  it('a broken flag does not also fail the references to it', () => {
    const input = snapshot({
      g: flag('g', { enabled: 'yes' }),
      f: flag('f', { prerequisites: [{ flag: 'g', variants: ['on'] }] }),
    })
    expectPointers(input, ['/flags/g/enabled'])
  })

  it('reports shape and reference problems of the same flag together', () => {
    expectPointers(snapshot({ f: flag('f', { description: 5, offVariant: 'nope' }) }), [
      '/flags/f/description',
      '/flags/f/offVariant',
    ])
  })

  it('reports snapshot-level and flag-level problems together', () => {
    expectPointers({ ...snapshot({ f: flag('f', { offVariant: 'nope' }) }), version: -1 }, [
      '/version',
      '/flags/f/offVariant',
    ])
  })
})

/** Uses every feature of the model once. */
const VALID: Snapshot = {
  environment: 'production',
  version: 42,
  flags: {
    'new-checkout': {
      key: 'new-checkout',
      type: 'string',
      variants: { control: 'old', treatment: 'new', off: 'none' },
      version: 9,
      enabled: true,
      killed: false,
      offVariant: 'off',
      prerequisites: [{ flag: 'payments.v2', variants: ['on'] }],
      targets: { treatment: ['user-1', 'user-2'], control: ['user-3'] },
      rules: [
        {
          id: 'internal',
          description: 'staff first',
          cohorts: ['staff'],
          serve: { variant: 'treatment' },
        },
        { id: 'paused', enabled: false, serve: { variant: 'off' } },
        {
          id: 'mobile',
          clauses: [
            { attribute: 'app.version', op: 'semverGte', values: ['v2.3.0-rc.1'] },
            { attribute: 'platform', op: 'in', values: ['ios', 'android'] },
            { attribute: 'email', op: 'matches', values: ['@example\\.com$'], negate: true },
            { attribute: 'age', op: 'gte', values: [18] },
            { attribute: 'signedUp', op: 'before', values: ['2024-01-01T00:00:00Z'] },
            { attribute: 'seen', op: 'after', values: [1_700_000_000_000] },
            { attribute: 'country', op: 'eq', values: ['NL'] },
            { attribute: 'groups', op: 'contains', values: ['beta'] },
            { attribute: 'name', op: 'startsWith', values: ['A', 'B'] },
            { attribute: 'host', op: 'endsWith', values: ['.nl'] },
            { attribute: 'company', op: 'exists', values: [] },
            { op: 'inCohort', values: ['canary'], negate: true },
          ],
          serve: { rollout: { weights: { control: 50_000, treatment: 50_000 }, bucketBy: 'company', salt: 's1' } },
        },
      ],
      fallthrough: { rollout: { weights: { control: 95_000, treatment: 5_000 } } },
      description: 'The new checkout',
      tags: ['checkout', 'web'],
      owner: 'team-payments',
    },
    'payments.v2': {
      key: 'payments.v2',
      type: 'boolean',
      variants: { on: true, off: false },
      version: 0,
      enabled: true,
      offVariant: 'off',
      fallthrough: { variant: 'on' },
    },
    'old-banner': {
      key: 'old-banner',
      type: 'object',
      variants: { a: { title: 'Hi', items: [1, 2, { x: null }] }, b: [] },
      version: 3,
      enabled: false,
      offVariant: 'b',
      fallthrough: { variant: 'a' },
      archived: true,
    },
    limit: {
      key: 'limit',
      type: 'number',
      variants: { low: 10, high: 1e6, neg: -0.5 },
      version: 1,
      enabled: true,
      offVariant: 'low',
      fallthrough: { variant: 'high' },
    },
  },
  cohorts: {
    staff: { key: 'staff', version: 2, description: 'employees', include: ['user-9'], exclude: ['user-10'] },
    canary: { key: 'canary', rollout: { weight: 5_000, bucketBy: 'deviceId', salt: 'canary-1' } },
    'dutch-staff': {
      key: 'dutch-staff',
      clauses: [
        { op: 'inCohort', values: ['staff'] },
        { attribute: 'country', op: 'eq', values: ['NL'] },
      ],
    },
  },
}

describe('parseSnapshot: valid snapshots', () => {
  it('round-trips a snapshot that uses every feature', () => {
    const input = JSON.parse(JSON.stringify(VALID)) as unknown
    const result = parseSnapshot(input)
    expect(result).toEqual({ success: true, data: VALID })
    if (result.success) expect(JSON.parse(JSON.stringify(result.data))).toEqual(VALID)
  })

  it('accepts an empty snapshot', () => {
    expect(parseSnapshot(snapshot({}))).toEqual({ success: true, data: snapshot({}) })
  })

  it('compileSnapshot keeps the snapshot as given', () => {
    expect(compileSnapshot(JSON.parse(JSON.stringify(VALID))).snapshot()).toEqual(VALID)
  })
})

describe('compileSnapshot on an invalid snapshot', () => {
  it('throws INVALID_SNAPSHOT listing every issue', () => {
    const input = snapshot({ f: flag('f', { offVariant: 'nope' }), g: flag('h') })
    const parsed = parseSnapshot(input)
    let thrown: unknown
    try {
      compileSnapshot(input)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SnapshotValidationError)
    const error = thrown as SnapshotValidationError
    expect(error.code).toBe('INVALID_SNAPSHOT')
    expect(error.name).toBe('SnapshotValidationError')
    expect(Array.isArray(error.issues)).toBe(true)
    expect(parsed.success).toBe(false)
    if (!parsed.success) expect(error.issues).toEqual(parsed.issues)
    expect(error.issues.map((i) => i.pointer).sort()).toEqual(['/flags/f/offVariant', '/flags/g/key'])
    expect(error.message).toContain('/flags/f/offVariant')
    expect(error.message).toContain('/flags/g/key')
  })

  it.each([null, undefined, 42, 'snapshot', []])('throws INVALID_SNAPSHOT for %j', (input) => {
    expect(() => compileSnapshot(input)).toThrow(
      expect.objectContaining({ code: 'INVALID_SNAPSHOT', issues: expect.any(Array) }),
    )
  })
})

describe('toPointer', () => {
  it('escapes "~" and "/" as RFC 6901 says', () => {
    expect(toPointer([])).toBe('')
    expect(toPointer(['flags', 'a/b', 'rules', 0, 'x~y'])).toBe('/flags/a~1b/rules/0/x~0y')
    expect(toPointer(['~1'])).toBe('/~01')
  })
})
