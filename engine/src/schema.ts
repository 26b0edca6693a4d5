/**
 * @module @vane/engine/schema
 * zod schemas for the flag model and `parseSnapshot`, which reports every
 * problem of a snapshot — shape, references, cycles — each with its JSON path.
 */
import { z } from 'zod'
import { parseDate } from './dates.js'
import { type SnapshotIssue, toPointer } from './errors.js'
import { entityPatternProblems, type PatternAt, patternSizeProblem } from './patterns.js'
import { checkReferences, keysOf } from './references.js'
import { parseSemver } from './semver.js'
import type { Clause, Cohort, Flag, JsonValue, Serve, Snapshot } from './types.js'
import { FLAG_TYPES, OPERATORS } from './types.js'

export { parseDate } from './dates.js'
export { type SnapshotIssue, toPointer } from './errors.js'
export { checkReferences, cycleIssues, findCycles, type KnownKeys, referenceIssues } from './references.js'

/** Flag and cohort keys: lowercase, URL-safe, at most 128 characters. */
export const KEY_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/
/** Rule ids. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
/**
 * Variant names start with a letter or "_": JavaScript orders integer-like object
 * keys numerically, which would reorder variants and so move rollout buckets.
 */
export const VARIANT_PATTERN = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9._-]{0,63}$/
/** Rollout weights are thousandths of a percent. */
export const TOTAL_WEIGHT = 100_000

export const keySchema = z
  .string()
  .regex(KEY_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,127}$ (lowercase letters, digits, ".", "_", "-")')
export const nameSchema = z
  .string()
  .regex(NAME_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ (letters, digits, ".", "_", "-")')
export const variantSchema = z
  .string()
  .regex(VARIANT_PATTERN, 'must match ^[A-Za-z_][A-Za-z0-9._-]{0,63}$ (starts with a letter or "_")')

const jsonValueSchema: z.ZodType<JsonValue> = z.json()
const scalarSchema = z.union([z.string().max(4096), z.number(), z.boolean()])
const attributeSchema = z.string().min(1).max(256)

/** Which values each operator takes; checked after the clause's shape. */
function checkClauseValues(clause: Clause, ctx: z.RefinementCtx): void {
  const { op, values } = clause
  const issue = (message: string, path: PropertyKey[] = ['values']) => ctx.addIssue({ code: 'custom', message, path })
  const exactlyOne = () => {
    if (values.length !== 1) issue(`"${op}" takes exactly one value, got ${values.length}`)
    return values.length === 1
  }
  const atLeastOne = () => {
    if (values.length === 0) issue(`"${op}" takes at least one value`)
  }
  const each = (test: (v: JsonValue) => string | undefined) =>
    values.forEach((v, i) => {
      const problem = test(v)
      if (problem !== undefined) issue(problem, ['values', i])
    })
  const isString = (v: JsonValue) => (typeof v === 'string' ? undefined : `"${op}" compares strings`)

  if (op !== 'inCohort' && clause.attribute === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${op}" needs an attribute`, path: ['attribute'] })
  }
  switch (op) {
    case 'eq':
      exactlyOne()
      each((v) => (scalarSchema.safeParse(v).success ? undefined : '"eq" compares a string, number or boolean'))
      return
    case 'in':
      atLeastOne()
      each((v) => (scalarSchema.safeParse(v).success ? undefined : '"in" takes strings, numbers or booleans'))
      return
    case 'contains':
    case 'startsWith':
    case 'endsWith':
    case 'inCohort':
      atLeastOne()
      each(isString)
      return
    case 'matches':
      atLeastOne()
      each((v) => {
        if (typeof v !== 'string') return '"matches" takes RE2 patterns as strings'
        // compiled by the flag or cohort holding the clause, within its budget (checkPatterns)
        return patternSizeProblem(v)
      })
      return
    case 'lt':
    case 'lte':
    case 'gt':
    case 'gte':
      exactlyOne()
      each((v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `"${op}" compares a finite number`))
      return
    case 'before':
    case 'after':
      exactlyOne()
      each((v) => (parseDate(v) === undefined ? `"${op}" takes an ISO 8601 date or epoch milliseconds` : undefined))
      return
    case 'semverEq':
    case 'semverLt':
    case 'semverLte':
    case 'semverGt':
    case 'semverGte':
      exactlyOne()
      each((v) => (typeof v === 'string' && parseSemver(v) !== undefined ? undefined : `"${op}" takes a semver`))
      return
    case 'exists':
      if (values.length !== 0) issue('"exists" takes no values')
      return
  }
}

export const clauseSchema = z
  .strictObject({
    attribute: attributeSchema.optional(),
    op: z.enum(OPERATORS),
    values: z.array(jsonValueSchema).max(10_000),
    negate: z.boolean().optional(),
  })
  .superRefine((clause, ctx) => checkClauseValues(clause as Clause, ctx))

export const rolloutSchema = z.strictObject({
  weights: z.record(variantSchema, z.int().min(0).max(TOTAL_WEIGHT)),
  bucketBy: attributeSchema.optional(),
  salt: z.string().max(256).optional(),
})

/**
 * `{variant}` or `{rollout}`. One object with a check rather than a union, so
 * that an error points into the branch the author meant instead of at the union.
 */
export const serveSchema = z
  .strictObject({ variant: variantSchema.optional(), rollout: rolloutSchema.optional() })
  .superRefine((serve, ctx) => {
    if ((serve.variant === undefined) === (serve.rollout === undefined))
      ctx.addIssue({ code: 'custom', message: 'serve exactly one of "variant" or "rollout"' })
  }) as unknown as z.ZodType<Serve>

export const ruleSchema = z.strictObject({
  id: nameSchema,
  enabled: z.boolean().optional(),
  description: z.string().max(1024).optional(),
  cohorts: z.array(keySchema).max(100).optional(),
  clauses: z.array(clauseSchema).max(100).optional(),
  serve: serveSchema,
})

export const prerequisiteSchema = z.strictObject({
  flag: keySchema,
  variants: z.array(variantSchema).min(1),
})

const TYPE_CHECKS: Record<Flag['type'], (v: JsonValue) => boolean> = {
  boolean: (v) => typeof v === 'boolean',
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  object: (v) => typeof v === 'object' && v !== null,
}

/** True when `value` fits a flag of `type` (objects include arrays). */
export function valueMatchesType(type: Flag['type'], value: unknown): boolean {
  return TYPE_CHECKS[type](value as JsonValue)
}

type Raw = Record<string, unknown>
const asRecord = (v: unknown): Raw | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : undefined
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])

/** Cross-field checks of a serve; tolerant of a malformed shape, which zod reports on its own. */
function checkServe(serve: unknown, variants: Raw, ctx: z.RefinementCtx, path: PropertyKey[]): void {
  const s = asRecord(serve)
  if (s === undefined) return
  if (typeof s.variant === 'string') {
    if (!Object.hasOwn(variants, s.variant))
      ctx.addIssue({ code: 'custom', message: `unknown variant "${s.variant}"`, path: [...path, 'variant'] })
    return
  }
  const weights = asRecord(asRecord(s.rollout)?.weights)
  if (weights === undefined) return
  let total = 0
  for (const [name, weight] of Object.entries(weights)) {
    total += typeof weight === 'number' ? weight : Number.NaN
    if (!Object.hasOwn(variants, name))
      ctx.addIssue({
        code: 'custom',
        message: `unknown variant "${name}"`,
        path: [...path, 'rollout', 'weights', name],
      })
  }
  if (total !== TOTAL_WEIGHT && !Number.isNaN(total))
    ctx.addIssue({
      code: 'custom',
      message: `weights must sum to ${TOTAL_WEIGHT} (thousandths of a percent), got ${total}`,
      path: [...path, 'rollout', 'weights'],
    })
}

/** The `matches` patterns among `clauses`, read defensively, with their paths. */
function patternsOf(clauses: unknown, path: (string | number)[]): PatternAt[] {
  return asArray(clauses).flatMap((clause, j) => {
    const c = asRecord(clause)
    if (c?.op !== 'matches') return []
    return asArray(c.values).flatMap((v, k) =>
      typeof v === 'string' ? [{ pattern: v, path: [...path, j, 'values', k] }] : [],
    )
  })
}

/** Compiles an entity's patterns within its budget (see {@link entityPatternProblems}). */
function checkPatterns(patterns: readonly PatternAt[], ctx: z.RefinementCtx): void {
  for (const { path, message } of entityPatternProblems(patterns)) ctx.addIssue({ code: 'custom', message, path })
}

/**
 * Checks across a flag's fields. It also runs when the shape has problems, so
 * one pass reports both, and therefore reads every field defensively.
 */
function checkFlag(raw: unknown, ctx: z.RefinementCtx): void {
  const flag = asRecord(raw)
  if (flag === undefined) return
  const add = (message: string, path: PropertyKey[]) => ctx.addIssue({ code: 'custom', message, path })
  const variants = asRecord(flag.variants)
  const type =
    typeof flag.type === 'string' && (FLAG_TYPES as readonly string[]).includes(flag.type) ? flag.type : undefined
  if (variants !== undefined) {
    const names = Object.keys(variants)
    if (names.length === 0) add('a flag needs at least one variant', ['variants'])
    for (const name of names)
      if (type !== undefined && !valueMatchesType(type as Flag['type'], variants[name]))
        add(`value does not match flag type "${type}"`, ['variants', name])
    if (typeof flag.offVariant === 'string' && !Object.hasOwn(variants, flag.offVariant))
      add(`unknown variant "${flag.offVariant}"`, ['offVariant'])
  }
  const known = variants ?? {}
  const targeted = new Map<string, string>()
  for (const [variant, keys] of Object.entries(asRecord(flag.targets) ?? {})) {
    if (variants !== undefined && !Object.hasOwn(variants, variant))
      add(`unknown variant "${variant}"`, ['targets', variant])
    asArray(keys).forEach((key, i) => {
      if (typeof key !== 'string') return
      const other = targeted.get(key)
      if (other !== undefined && other !== variant)
        add(`context key "${key}" is targeted by both "${other}" and "${variant}"`, ['targets', variant, i])
      targeted.set(key, variant)
    })
  }
  checkPatterns(
    asArray(flag.rules).flatMap((rule, i) => patternsOf(asRecord(rule)?.clauses, ['rules', i, 'clauses'])),
    ctx,
  )
  const ids = new Set<unknown>()
  asArray(flag.rules).forEach((rule, i) => {
    const id = asRecord(rule)?.id
    if (typeof id === 'string' && ids.has(id)) add(`duplicate rule id "${id}"`, ['rules', i, 'id'])
    ids.add(id)
    if (variants !== undefined) checkServe(asRecord(rule)?.serve, known, ctx, ['rules', i, 'serve'])
  })
  if (variants !== undefined) checkServe(flag.fallthrough, known, ctx, ['fallthrough'])
  asArray(flag.prerequisites).forEach((p, i) => {
    if (asRecord(p)?.flag === flag.key) add('a flag cannot be its own prerequisite', ['prerequisites', i, 'flag'])
  })
}

/** The flag's shape without cross-field checks, for composing request schemas (`.pick`, `.omit`). */
export const flagObjectSchema = z.strictObject({
  key: keySchema,
  type: z.enum(FLAG_TYPES),
  variants: z.record(variantSchema, jsonValueSchema),
  version: z.int().min(0),
  enabled: z.boolean(),
  killed: z.boolean().optional(),
  offVariant: variantSchema,
  prerequisites: z.array(prerequisiteSchema).max(100).optional(),
  targets: z.record(variantSchema, z.array(z.string().max(1024))).optional(),
  rules: z.array(ruleSchema).max(1000).optional(),
  fallthrough: serveSchema,
  description: z.string().max(4096).optional(),
  tags: z.array(z.string().min(1).max(64)).max(100).optional(),
  owner: z.string().max(256).optional(),
  archived: z.boolean().optional(),
})

/** The flag as an environment sees it; checks everything that needs no other flag or cohort. */
export const flagSchema = flagObjectSchema.superRefine((flag, ctx) => checkFlag(flag, ctx), {
  when: (payload) => typeof payload.value === 'object' && payload.value !== null,
})

export const cohortRolloutSchema = z.strictObject({
  weight: z.int().min(0).max(TOTAL_WEIGHT),
  bucketBy: attributeSchema.optional(),
  salt: z.string().max(256).optional(),
})

export const cohortSchema = z.strictObject({
  key: keySchema,
  version: z.int().min(0).optional(),
  description: z.string().max(4096).optional(),
  include: z.array(z.string().max(1024)).optional(),
  exclude: z.array(z.string().max(1024)).optional(),
  clauses: z.array(clauseSchema).max(100).optional(),
  rollout: cohortRolloutSchema.optional(),
})

/** A cohort with its patterns compiled within their budget: what a snapshot or a patch may carry. */
export const checkedCohortSchema = cohortSchema.superRefine(
  (cohort, ctx) => checkPatterns(patternsOf(asRecord(cohort)?.clauses, ['clauses']), ctx),
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
)

export type ParseSnapshotResult = { success: true; data: Snapshot } | { success: false; issues: SnapshotIssue[] }

function toIssues(error: z.ZodError, prefix: (string | number)[]): SnapshotIssue[] {
  return error.issues.map((i) => {
    const path = [...prefix, ...i.path.map((p) => (typeof p === 'number' ? p : String(p)))]
    return { path, pointer: toPointer(path), message: i.message }
  })
}

const envelopeSchema = z.strictObject({
  environment: z.string().min(1).max(128),
  version: z.int().min(0),
  flags: z.record(z.string(), z.unknown()),
  cohorts: z.record(z.string(), z.unknown()),
})

/**
 * Validates a snapshot completely: every flag and cohort on its own, then every
 * reference between them (variants of prerequisites, cohorts used by rules and
 * clauses) and the absence of prerequisite and cohort cycles. Nothing invalid
 * is accepted; every problem is reported, each with its path.
 *
 * @example
 * const result = parseSnapshot(JSON.parse(body))
 * if (!result.success) for (const i of result.issues) console.error(i.pointer, i.message)
 */
export function parseSnapshot(input: unknown): ParseSnapshotResult {
  const envelope = envelopeSchema.safeParse(input)
  const issues: SnapshotIssue[] = envelope.success ? [] : toIssues(envelope.error, [])
  // entries are checked even when the envelope is not, so one pass reports everything
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>
  const rawFlags = isRecord(raw.flags) ? raw.flags : {}
  const rawCohorts = isRecord(raw.cohorts) ? raw.cohorts : {}
  const flags: Record<string, Flag> = {}
  const cohorts: Record<string, Cohort> = {}

  for (const [key, entry] of Object.entries(rawFlags)) {
    findProtoKeys(entry, ['flags', key], issues)
    const parsed = flagSchema.safeParse(entry)
    if (!parsed.success) issues.push(...toIssues(parsed.error, ['flags', key]))
    else flags[key] = parsed.data as Flag
    checkRecordKey(key, entry, ['flags', key], issues)
  }
  for (const [key, entry] of Object.entries(rawCohorts)) {
    findProtoKeys(entry, ['cohorts', key], issues)
    const parsed = checkedCohortSchema.safeParse(entry)
    if (!parsed.success) issues.push(...toIssues(parsed.error, ['cohorts', key]))
    else cohorts[key] = parsed.data as Cohort
    checkRecordKey(key, entry, ['cohorts', key], issues)
  }
  issues.push(...checkReferences(flags, cohorts, { flags: keysOf(rawFlags), cohorts: keysOf(rawCohorts) }))
  if (issues.length > 0 || !envelope.success) return { success: false, issues }
  return {
    success: true,
    data: { environment: envelope.data.environment, version: envelope.data.version, flags, cohorts },
  }
}

/**
 * JSON may carry an own "__proto__" key, which JavaScript objects built by
 * assignment silently drop; reject it rather than change the data unseen.
 */
function findProtoKeys(value: unknown, path: (string | number)[], issues: SnapshotIssue[], depth = 0): void {
  if (typeof value !== 'object' || value === null || depth > 64) return
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++)
      if (typeof value[i] === 'object') findProtoKeys(value[i], [...path, i], issues, depth + 1)
    return
  }
  for (const key of Object.keys(value)) {
    const at = [...path, key]
    if (key === '__proto__')
      issues.push({ path: at, pointer: toPointer(at), message: 'the key "__proto__" is not allowed' })
    else findProtoKeys((value as Record<string, unknown>)[key], at, issues, depth + 1)
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkRecordKey(key: string, raw: unknown, path: (string | number)[], issues: SnapshotIssue[]): void {
  const inner = (raw as { key?: unknown } | null)?.key
  if (typeof inner === 'string' && inner !== key) {
    const at = [...path, 'key']
    issues.push({ path: at, pointer: toPointer(at), message: `key "${inner}" differs from its entry "${key}"` })
  }
}
