import { RE2JS } from 're2js'
import { attributeReader } from './context.js'
import { parseDate } from './schema.js'
import { compareSemver, parseSemver, parseSemverCached } from './semver.js'
import type { Clause, JsonValue } from './types.js'

/** Decides whether a context is in a cohort; supplied by the evaluator so that cohorts can change independently. */
export type CohortLookup = (cohortKey: string, ctx: Record<string, unknown>, depth: number) => boolean

/** A compiled clause. */
export type Predicate = (ctx: Record<string, unknown>, cohorts: CohortLookup, depth: number) => boolean

/** A test on a present attribute value; `undefined` means "wrong kind": no match, even negated. */
type Test = (value: unknown) => boolean | undefined

function stringTest(strings: string[], test: (value: string, operand: string) => boolean): Test {
  if (strings.length === 1) {
    const only = strings[0]!
    return (v) => (typeof v === 'string' ? test(v, only) : undefined)
  }
  return (v) => {
    if (typeof v !== 'string') return undefined
    for (const s of strings) if (test(v, s)) return true
    return false
  }
}

function numberTest(operand: number, test: (value: number, operand: number) => boolean): Test {
  return (v) => (typeof v === 'number' && !Number.isNaN(v) ? test(v, operand) : undefined)
}

function dateTest(operand: number, test: (value: number, operand: number) => boolean): Test {
  return (v) => {
    const ms = parseDate(v)
    return ms === undefined ? undefined : test(ms, operand)
  }
}

function semverTest(operand: string, test: (order: number) => boolean): Test {
  const version = parseSemver(operand)!
  return (v) => {
    if (typeof v !== 'string') return undefined
    const parsed = parseSemverCached(v)
    return parsed === undefined ? undefined : test(compareSemver(parsed, version))
  }
}

function isScalar(v: unknown): boolean {
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean'
}

function compileTest(op: Clause['op'], values: JsonValue[]): Test {
  const first = values[0]
  switch (op) {
    case 'eq':
      return (v) => (isScalar(v) ? v === first : undefined)
    case 'in': {
      const set = new Set<unknown>(values)
      return (v) => (isScalar(v) ? set.has(v) : undefined)
    }
    case 'contains': {
      const strings = values as string[]
      const inString = stringTest(strings, (v, s) => v.includes(s))
      // on a list attribute (groups, roles), "contains" asks whether the list holds any value
      return (v) => (Array.isArray(v) ? v.some((item) => strings.includes(item)) : inString(v))
    }
    case 'startsWith':
      return stringTest(values as string[], (v, s) => v.startsWith(s))
    case 'endsWith':
      return stringTest(values as string[], (v, s) => v.endsWith(s))
    case 'matches': {
      const patterns = (values as string[]).map((p) => RE2JS.compile(p))
      return (v) => {
        if (typeof v !== 'string') return undefined
        for (const re of patterns) if (re.test(v)) return true
        return false
      }
    }
    case 'lt':
      return numberTest(first as number, (v, x) => v < x)
    case 'lte':
      return numberTest(first as number, (v, x) => v <= x)
    case 'gt':
      return numberTest(first as number, (v, x) => v > x)
    case 'gte':
      return numberTest(first as number, (v, x) => v >= x)
    case 'before':
      return dateTest(parseDate(first)!, (v, x) => v < x)
    case 'after':
      return dateTest(parseDate(first)!, (v, x) => v > x)
    case 'semverEq':
      return semverTest(first as string, (o) => o === 0)
    case 'semverLt':
      return semverTest(first as string, (o) => o < 0)
    case 'semverLte':
      return semverTest(first as string, (o) => o <= 0)
    case 'semverGt':
      return semverTest(first as string, (o) => o > 0)
    case 'semverGte':
      return semverTest(first as string, (o) => o >= 0)
    case 'exists':
    case 'inCohort':
      throw new Error(`operator "${op}" has no value test`)
  }
}

/** Compiles a validated clause into a predicate that never throws on any context value. */
export function compileClause(clause: Clause): Predicate {
  const negate = clause.negate === true
  if (clause.op === 'inCohort') {
    const keys = clause.values as string[]
    return (ctx, cohorts, depth) => {
      let hit = false
      for (const key of keys)
        if (cohorts(key, ctx, depth)) {
          hit = true
          break
        }
      return hit !== negate
    }
  }
  const read = attributeReader(clause.attribute!)
  if (clause.op === 'exists') return (ctx) => (read(ctx) != null) !== negate
  const test = compileTest(clause.op, clause.values)
  return (ctx) => {
    const value = read(ctx)
    if (value == null) return false
    const result = test(value)
    return result === undefined ? false : result !== negate
  }
}
