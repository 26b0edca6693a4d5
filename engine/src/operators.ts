import type { RE2JS } from 're2js'
import { parseDate } from './dates.js'
import { compilePattern } from './patterns.js'
import { compareSemver, parseSemver, parseSemverCached, type SemVer } from './semver.js'
import type { Clause } from './types.js'

type Ctx = Record<string, unknown>

/** Decides whether a context is in a cohort; supplied by the evaluator so that cohorts can change independently. */
export type CohortLookup = (cohortKey: string, ctx: Ctx, depth: number) => boolean

/** A compiled clause. */
export type Predicate = (ctx: Ctx, cohorts: CohortLookup, depth: number) => boolean

// Operator families. Comparisons share one family each and keep, as a mask, which
// orders (less 1, equal 2, greater 4) satisfy the operator.
const EQ = 0
const IN = 1
const CONTAINS = 2
const STARTS_WITH = 3
const ENDS_WITH = 4
const MATCHES = 5
const NUMBER = 6
const DATE = 7
const SEMVER = 8
const EXISTS = 9
const IN_COHORT = 10

const LESS = 1
const EQUAL = 2
const GREATER = 4

/**
 * A clause compiled to plain data. Every condition has the same shape, so the
 * one function that tests them ({@link testCondition}) stays monomorphic: a
 * rule loop costs a switch per clause, not a chain of closure calls.
 */
export class Condition {
  constructor(
    readonly op: number,
    /** Attribute read from the context (an own key first, then the dot path); unused by `inCohort`. */
    readonly attribute: string,
    /** Segments of a dotted attribute; undefined when it has no dot. */
    readonly path: readonly string[] | undefined,
    readonly negate: boolean,
    /** The one operand: `eq`'s value, a single string, a number, epoch ms, a parsed semver. */
    readonly operand: unknown,
    /** Several string operands, RE2 programs, or cohort keys. */
    readonly operands: readonly unknown[] | undefined,
    /** `in`'s values. */
    readonly set: ReadonlySet<unknown> | undefined,
    /** Orders (LESS | EQUAL | GREATER) that satisfy a comparison. */
    readonly orders: number,
  ) {}
}

const hasOwn = Object.hasOwn

/** A context attribute: an own key wins; otherwise a dot path walks nested objects, never arrays or prototypes. */
export function readAttribute(ctx: Ctx, name: string, path: readonly string[] | undefined): unknown {
  // kept small, so that it inlines into the condition test
  if (hasOwn(ctx, name)) return ctx[name]
  return path === undefined ? undefined : walk(ctx, path)
}

function walk(ctx: Ctx, path: readonly string[]): unknown {
  let current: unknown = ctx
  for (let i = 0; i < path.length; i++) {
    const part = path[i]!
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !hasOwn(current, part))
      return undefined
    current = (current as Ctx)[part]
  }
  return current
}

/** Splits an attribute name into the path `readAttribute` walks when it is not an own key. */
export function attributePath(name: string): readonly string[] | undefined {
  return name.includes('.') ? Object.freeze(name.split('.')) : undefined
}

const ORDERS: Partial<Record<Clause['op'], number>> = {
  lt: LESS,
  lte: LESS | EQUAL,
  gt: GREATER,
  gte: GREATER | EQUAL,
  before: LESS,
  after: GREATER,
  semverEq: EQUAL,
  semverLt: LESS,
  semverLte: LESS | EQUAL,
  semverGt: GREATER,
  semverGte: GREATER | EQUAL,
}

/** Compiles a validated clause. */
export function compileCondition(clause: Clause): Condition {
  const negate = clause.negate === true
  const values = clause.values
  const attribute = clause.attribute ?? ''
  const path = attributePath(attribute)
  const orders = ORDERS[clause.op] ?? 0
  const make = (op: number, operand?: unknown, operands?: readonly unknown[], set?: ReadonlySet<unknown>) =>
    new Condition(op, attribute, path, negate, operand, operands, set, orders)
  // string operators keep a lone operand apart from the list, which most clauses have
  const strings = (op: number) =>
    values.length === 1 ? make(op, values[0]) : make(op, undefined, Object.freeze([...values]))
  switch (clause.op) {
    case 'eq':
      return make(EQ, values[0])
    case 'in':
      return make(IN, undefined, undefined, new Set(values))
    case 'contains':
      // the list serves `contains` on a list attribute (groups, roles) whatever the count
      return make(CONTAINS, values.length === 1 ? values[0] : undefined, Object.freeze([...values]))
    case 'startsWith':
      return strings(STARTS_WITH)
    case 'endsWith':
      return strings(ENDS_WITH)
    case 'matches':
      return make(MATCHES, undefined, Object.freeze(values.map((p) => compilePattern(p as string))))
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      return make(NUMBER, values[0])
    case 'before':
    case 'after':
      return make(DATE, parseDate(values[0]))
    case 'semverEq':
    case 'semverLt':
    case 'semverLte':
    case 'semverGt':
    case 'semverGte':
      return make(SEMVER, parseSemver(values[0] as string))
    case 'exists':
      return make(EXISTS)
    case 'inCohort':
      return make(IN_COHORT, undefined, Object.freeze([...values]))
  }
}

/** Compiles a validated clause into a predicate that never throws on any context value. */
export function compileClause(clause: Clause): Predicate {
  const condition = compileCondition(clause)
  return (ctx, cohorts, depth) => testCondition(condition, ctx, cohorts, depth)
}

function isScalar(v: unknown): boolean {
  const t = typeof v
  return t === 'string' || t === 'number' || t === 'boolean'
}

function order(value: number, operand: number): number {
  return value < operand ? LESS : value === operand ? EQUAL : GREATER
}

/**
 * Whether a context satisfies a condition. A missing attribute, or one of the
 * wrong kind for the operator, never matches, negated or not; only `exists`
 * looks at absence.
 */
export function testCondition(c: Condition, ctx: Ctx, cohorts: CohortLookup, depth: number): boolean {
  const op = c.op
  if (op === IN_COHORT) {
    const keys = c.operands as readonly string[]
    let hit = false
    for (let i = 0; i < keys.length; i++)
      if (cohorts(keys[i]!, ctx, depth)) {
        hit = true
        break
      }
    return hit !== c.negate
  }
  const v = readAttribute(ctx, c.attribute, c.path)
  if (op === EXISTS) return (v != null) !== c.negate
  if (v == null) return false
  let hit: boolean
  switch (op) {
    case EQ:
      if (!isScalar(v)) return false
      hit = v === c.operand
      break
    case IN:
      if (!isScalar(v)) return false
      hit = c.set!.has(v)
      break
    case CONTAINS:
      if (Array.isArray(v)) hit = v.some((item) => c.operands!.includes(item))
      else if (typeof v === 'string') hit = anyString(v, c, CONTAINS)
      else return false
      break
    case STARTS_WITH:
      if (typeof v !== 'string') return false
      hit = c.operand !== undefined ? v.startsWith(c.operand as string) : anyString(v, c, op)
      break
    case ENDS_WITH:
      if (typeof v !== 'string') return false
      hit = c.operand !== undefined ? v.endsWith(c.operand as string) : anyString(v, c, op)
      break
    case MATCHES: {
      if (typeof v !== 'string') return false
      const patterns = c.operands as readonly RE2JS[]
      hit = false
      for (let i = 0; i < patterns.length && !hit; i++) hit = patterns[i]!.test(v)
      break
    }
    case NUMBER:
      if (typeof v !== 'number' || Number.isNaN(v)) return false
      hit = (order(v, c.operand as number) & c.orders) !== 0
      break
    case DATE: {
      const ms = parseDate(v)
      if (ms === undefined) return false
      hit = (order(ms, c.operand as number) & c.orders) !== 0
      break
    }
    case SEMVER: {
      if (typeof v !== 'string') return false
      const o = semverOrder(v, c.operand as SemVer)
      if (o === 0) return false
      hit = (o & c.orders) !== 0
      break
    }
    default:
      return false
  }
  return hit !== c.negate
}

function stringTest(value: string, operand: string, op: number): boolean {
  return op === ENDS_WITH
    ? value.endsWith(operand)
    : op === STARTS_WITH
      ? value.startsWith(operand)
      : value.includes(operand)
}

function anyString(value: string, c: Condition, op: number): boolean {
  if (c.operand !== undefined) return stringTest(value, c.operand as string, op)
  const operands = c.operands as readonly unknown[]
  for (let i = 0; i < operands.length; i++) if (stringTest(value, operands[i] as string, op)) return true
  return false
}

/**
 * How `input` orders against `version` (LESS, EQUAL or GREATER), or 0 when
 * `input` is no semver. Plain `MAJOR.MINOR.PATCH` inputs — nearly all app and
 * OS versions — are read in place without allocating; the rest are parsed.
 */
function semverOrder(input: string, version: SemVer): number {
  const n = input.length
  let i = input.charCodeAt(0) === 118 /* v */ ? 1 : 0
  let major = -1
  let minor = -1
  let patch = -1
  for (let part = 0; part < 3; part++) {
    const start = i
    let value = 0
    while (i < n) {
      const c = input.charCodeAt(i)
      if (c < 48 || c > 57) break
      value = value * 10 + (c - 48)
      i++
    }
    const digits = i - start
    // leading zeros and numbers beyond 2^53 are the parser's to reject
    if (digits === 0 || digits > 15 || (digits > 1 && input.charCodeAt(start) === 48))
      return parsedOrder(input, version)
    if (part === 0) major = value
    else if (part === 1) minor = value
    else patch = value
    if (part < 2) {
      if (input.charCodeAt(i) !== 46 /* . */) return parsedOrder(input, version)
      i++
    }
  }
  if (i !== n) return parsedOrder(input, version) // a prerelease or build suffix
  const d =
    major !== version.major
      ? major - version.major
      : minor !== version.minor
        ? minor - version.minor
        : patch - version.patch
  if (d !== 0) return d < 0 ? LESS : GREATER
  // a version without prerelease ranks above the same version with one
  return version.prerelease.length === 0 ? EQUAL : GREATER
}

function parsedOrder(input: string, version: SemVer): number {
  const parsed = parseSemverCached(input)
  if (parsed === undefined) return 0
  const d = compareSemver(parsed, version)
  return d < 0 ? LESS : d === 0 ? EQUAL : GREATER
}
