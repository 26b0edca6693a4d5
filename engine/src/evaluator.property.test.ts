/**
 * Property tests for the evaluator: generated valid snapshots and arbitrary
 * contexts, checked against a deliberately naive reference interpreter that is
 * written straight from docs/evaluation.md and walks the raw snapshot JSON.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileSnapshot, type Evaluator } from './evaluator.js'
import { parseSnapshot } from './schema.js'
import {
  ALL_SHAPES,
  allClauses,
  contextArb,
  defaultValueArb,
  flagKeyToAsk,
  HOSTILE,
  hostileContextArb,
  optional,
  pick,
  saltArb,
  scenarioArb,
  snapshotArb,
} from './testing/arbitraries.js'
import { type Ctx, clone, compact, define, objectOf, project, Reference } from './testing/reference.js'
import { type Cohort, type Flag, type JsonValue, OPERATORS, type Snapshot } from './types.js'

describe('evaluator properties', () => {
  it('compileSnapshot accepts every generated snapshot; evaluate and evaluateAll never throw', () => {
    fc.assert(
      fc.property(
        snapshotArb(ALL_SHAPES).chain((snapshot) =>
          fc.record({
            snapshot: fc.constant(snapshot),
            contexts: fc.array(
              fc.oneof(
                contextArb(snapshot, ALL_SHAPES).map((context) => () => context),
                hostileContextArb,
              ),
              { minLength: 1, maxLength: 6 },
            ),
            keys: fc.array(fc.oneof(flagKeyToAsk(snapshot), fc.string()), { minLength: 1, maxLength: 4 }),
            defaults: fc.array(fc.oneof(defaultValueArb, fc.anything()), { minLength: 1, maxLength: 4 }),
          }),
        ),
        ({ snapshot, contexts, keys, defaults }) => {
          const evaluator = compileSnapshot(snapshot)
          for (const make of contexts) {
            const context = make()
            const all = evaluator.evaluateAll(context)
            expect(Object.keys(all).sort()).toEqual(
              Object.keys(snapshot.flags)
                .filter((k) => snapshot.flags[k]!.archived !== true)
                .sort(),
            )
            for (const key of keys)
              for (const defaultValue of defaults) {
                const r = evaluator.evaluate(key, context, defaultValue as JsonValue)
                expect(['DEFAULT', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'PREREQUISITE_FAILED', 'ERROR']).toContain(
                  r.reason,
                )
                if (r.reason === 'ERROR') expect(r.errorCode).toBeTypeOf('string')
                else {
                  expect(r.variant).toBeTypeOf('string')
                  expect(Object.isFrozen(r)).toBe(true)
                }
              }
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('agrees with the reference interpreter (value, variant, reason, errorCode, ruleId)', () => {
    fc.assert(
      fc.property(scenarioArb(ALL_SHAPES), ({ snapshot, contexts, asks }) => {
        const evaluator = compileSnapshot(snapshot)
        const reference = new Reference(snapshot)
        // the first read of these throws, so the order of reads cannot matter
        const throwing = [HOSTILE[0]!(), HOSTILE[1]!(), HOSTILE[2]!()]
        for (const context of [...contexts, ...throwing]) {
          for (const [key, defaultValue] of asks)
            expect(project(evaluator.evaluate(key, context, defaultValue as JsonValue))).toEqual(
              project(reference.evaluate(key, context, defaultValue)),
            )
          const all = evaluator.evaluateAll(context)
          const expected = reference.evaluateAll(context)
          expect(Object.keys(all).sort()).toEqual(Object.keys(expected).sort())
          for (const key of Object.keys(expected)) expect(project(all[key]!)).toEqual(project(expected[key]!))
        }
      }),
      { numRuns: 300 },
    )
  })

  it('the generated scenarios exercise every outcome and every operator both ways', () => {
    // guards the generators: a reference that never sees a match would agree with anything
    const seen = new Set<string>()
    const clauses = new Set<string>()
    const runs = fc.sample(scenarioArb(ALL_SHAPES), { numRuns: 300, seed: 42 })
    for (const { snapshot, contexts, asks } of runs) {
      const reference = new Reference(snapshot, (event) => clauses.add(event))
      for (const context of contexts) {
        for (const [key, defaultValue] of asks) {
          const r = reference.evaluate(key, context, defaultValue)
          seen.add(r.errorCode ?? (r.ruleId !== undefined ? `${r.reason} (rule)` : r.reason))
        }
        // every clause against every context, not only those the evaluation order reaches
        if (typeof context === 'object' && context !== null && !Array.isArray(context))
          for (const clause of allClauses(snapshot)) reference.holds(clause, context as Ctx)
      }
    }
    expect([...seen].sort()).toEqual(
      [
        'DEFAULT',
        'DISABLED',
        'FLAG_NOT_FOUND',
        'INVALID_CONTEXT',
        'PREREQUISITE_FAILED',
        'SPLIT',
        'SPLIT (rule)',
        'TARGETING_KEY_MISSING',
        'TARGETING_MATCH',
        'TARGETING_MATCH (rule)',
        'TYPE_MISMATCH',
      ].sort(),
    )
    const missing = OPERATORS.flatMap((op) => [`${op}:true`, `${op}:false`]).filter((e) => !clauses.has(e))
    expect(missing).toEqual([])
  })
})

function twoVariantFlag(key: string, order: string[], treatment: number, salt?: string, bucketBy?: string): Snapshot {
  const values: Record<string, boolean> = { control: false, treatment: true }
  return {
    environment: 'test',
    version: 1,
    cohorts: {},
    flags: {
      [key]: {
        key,
        type: 'boolean',
        variants: objectOf(order.map((v) => [v, values[v]])) as Record<string, boolean>,
        version: 1,
        enabled: true,
        offVariant: 'control',
        fallthrough: {
          rollout: compact({ weights: { treatment, control: 100_000 - treatment }, salt, bucketBy }),
        },
      },
    },
  }
}

const bucketingKeyArb = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.integer().map(String),
  pick(['user-1', 'user-2', '', '👍', '\ud800']),
)

describe('rollouts are monotonic', () => {
  it('raising the treatment weight of a 2-variant rollout keeps everyone already in treatment', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        optional(saltArb),
        pick([
          ['control', 'treatment'],
          ['treatment', 'control'],
        ]),
        fc.array(bucketingKeyArb, { minLength: 1, maxLength: 40 }),
        (x, y, salt, order, keys) => {
          const [a, b] = x <= y ? [x, y] : [y, x]
          const before = compileSnapshot(twoVariantFlag('exp', order, a, salt))
          const after = compileSnapshot(twoVariantFlag('exp', order, b, salt))
          for (const targetingKey of keys) {
            const was = before.evaluate('exp', { targetingKey }, false)
            const is = after.evaluate('exp', { targetingKey }, false)
            if (was.variant === 'treatment') expect(is.variant).toBe('treatment')
            if (is.variant === 'control') expect(was.variant).toBe('control')
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('holds for numeric bucketing attributes too', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })), {
          minLength: 1,
          maxLength: 40,
        }),
        (x, y, ids) => {
          const [a, b] = x <= y ? [x, y] : [y, x]
          const before = compileSnapshot(twoVariantFlag('exp', ['control', 'treatment'], a, undefined, 'account.id'))
          const after = compileSnapshot(twoVariantFlag('exp', ['control', 'treatment'], b, undefined, 'account.id'))
          for (const id of ids) {
            const context = { account: { id } }
            if (before.evaluate('exp', context, false).variant === 'treatment')
              expect(after.evaluate('exp', context, false).variant).toBe('treatment')
          }
        },
      ),
      { numRuns: 200 },
    )
  })

  it('growing the last of 3 variants at the expense of the first keeps its members', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 })),
        fc.double({ min: 0, max: 1, noNaN: true }),
        optional(saltArb),
        fc.array(bucketingKeyArb, { minLength: 1, maxLength: 40 }),
        ([c1, c2], share, salt, keys) => {
          const [lo, hi] = c1 <= c2 ? [c1, c2] : [c2, c1]
          const [first, middle, last] = [lo, hi - lo, 100_000 - hi]
          const moved = Math.floor(first * share)
          const snapshot = (weights: Record<string, number>): Snapshot => ({
            environment: 'test',
            version: 1,
            cohorts: {},
            flags: {
              exp: {
                key: 'exp',
                type: 'string',
                variants: { first: 'first', middle: 'middle', last: 'last' },
                version: 1,
                enabled: true,
                offVariant: 'first',
                fallthrough: { rollout: compact({ weights, salt }) },
              },
            },
          })
          const before = compileSnapshot(snapshot({ last, first, middle }))
          const after = compileSnapshot(snapshot({ first: first - moved, middle, last: last + moved }))
          for (const targetingKey of keys) {
            const was = before.evaluate('exp', { targetingKey }, 'x').variant
            const is = after.evaluate('exp', { targetingKey }, 'x').variant
            if (was === 'last') expect(is).toBe('last')
            if (is === 'first') expect(was).toBe('first')
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('raising a cohort rollout weight keeps its members', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        optional(saltArb),
        fc.array(bucketingKeyArb, { minLength: 1, maxLength: 40 }),
        (x, y, salt, keys) => {
          const [a, b] = x <= y ? [x, y] : [y, x]
          const snapshot = (weight: number): Snapshot => ({
            environment: 'test',
            version: 1,
            cohorts: { canary: { key: 'canary', rollout: compact({ weight, salt }) } },
            flags: {
              gate: {
                key: 'gate',
                type: 'boolean',
                variants: { off: false, on: true },
                version: 1,
                enabled: true,
                offVariant: 'off',
                rules: [{ id: 'canary', clauses: [{ op: 'inCohort', values: ['canary'] }], serve: { variant: 'on' } }],
                fallthrough: { variant: 'off' },
              },
            },
          })
          const before = compileSnapshot(snapshot(a))
          const after = compileSnapshot(snapshot(b))
          for (const targetingKey of keys)
            if (before.evaluate('gate', { targetingKey }, false).variant === 'on')
              expect(after.evaluate('gate', { targetingKey }, false).variant).toBe('on')
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe('evaluation is deterministic', () => {
  const UNRELATED_FLAG: Flag = {
    key: 'zz.unrelated-flag',
    type: 'boolean',
    variants: { on: true, off: false },
    version: 7,
    enabled: true,
    offVariant: 'off',
    fallthrough: { rollout: { weights: { on: 50_000, off: 50_000 } } },
  }
  const UNRELATED_COHORT: Cohort = { key: 'zz.unrelated-cohort', rollout: { weight: 50_000 } }

  it('same context, same result: repeated, after a fresh compile of an equal snapshot, after an unrelated apply', () => {
    fc.assert(
      fc.property(scenarioArb(ALL_SHAPES), ({ snapshot, contexts, asks }) => {
        const evaluator = compileSnapshot(snapshot)
        const others: [string, Evaluator][] = [
          ['fresh compile', compileSnapshot(clone(snapshot))],
          [
            'put unrelated flag',
            evaluator.apply({ op: 'put', kind: 'flag', key: UNRELATED_FLAG.key, value: UNRELATED_FLAG }),
          ],
          [
            'put unrelated cohort',
            evaluator.apply({
              op: 'put',
              kind: 'cohort',
              key: UNRELATED_COHORT.key,
              value: UNRELATED_COHORT,
              version: 99,
            }),
          ],
          ['delete absent flag', evaluator.apply({ op: 'delete', kind: 'flag', key: 'zz.absent' })],
        ]
        for (const context of contexts) {
          const all = evaluator.evaluateAll(context)
          for (const [key, defaultValue] of asks) {
            const first = evaluator.evaluate(key, context, defaultValue as JsonValue)
            const again = evaluator.evaluate(key, context, defaultValue as JsonValue)
            expect(again).toEqual(first)
            if (first.reason !== 'ERROR') {
              expect(again).toBe(first) // successful results are shared
              expect(all[key]).toBe(first)
            }
            for (const [what, other] of others)
              expect(other.evaluate(key, context, defaultValue as JsonValue), what).toEqual(first)
          }
          for (const [what, other] of others) {
            const otherAll = other.evaluateAll(context)
            for (const key of Object.keys(all)) expect(otherAll[key], `${what}: ${key}`).toEqual(all[key])
          }
        }
      }),
      { numRuns: 200 },
    )
  })
})

describe('apply checks only what a change touches', () => {
  type Step =
    | { op: 'delete'; kind: 'flag' | 'cohort'; key: string }
    | { op: 'put'; kind: 'flag'; value: Flag }
    | { op: 'put'; kind: 'cohort'; value: Cohort }

  /** Changes to a snapshot, many of them invalid: deletes of referenced entries, foreign entries, new prerequisites. */
  const stepsArb = (snapshot: Snapshot, other: Snapshot): fc.Arbitrary<Step[]> => {
    const flagKeys = [...Object.keys(snapshot.flags), ...Object.keys(other.flags)]
    const cohortKeys = [...Object.keys(snapshot.cohorts), ...Object.keys(other.cohorts)]
    const all = { ...other.flags, ...snapshot.flags }
    const steps: fc.Arbitrary<Step>[] = [
      pick(flagKeys).map((key) => ({ op: 'delete', kind: 'flag', key }) as Step),
      ...(cohortKeys.length > 0
        ? [pick(cohortKeys).map((key) => ({ op: 'delete', kind: 'cohort', key }) as Step)]
        : []),
      pick(Object.values(other.flags)).map((value) => ({ op: 'put', kind: 'flag', value }) as Step),
      ...(Object.keys(other.cohorts).length > 0
        ? [pick(Object.values(other.cohorts)).map((value) => ({ op: 'put', kind: 'cohort', value }) as Step)]
        : []),
      // a prerequisite on another flag: may close a cycle, or ask for a variant that later goes away
      fc.tuple(pick(flagKeys), pick(flagKeys)).map(([from, to]) => {
        const flag = all[from]!
        const target = all[to]!
        const prerequisite = { flag: to, variants: [Object.keys(target.variants)[0]!] }
        return { op: 'put', kind: 'flag', value: { ...flag, prerequisites: [prerequisite] } } as Step
      }),
    ]
    return fc.array(fc.oneof(...steps), { minLength: 1, maxLength: 6 })
  }

  it('accepts exactly the changes after which the whole snapshot is still valid, and ends where a recompile would', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(snapshotArb(ALL_SHAPES), snapshotArb(ALL_SHAPES))
          .chain(([snapshot, other]) => fc.tuple(fc.constant(snapshot), stepsArb(snapshot, other))),
        ([snapshot, steps]) => {
          let evaluator = compileSnapshot(snapshot)
          let current: Snapshot = clone(snapshot)
          for (const step of steps) {
            const next: Snapshot = clone(current)
            const table = (step.kind === 'flag' ? next.flags : next.cohorts) as Record<string, unknown>
            if (step.op === 'delete') delete table[step.key]
            else define(table, step.value.key, clone(step.value))
            const whole = parseSnapshot(next)
            const patch =
              step.op === 'delete'
                ? step
                : ({ op: 'put', kind: step.kind, key: step.value.key, value: clone(step.value) } as const)
            let applied: Evaluator | undefined
            try {
              applied = evaluator.apply(patch as never)
            } catch (error) {
              expect((error as Error).name, JSON.stringify(patch)).toBe('SnapshotValidationError')
            }
            expect(
              applied !== undefined,
              `${JSON.stringify(patch)}: ${JSON.stringify(whole.success ? [] : whole.issues)}`,
            ).toBe(whole.success)
            if (applied !== undefined) {
              evaluator = applied
              current = next
              expect(evaluator.snapshot().flags).toEqual(current.flags)
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

// ---------------------------------------------------------------------------
// Disagreements the properties above found, each as its smallest counterexample.
// ---------------------------------------------------------------------------

function oneFlag(flag: Partial<Flag> & { variants: Flag['variants'] }, cohorts: Snapshot['cohorts'] = {}): Snapshot {
  const names = Object.keys(flag.variants)
  return {
    environment: 'test',
    version: 1,
    cohorts,
    flags: {
      f: {
        key: 'f',
        type: 'boolean',
        version: 1,
        enabled: true,
        offVariant: names[0]!,
        fallthrough: { variant: names[0]! },
        ...flag,
      },
    },
  }
}

describe('found by the properties: engine vs docs/evaluation.md', () => {
  it('a rollout that gives 100000 to one variant still needs its bucketing attribute', () => {
    // "A rollout whose bucketing attribute is missing … cannot decide: … TARGETING_KEY_MISSING"
    const evaluator = compileSnapshot(
      oneFlag({ variants: { off: false, on: true }, fallthrough: { rollout: { weights: { on: 100_000 } } } }),
    )
    expect(evaluator.evaluate('f', {}, false)).toMatchObject({
      value: false,
      reason: 'ERROR',
      errorCode: 'TARGETING_KEY_MISSING',
    })
    expect(evaluator.evaluate('f', { targetingKey: 'u' }, false)).toMatchObject({ variant: 'on', reason: 'SPLIT' })
  })

  it('an archived prerequisite counts as missing', () => {
    // "an archived flag evaluates as not found"; a missing prerequisite fails
    const snapshot = oneFlag({ variants: { off: false, on: true }, prerequisites: [{ flag: 'g', variants: ['on'] }] })
    snapshot.flags.g = { ...oneFlag({ variants: { on: true } }).flags.f!, key: 'g', archived: true }
    expect(compileSnapshot(snapshot).evaluate('f', {}, false)).toMatchObject({
      variant: 'off',
      reason: 'PREREQUISITE_FAILED',
    })
  })

  it('targetingKey is read from own properties only, like every attribute', () => {
    // "Only own properties are read, never prototypes."
    const evaluator = compileSnapshot(oneFlag({ variants: { off: false, on: true }, targets: { on: ['alice'] } }))
    expect(evaluator.evaluate('f', Object.create({ targetingKey: 'alice' }), false)).toMatchObject({
      variant: 'off',
      reason: 'DEFAULT',
    })
    expect(evaluator.evaluate('f', Object.create({ targetingKey: 5 }), false)).toMatchObject({ reason: 'DEFAULT' })
  })

  it('before/after read ISO 8601 dates only: impossible calendar dates do not match, negated or not', () => {
    for (const createdAt of ['2020-02-30', '2021-02-29', '2020-04-31', '2020-01-01Z', '2020-01-01, 10:00'])
      for (const negate of [false, true]) {
        const evaluator = compileSnapshot(
          oneFlag({
            variants: { off: false, on: true },
            rules: [
              {
                id: 'r',
                clauses: [{ attribute: 'createdAt', op: 'before', values: ['2030-01-01'], negate }],
                serve: { variant: 'on' },
              },
            ],
          }),
        )
        expect(evaluator.evaluate('f', { createdAt }, false).variant, `${createdAt}, negate ${negate}`).toBe('off')
      }
  })

  it('variant names that Object.prototype also has are ordinary names', () => {
    // valid names (^[A-Za-z_][A-Za-z0-9._-]{0,63}$); an inherited member must never act as a weight or a variant
    const evaluator = compileSnapshot(
      oneFlag({ variants: { on: true, valueOf: false }, fallthrough: { rollout: { weights: { on: 100_000 } } } }),
    )
    for (const targetingKey of ['a', 'b', 'c', 'd'])
      expect(evaluator.evaluate('f', { targetingKey }, false).variant).toBe('on')
    // and references to them must name a real variant
    const invalid: Snapshot[] = [
      oneFlag({ variants: { on: true }, offVariant: 'constructor' }),
      oneFlag({ variants: { on: true }, fallthrough: { variant: 'toString' } }),
      oneFlag({ variants: { on: true }, targets: { valueOf: ['a'] } }),
      {
        ...oneFlag({ variants: { on: true }, prerequisites: [{ flag: 'g', variants: ['hasOwnProperty'] }] }),
        flags: {
          ...oneFlag({ variants: { on: true }, prerequisites: [{ flag: 'g', variants: ['hasOwnProperty'] }] }).flags,
          g: { ...oneFlag({ variants: { on: true } }).flags.f!, key: 'g' },
        },
      },
    ]
    for (const snapshot of invalid) expect(() => compileSnapshot(snapshot), JSON.stringify(snapshot.flags.f)).toThrow()
  })

  it('rejects "__proto__" keys in object variant values instead of dropping them', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"a":2}') as JsonValue
    const snapshot = oneFlag({
      type: 'object',
      variants: { v: value },
      fallthrough: { variant: 'v' },
    } as Partial<Flag> & {
      variants: Flag['variants']
    })
    const result = parseSnapshot(snapshot)
    expect(result.success).toBe(false)
    if (!result.success) expect(result.issues.map((i) => i.pointer)).toContain('/flags/f/variants/v/__proto__')
  })

  // if a "__proto__" variant were accepted but read through the prototype, compiling
  // it would freeze Object.prototype for the rest of this worker
  it('rejects "__proto__" as a variant name, and leaves Object.prototype alone', () => {
    const snapshot = JSON.parse(
      '{"environment":"test","version":1,"cohorts":{},"flags":{"f":{"key":"f","type":"boolean","version":1,"enabled":true,' +
        '"variants":{"__proto__":true,"off":false},"offVariant":"off",' +
        '"fallthrough":{"rollout":{"weights":{"__proto__":50000,"off":50000}}}}}}',
    ) as Snapshot
    expect(() => compileSnapshot(snapshot)).toThrow(/__proto__/)
    expect(Object.isFrozen(Object.prototype)).toBe(false)
  })
})
