import { RE2JS } from 're2js'
import { describe, expect, it } from 'vitest'
import {
  compilePattern,
  estimateInstructions,
  MAX_ENTITY_PATTERN_INSTRUCTIONS,
  MAX_PATTERN_INSTRUCTIONS,
  MAX_PATTERN_LENGTH,
  PATTERN_DFA_BYTES,
  patternCacheBudget,
  patternProblem,
} from './patterns.js'
import { parseSnapshot } from './schema.js'

const CORPUS = [
  '',
  '.',
  '^a',
  'a|b',
  '(a)|b|',
  '^user-\\d+$',
  '(?i)^nl$',
  '\\p{L}+',
  '^\\P{L}*$',
  '[[:alpha:]]+',
  '[]a]',
  '[^]a]+',
  '^\\x{1F44D}$',
  '\\x41\\x{41}',
  '\\Qa.b*c\\E+',
  '\\bpro\\b',
  '(?s).+',
  '\\d{2,}',
  'a{,5}',
  'a{',
  'x{2,5}?',
  'a{3,}',
  '(ab){3,}',
  'a{1000}',
  '\\pL{1000}',
  '[\\pL\\pN]{1,100}',
  '((a{10}){10}){10}',
  '(?:abc){1000}',
  '(a|b|c){0,100}',
  '(?:x{0,100}){0,10}',
  '(?:(?:a|b){5}){10}',
  '(?P<n>a+)(?<m>b*)',
  '(?i:ab|cd)',
  '(?i)(?:foo|bar|baz){2,10}',
  '^[a-z0-9._%+-]+@(example|test)\\.com$',
  '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
  '^(?:[a-z0-9-]{1,63}\\.)+[a-z]{2,63}$',
  '^v?(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)$',
  '(?:\\d{1,3}\\.){3}\\d{1,3}',
  `(?:${'abcdefghij'.repeat(10)}){90}`,
]

describe('estimateInstructions', () => {
  it.each(CORPUS)('is at least the compiled size of %j', (pattern) => {
    expect(estimateInstructions(pattern)).toBeGreaterThanOrEqual(RE2JS.compile(pattern).programSize())
  })

  it('stays close for patterns without repetitions of alternatives', () => {
    for (const pattern of ['^user-\\d+$', 'a{1000}', '(?:abc){1000}', '[\\pL\\pN]{1,100}'])
      expect(estimateInstructions(pattern)).toBeLessThan(RE2JS.compile(pattern).programSize() * 1.1 + 2)
  })
})

describe('patternProblem', () => {
  it('accepts ordinary patterns and a repetition of a thousand', () => {
    for (const pattern of CORPUS) expect(patternProblem(pattern)).toBeUndefined()
  })

  it(`refuses a pattern longer than ${MAX_PATTERN_LENGTH} characters, and says what to use instead`, () => {
    expect(patternProblem('a'.repeat(MAX_PATTERN_LENGTH))).toBeUndefined()
    expect(patternProblem('a'.repeat(MAX_PATTERN_LENGTH + 1))).toMatch(/at most 1024 characters.*"in"/)
    // the 1 MB pattern that once took seconds to compile
    expect(patternProblem('a'.repeat(1 << 20))).toMatch(/at most 1024 characters long, this one 1048576/)
  })

  it('refuses a short pattern that would compile to a million instructions, from its text', () => {
    const pattern = `(?:${'abcdefghij'.repeat(100)}){1000}`
    expect(pattern.length).toBeLessThanOrEqual(MAX_PATTERN_LENGTH)
    expect(estimateInstructions(pattern)).toBeGreaterThan(1_000_000)
    expect(patternProblem(pattern)).toMatch(/pattern too large: about \d+ RE2 instructions, at most 10000/)
    expect(patternProblem('\\pL{1000}'.repeat(11))).toMatch(/pattern too large/)
  })

  it('reports invalid syntax as before', () => {
    expect(patternProblem('(')).toMatch(/^invalid RE2 pattern: /)
    expect(patternProblem('a{1001}')).toMatch(/^invalid RE2 pattern: /)
    expect(patternProblem('(?=a)')).toMatch(/^invalid RE2 pattern: /)
  })

  it('a snapshot with an oversized pattern is refused with the pointer to it', () => {
    const result = parseSnapshot({
      environment: 'production',
      version: 1,
      cohorts: {},
      flags: {
        f: {
          key: 'f',
          type: 'boolean',
          variants: { on: true, off: false },
          version: 1,
          enabled: true,
          offVariant: 'off',
          rules: [
            {
              id: 'r',
              clauses: [{ attribute: 'email', op: 'matches', values: ['@example\\.com$', 'x'.repeat(1 << 20)] }],
              serve: { variant: 'on' },
            },
          ],
          fallthrough: { variant: 'off' },
        },
      },
    })
    expect(result.success).toBe(false)
    if (result.success) return
    expect(result.issues).toEqual([
      expect.objectContaining({
        pointer: '/flags/f/rules/0/clauses/0/values/1',
        message: expect.stringMatching(/at most 1024 characters/),
      }),
    ])
  })
})

describe('the pattern budget of one flag or cohort', () => {
  // about 9,000 instructions each: within the limit of one pattern, six of them past the budget of one flag
  const large = (i: number) => `(?:abcdefghi){1000}${'b'.repeat(i + 1)}`
  const flagWith = (patterns: string[]) => ({
    key: 'f',
    type: 'boolean',
    variants: { on: true, off: false },
    version: 1,
    enabled: true,
    offVariant: 'off',
    rules: [
      {
        id: 'r1',
        clauses: [{ attribute: 'a', op: 'matches', values: patterns.slice(0, 3) }],
        serve: { variant: 'on' },
      },
      { id: 'r2', clauses: [{ attribute: 'a', op: 'matches', values: patterns.slice(3) }], serve: { variant: 'on' } },
    ],
    fallthrough: { variant: 'off' },
  })
  const snapshot = (flag: unknown, cohort?: unknown) => ({
    environment: 'production',
    version: 1,
    flags: { f: flag },
    cohorts: cohort === undefined ? {} : { c: cohort },
  })

  it('refuses a flag whose patterns add up past it, at the pattern that goes over, and accepts one within', () => {
    expect(estimateInstructions(large(0))).toBeLessThanOrEqual(MAX_PATTERN_INSTRUCTIONS)
    expect(parseSnapshot(snapshot(flagWith([0, 1, 2, 3, 4].map(large)))).success).toBe(true)
    const over = parseSnapshot(snapshot(flagWith([0, 1, 2, 3, 4, 5].map(large))))
    expect(over.success).toBe(false)
    if (over.success) return
    expect(over.issues).toEqual([
      expect.objectContaining({
        pointer: '/flags/f/rules/1/clauses/0/values/2',
        message: expect.stringContaining(`add up to at most ${MAX_ENTITY_PATTERN_INSTRUCTIONS} RE2 instructions`),
      }),
    ])
  })

  it('holds a cohort to the same budget, and still compiles every pattern within it', () => {
    const cohort = (values: string[]) => ({ key: 'c', clauses: [{ attribute: 'a', op: 'matches', values }] })
    const over = parseSnapshot(snapshot(flagWith(['a', 'b', 'c', 'd']), cohort([0, 1, 2, 3, 4, 5].map(large))))
    expect(over.success).toBe(false)
    if (!over.success) expect(over.issues.map((i) => i.pointer)).toEqual(['/cohorts/c/clauses/0/values/5'])
    const broken = parseSnapshot(snapshot(flagWith(['ok', '(a', 'c', 'd']), cohort(['(b'])))
    expect(broken.success).toBe(false)
    if (!broken.success)
      expect(broken.issues.map((i) => i.pointer).sort()).toEqual([
        '/cohorts/c/clauses/0/values/0',
        '/flags/f/rules/0/clauses/0/values/1',
      ])
  })
})

describe('compilePattern', () => {
  // every input a new DFA path: a pattern whose automaton has thousands of states
  const pattern = '(?:[abc]*a[abc]{12}c)|(?:[abc]*b[abc]{12}a)'
  const inputs = (count: number) => {
    let x = 12345
    return Array.from({ length: count }, () => {
      let s = ''
      for (let j = 0; j < 60; j++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff
        s += 'abc'[x % 3]
      }
      return s
    })
  }

  it(`holds each pattern's DFA cache to ${PATTERN_DFA_BYTES / 1024} KiB, with the same answers`, () => {
    const bounded = compilePattern(pattern)
    const unbounded = RE2JS.compile(pattern)
    let mostSpent = 0
    for (const input of inputs(3000)) {
      expect(bounded.test(input)).toBe(unbounded.test(input))
      const { left, total } = patternCacheBudget(bounded)
      mostSpent = Math.max(mostSpent, total - left)
    }
    expect(patternCacheBudget(bounded).total).toBe(PATTERN_DFA_BYTES)
    expect(mostSpent).toBeLessThanOrEqual(PATTERN_DFA_BYTES)
    // the budget was in play: re2js's own (8 MiB) let the same inputs spend more
    const own = patternCacheBudget(unbounded)
    expect(own.total - own.left).toBeGreaterThan(PATTERN_DFA_BYTES)
  })

  it('compiles what patternProblem accepts within the instruction limit', () => {
    for (const p of CORPUS) expect(compilePattern(p).programSize()).toBeLessThanOrEqual(MAX_PATTERN_INSTRUCTIONS)
  })
})
