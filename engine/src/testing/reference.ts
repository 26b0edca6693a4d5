/**
 * A deliberately naive reference interpreter for the evaluator's property tests:
 * written straight from docs/evaluation.md, it walks the raw snapshot JSON with
 * plain recursion and no precompiling. Test support only: no entry point imports it.
 */
import { RE2JS } from 're2js'
import { bucketOf } from '../murmur3.js'
import { compareSemver, parseSemver } from '../semver.js'
import type { Clause, EvaluationResult, Flag, FlagType, JsonValue, Operator, Rule, Serve, Snapshot } from '../types.js'

const hasOwn = Object.hasOwn
export type Ctx = Record<string, unknown>

/** Defines an own enumerable data property, even one named "__proto__". */
export function define<T extends object>(target: T, key: string, value: unknown): T {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  return target
}

export function objectOf(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of entries) define(out, k, v)
  return out
}

/** Drops keys whose value is undefined (the model has optional fields, never undefined ones). */
export function compact<T>(value: Record<string, unknown>): T {
  return objectOf(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

/** A deep copy that keeps own "__proto__" keys and -0, unlike a JSON round trip. */
export function clone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T
  if (typeof value === 'object' && value !== null)
    return objectOf(Object.entries(value).map(([k, v]) => [k, clone(v)])) as T
  return value
}

// ---------------------------------------------------------------------------
// Reference interpreter: plain recursion over the raw snapshot, no precompiling.
// ---------------------------------------------------------------------------

const MISSING = Symbol('bucketing attribute missing')

interface RefResult {
  value: unknown
  variant?: string
  reason: string
  errorCode?: string
  ruleId?: string
  flagVersion?: number
  killed?: boolean
}

/**
 * "A name that is itself a key of the context wins; otherwise dots walk nested
 * objects. Only own properties." Arrays are not objects here (the docs tell
 * "objects and arrays" apart), so `groups.0` and `groups.length` read nothing.
 */
function lookup(ctx: Ctx, name: string): unknown {
  if (hasOwn(ctx, name)) return ctx[name]
  if (!name.includes('.')) return undefined
  let current: unknown = ctx
  for (const part of name.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || !hasOwn(current, part))
      return undefined
    current = (current as Ctx)[part]
  }
  return current
}

/** "a string, or a finite number in its JavaScript decimal form" */
function bucketingValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return `${value}`
  return undefined
}

function fitsType(type: FlagType, value: unknown): boolean {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean'
    case 'string':
      return typeof value === 'string'
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
    case 'object':
      return typeof value === 'object' && value !== null
  }
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|([+-])(\d{2}):(\d{2}))?)?$/

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return [4, 6, 9, 11].includes(month) ? 30 : 31
}

/**
 * Epoch ms of an ISO 8601 (extended calendar format, as ECMAScript and RFC 3339
 * profile it) date or date-time, or of epoch milliseconds; undefined otherwise.
 * A date alone is UTC midnight.
 */
export function refDate(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value !== 'string') return undefined
  const m = ISO_8601.exec(value)
  if (m === null) return undefined
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined
  const at = (h = 0, min = 0, s = 0, ms = 0) => {
    const d = new Date(0)
    d.setUTCFullYear(year, month - 1, day)
    d.setUTCHours(h, min, s, ms)
    return d.getTime()
  }
  if (m[4] === undefined) return at()
  const [h, min, s] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)]
  if (h > 23 || min > 59 || s > 59) return undefined
  const ms = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0').slice(0, 3))
  // The docs do not say how to read a date-time without an offset; ISO 8601 calls it
  // local time, which would make buckets differ between machines. Like the engine, read it as UTC.
  if (m[8] === undefined || m[8] === 'Z') return at(h, min, s, ms)
  const [oh, om] = [Number(m[10]), Number(m[11])]
  if (oh > 23 || om > 59) return undefined
  return at(h, min, s, ms) - (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000
}

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v)

/** true/false for a real comparison; undefined when the attribute is of the wrong kind for `op`. */
function compare(op: Operator, operands: JsonValue[], v: unknown): boolean | undefined {
  const strings = operands as string[]
  const one = operands[0]
  switch (op) {
    case 'eq':
      return isScalar(v) ? v === one : undefined
    case 'in':
      return isScalar(v) ? operands.some((x) => x === v) : undefined
    case 'contains':
      if (typeof v === 'string') return strings.some((s) => v.indexOf(s) !== -1)
      if (Array.isArray(v)) return strings.some((s) => v.some((item) => item === s))
      return undefined
    case 'startsWith':
      return typeof v === 'string' ? strings.some((s) => v.slice(0, s.length) === s) : undefined
    case 'endsWith':
      return typeof v === 'string'
        ? strings.some((s) => s.length <= v.length && v.slice(v.length - s.length) === s)
        : undefined
    case 'matches':
      return typeof v === 'string' ? strings.some((p) => RE2JS.compile(p).matcher(v).find()) : undefined
    case 'lt':
      return isNumber(v) ? v < (one as number) : undefined
    case 'lte':
      return isNumber(v) ? v <= (one as number) : undefined
    case 'gt':
      return isNumber(v) ? v > (one as number) : undefined
    case 'gte':
      return isNumber(v) ? v >= (one as number) : undefined
    case 'before':
    case 'after': {
      const at = refDate(v)
      const operand = refDate(one)!
      if (at === undefined) return undefined
      return op === 'before' ? at < operand : at > operand
    }
    case 'semverEq':
    case 'semverLt':
    case 'semverLte':
    case 'semverGt':
    case 'semverGte': {
      const version = typeof v === 'string' ? parseSemver(v) : undefined
      if (version === undefined) return undefined
      const order = Math.sign(compareSemver(version, parseSemver(one as string)!))
      return { semverEq: [0], semverLt: [-1], semverLte: [-1, 0], semverGt: [1], semverGte: [0, 1] }[op].includes(order)
    }
    case 'exists':
    case 'inCohort':
      throw new Error(`${op} is not a comparison`)
  }
}

export class Reference {
  /** `observe` hears every clause outcome (`op:true|false|undefined`), for coverage checks. */
  constructor(
    private readonly snapshot: Snapshot,
    private readonly observe: (event: string) => void = () => {},
  ) {}

  /** An archived flag evaluates as not found. */
  private flag(key: string): Flag | undefined {
    const flag = hasOwn(this.snapshot.flags, key) ? this.snapshot.flags[key] : undefined
    return flag === undefined || flag.archived === true ? undefined : flag
  }

  evaluate(flagKey: string, context: unknown, defaultValue?: unknown): RefResult {
    const flag = this.flag(flagKey)
    if (flag === undefined) return { value: defaultValue, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND' }
    const fail = (errorCode: string): RefResult => ({
      value: defaultValue,
      reason: 'ERROR',
      errorCode,
      flagVersion: flag.version,
    })
    if (defaultValue !== undefined && !fitsType(flag.type, defaultValue)) return fail('TYPE_MISMATCH')
    try {
      if (context !== null && context !== undefined && (typeof context !== 'object' || Array.isArray(context)))
        return fail('INVALID_CONTEXT')
      const ctx = (context ?? {}) as Ctx
      const key = lookup(ctx, 'targetingKey')
      if (key !== undefined && typeof key !== 'string') return fail('INVALID_CONTEXT')
      const out = this.decide(flag, ctx)
      return out === MISSING ? fail('TARGETING_KEY_MISSING') : out
    } catch {
      return fail('INVALID_CONTEXT')
    }
  }

  evaluateAll(context: unknown): Record<string, RefResult> {
    const out: Record<string, RefResult> = {}
    for (const key of Object.keys(this.snapshot.flags))
      if (this.flag(key) !== undefined) define(out, key, this.evaluate(key, context))
    return out
  }

  private served(flag: Flag, variant: string, reason: string, extra: { ruleId?: string; killed?: boolean } = {}) {
    const r: RefResult = { value: flag.variants[variant], variant, reason, flagVersion: flag.version }
    if (extra.ruleId !== undefined) r.ruleId = extra.ruleId
    if (extra.killed === true) r.killed = true
    return r
  }

  private decide(flag: Flag, ctx: Ctx): RefResult | typeof MISSING {
    if (flag.killed === true) return this.served(flag, flag.offVariant, 'DISABLED', { killed: true })
    if (!flag.enabled) return this.served(flag, flag.offVariant, 'DISABLED')
    for (const p of flag.prerequisites ?? []) {
      const dependency = this.flag(p.flag)
      const outcome = dependency === undefined ? MISSING : this.decide(dependency, ctx)
      if (outcome === MISSING || outcome.variant === undefined || !p.variants.includes(outcome.variant))
        return this.served(flag, flag.offVariant, 'PREREQUISITE_FAILED')
    }
    const key = lookup(ctx, 'targetingKey')
    if (typeof key === 'string')
      for (const [variant, keys] of Object.entries(flag.targets ?? {}))
        if (keys.includes(key)) return this.served(flag, variant, 'TARGETING_MATCH')
    for (const rule of flag.rules ?? []) {
      if (rule.enabled === false) continue
      if (this.ruleMatches(rule, ctx)) return this.serve(flag, rule.serve, ctx, rule.id)
    }
    return this.serve(flag, flag.fallthrough, ctx, undefined)
  }

  private serve(flag: Flag, serve: Serve, ctx: Ctx, ruleId: string | undefined): RefResult | typeof MISSING {
    const extra = ruleId === undefined ? {} : { ruleId }
    if ('variant' in serve)
      return this.served(flag, serve.variant, ruleId === undefined ? 'DEFAULT' : 'TARGETING_MATCH', extra)
    const { weights, bucketBy, salt } = serve.rollout
    const by = bucketingValue(lookup(ctx, bucketBy ?? 'targetingKey'))
    if (by === undefined) return MISSING
    const bucket = bucketOf(salt ?? flag.key, by)
    let upper = 0
    for (const variant of Object.keys(flag.variants)) {
      upper += hasOwn(weights, variant) ? weights[variant]! : 0
      if (bucket < upper) return this.served(flag, variant, 'SPLIT', extra)
    }
    throw new Error('weights do not sum to 100000')
  }

  private ruleMatches(rule: Rule, ctx: Ctx): boolean {
    return (
      (rule.cohorts ?? []).every((c) => this.inCohort(c, ctx)) &&
      (rule.clauses ?? []).every((clause) => this.holds(clause, ctx))
    )
  }

  private inCohort(key: string, ctx: Ctx): boolean {
    const cohort = this.snapshot.cohorts[key]!
    const targetingKey = lookup(ctx, 'targetingKey')
    if (typeof targetingKey === 'string') {
      if ((cohort.exclude ?? []).includes(targetingKey)) return false
      if ((cohort.include ?? []).includes(targetingKey)) return true
    }
    const clauses = cohort.clauses ?? []
    if (clauses.length === 0 && cohort.rollout === undefined) return false
    if (!clauses.every((clause) => this.holds(clause, ctx))) return false
    if (cohort.rollout === undefined) return true
    const by = bucketingValue(lookup(ctx, cohort.rollout.bucketBy ?? 'targetingKey'))
    return by !== undefined && bucketOf(cohort.rollout.salt ?? cohort.key, by) < cohort.rollout.weight
  }

  holds(clause: Clause, ctx: Ctx): boolean {
    const negate = clause.negate === true
    if (clause.op === 'inCohort') {
      const hit = clause.values.some((c) => this.inCohort(c as string, ctx))
      this.observe(`inCohort:${hit}`)
      return hit !== negate
    }
    const value = lookup(ctx, clause.attribute!)
    const present = value !== undefined && value !== null
    if (clause.op === 'exists') {
      this.observe(`exists:${present}`)
      return present !== negate
    }
    if (!present) return false
    const outcome = compare(clause.op, clause.values, value)
    this.observe(`${clause.op}:${outcome}`)
    return outcome === undefined ? false : outcome !== negate
  }
}

/** The fields that must agree; flagVersion only on success (the docs do not pin it on errors). */
export function project(r: EvaluationResult<unknown> | RefResult): Record<string, unknown> {
  const out: Record<string, unknown> = { value: r.value, reason: r.reason }
  if (r.variant !== undefined) out.variant = r.variant
  if (r.errorCode !== undefined) out.errorCode = r.errorCode
  if (r.ruleId !== undefined) out.ruleId = r.ruleId
  if (r.killed === true) out.killed = true
  if (r.reason !== 'ERROR') out.flagVersion = r.flagVersion
  return out
}
