/**
 * fast-check generators for the evaluator's property tests: valid snapshots that
 * reach every operator and outcome, contexts derived from them, and hostile
 * contexts. Test support only: no entry point imports it.
 */
import fc from 'fast-check'
import { RE2JS } from 're2js'
import { parseSemver } from '../semver.js'
import {
  type Clause,
  type Cohort,
  FLAG_TYPES,
  type Flag,
  type FlagType,
  type JsonValue,
  OPERATORS,
  type Rule,
  type Serve,
  type Snapshot,
} from '../types.js'
import { type Ctx, compact, define, objectOf, refDate } from './reference.js'

const hasOwn = Object.hasOwn

/**
 * Shapes that triggered disagreements with the docs (see the end of evaluator.property.test.ts).
 * All are on in the full comparison; the second comparison leaves out the ones
 * still open, so that everything else stays checked meanwhile.
 */
interface Shapes {
  /** Archived flags used as prerequisites. */
  archivedPrerequisites: boolean
  /** Rollouts that give all 100000 to one variant. */
  singleVariantRollouts: boolean
  /** Contexts whose targetingKey is inherited from a prototype. */
  inheritedTargetingKeys: boolean
  /** Context dates that look like ISO 8601 but are not (2020-02-30, 2020-01-01Z, …). */
  nonIsoDates: boolean
  /** "__proto__" keys inside object variant values (such snapshots are rejected; off in the generators). */
  protoKeysInValues: boolean
  /** Variant names that Object.prototype also has (toString, valueOf, constructor, hasOwnProperty). */
  prototypeVariantNames: boolean
}
export const ALL_SHAPES: Shapes = {
  archivedPrerequisites: true,
  singleVariantRollouts: true,
  inheritedTargetingKeys: true,
  nonIsoDates: true,
  // parseSnapshot rejects "__proto__" keys, which JavaScript objects drop silently; tested in evaluator.property.test.ts
  protoKeysInValues: false,
  prototypeVariantNames: true,
}

const STRINGS = [
  '',
  'NL',
  'nl',
  'US',
  'pro',
  'free',
  'alice',
  'bob',
  'user-1',
  'user-2',
  'a@example.com',
  'b@test.org',
  'ü',
  '日本',
  '👍',
  'e\u0301',
  '\ud800',
  '1',
  '42',
  'true',
  'null',
  'constructor',
  '__proto__',
  'toString',
]
const NUMBERS = [0, -0, 1, -1, 1.5, 18, 42, 65, 100, 1e21, -1e-7, 2 ** 53]
const ATTRIBUTES = [
  'targetingKey',
  'country',
  'plan',
  'email',
  'age',
  'score',
  'beta',
  'groups',
  'version',
  'createdAt',
  'user',
  'user.email',
  'user.address.country',
  'org.id',
  'a.b',
  'groups.0',
  'groups.length',
  'constructor',
  'toString',
  '__proto__',
  'user.constructor',
]
const BUCKET_BY = ['targetingKey', 'email', 'age', 'org.id', 'user.email', 'deviceId', 'score']
const FLAG_KEYS = ['new-checkout', 'dark-mode', 'beta', 'a', 'f.1', 'x_y-z', 'constructor', '0']
const COHORT_KEYS = ['canary', 'staff', 'beta-users', 'c.1', 'constructor', 'eu']
const VARIANTS = [
  'on',
  'off',
  'control',
  'treatment',
  'A',
  'B',
  '_x',
  'v.1',
  'blue-2',
  'toString',
  'constructor',
  'hasOwnProperty',
  'valueOf',
]
const CONTEXT_KEYS = ['user-1', 'user-2', 'alice', 'bob', '', 'constructor', '__proto__', 'ü', '👍', '\udc00']
const PATTERNS = [
  '^a',
  'e$',
  '^user-\\d+$',
  '[0-9]',
  '@example\\.com$',
  '(?i)^nl$',
  '',
  '.',
  'ü',
  '\\p{L}+',
  '^$',
  '日本',
  '^\\P{L}*$',
  'a|b',
  '(?s).+',
  '\\d{2,}',
  '[[:alpha:]]+',
  '^\\x{1F44D}$',
  '\\bpro\\b',
]
const SEMVERS = [
  '1.0.0',
  'v1.0.0',
  '1.2.3',
  'v1.2.3',
  '1.2.3-rc.1',
  '1.2.3-rc.1+build.5',
  '1.2.3+build',
  '2.0.0',
  '0.9.12',
  '1.2.3-alpha',
  '1.2.3-alpha.beta',
  '1.2.3-alpha.1',
  '1.2.3-0',
  '10.0.0',
  '1.10.0',
]
const NOT_SEMVERS = ['01.2.3', '1.2', 'V1.2.3', '1.2.3-', '1.2.3-01', ' 1.2.3', '1.2.3.4', 'v', '']
const NON_ISO_DATES = [
  '2020-02-30',
  '2021-02-29',
  '2020-04-31',
  '2020-01-01Z',
  '2020-01-01, 10:00',
  '2020-01-01T10:00:00 GMT+0100',
  '2020-13-01',
  '2020-01-32',
  '2020-01-01T25:00Z',
]

export const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs)
/** `arb` with probability `present` (0..1), otherwise undefined (an absent optional field). */
export const optional = <T>(arb: fc.Arbitrary<T>, present = 0.5): fc.Arbitrary<T | undefined> =>
  fc.oneof(
    { weight: Math.round((1 - present) * 12), arbitrary: fc.constant(undefined) },
    { weight: Math.round(present * 12), arbitrary: arb },
  )

const flagKeyArb = fc.oneof(pick(FLAG_KEYS), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/))
const cohortKeyArb = fc.oneof(pick(COHORT_KEYS), fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/))
const variantNameArb = (shapes: Shapes) =>
  fc
    .oneof({ weight: 4, arbitrary: pick(VARIANTS) }, fc.stringMatching(/^[A-Za-z_][A-Za-z0-9._-]{0,8}$/))
    .filter((name) => shapes.prototypeVariantNames || !(name in Object.prototype))
const attributeArb = fc.oneof({ weight: 5, arbitrary: pick(ATTRIBUTES) }, fc.string({ minLength: 1, maxLength: 6 }))
const contextKeyArb = fc.oneof({ weight: 3, arbitrary: pick(CONTEXT_KEYS) }, fc.string({ maxLength: 6 }))
const stringArb = fc.oneof({ weight: 3, arbitrary: pick(STRINGS) }, fc.string({ maxLength: 5 }))
const numberArb = fc.oneof(
  pick(NUMBERS),
  fc.integer({ min: -100, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
)
const scalarArb = fc.oneof(stringArb, numberArb, fc.boolean())
export const saltArb = fc.oneof(pick(['', 'salt', 'v2', '日本', 'new-checkout']), fc.string({ maxLength: 6 }))

const semverArb = fc.oneof(
  pick(SEMVERS),
  fc
    .record({
      core: fc.tuple(fc.nat(12), fc.nat(12), fc.nat(12)),
      pre: optional(
        fc.array(fc.oneof(fc.nat(5).map(String), pick(['alpha', 'beta', 'rc', 'x-1', '0a'])), {
          minLength: 1,
          maxLength: 3,
        }),
      ),
      build: optional(pick(['build.1', 'sha-abc', '001'])),
      v: fc.boolean(),
    })
    .map(
      ({ core, pre, build, v }) =>
        `${v ? 'v' : ''}${core.join('.')}${pre ? `-${pre.join('.')}` : ''}${build ? `+${build}` : ''}`,
    ),
)

const instantArb = fc.date({
  min: new Date('1990-01-01T00:00:00Z'),
  max: new Date('2040-12-31T23:59:59Z'),
  noInvalidDate: true,
})
const pad = (n: number, width = 2) => String(n).padStart(width, '0')
/** Valid ISO 8601 strings in the forms people send: date, date-time with Z, an offset or none, fractions. */
const isoDateArb = fc
  .tuple(instantArb, fc.integer({ min: 0, max: 6 }), fc.integer({ min: -56, max: 56 }), fc.integer({ min: 1, max: 6 }))
  .map(([d, form, quarterHours, digits]) => {
    const iso = d.toISOString()
    switch (form) {
      case 0:
        return iso
      case 1:
        return iso.slice(0, 10)
      case 2:
        return `${iso.slice(0, 16)}Z`
      case 3: {
        const offset = quarterHours * 15
        const wall = new Date(d.getTime() + offset * 60_000).toISOString().slice(0, 19)
        const abs = Math.abs(offset)
        return `${wall}${offset < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
      }
      case 4: // no offset
        return iso.slice(0, 19)
      case 5: // 1 to 6 fraction digits
        return `${iso.slice(0, 19)}.${`${iso.slice(20, 23)}789`.slice(0, digits)}Z`
      default:
        return `${iso.slice(0, 19)}+00:00`
    }
  })
const dateOperandArb = fc.oneof(
  isoDateArb,
  instantArb.map((d) => d.getTime()),
  fc.integer({ min: -1e13, max: 1e13 }),
)

function jsonArb(protoKeys: boolean): fc.Arbitrary<JsonValue> {
  const keys = fc.oneof(
    pick(protoKeys ? ['__proto__', 'constructor', 'toString', 'a'] : ['constructor', 'toString', 'a']),
    fc.string({ maxLength: 4 }).filter((k) => k !== '__proto__'),
  )
  const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
    json: fc.oneof(
      { depthSize: 'small', maxDepth: 3 },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 5 }),
      fc.array(tie('json'), { maxLength: 3 }),
      fc
        .array(fc.tuple(keys, tie('json')), { maxLength: 3 })
        .map((entries) => objectOf(entries) as { [key: string]: JsonValue }),
    ),
  }))
  return json
}

function variantValueArb(type: FlagType, shapes: Shapes): fc.Arbitrary<JsonValue> {
  switch (type) {
    case 'boolean':
      return fc.boolean()
    case 'string':
      return stringArb
    case 'number':
      return numberArb
    case 'object':
      return jsonArb(shapes.protoKeysInValues).filter((v) => typeof v === 'object' && v !== null)
  }
}

/** Any attribute value a caller might send. */
function attributeValueArb(shapes: Shapes): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 3, arbitrary: scalarArb },
    pick([null, undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]),
    pick([...SEMVERS, ...NOT_SEMVERS]),
    semverArb,
    isoDateArb,
    instantArb.map((d) => d.getTime()),
    shapes.nonIsoDates ? pick(NON_ISO_DATES) : isoDateArb,
    fc.array(fc.oneof(stringArb, fc.integer()), { maxLength: 4 }),
    fc.jsonValue({ maxDepth: 2 }),
  )
}

function clauseArb(cohortKeys: string[]): fc.Arbitrary<Clause> {
  const ops = OPERATORS.filter((op) => op !== 'inCohort' || cohortKeys.length > 0)
  return pick(ops).chain((op) => {
    let values: fc.Arbitrary<JsonValue[]>
    switch (op) {
      case 'eq':
        values = scalarArb.map((v) => [v])
        break
      case 'in':
        values = fc.array(scalarArb, { minLength: 1, maxLength: 4 })
        break
      case 'contains':
      case 'startsWith':
      case 'endsWith':
        values = fc.array(stringArb, { minLength: 1, maxLength: 3 })
        break
      case 'matches':
        values = fc.array(
          fc.oneof(
            pick(PATTERNS),
            stringArb.map((s) => RE2JS.quote(s)),
          ),
          { minLength: 1, maxLength: 2 },
        )
        break
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte':
        values = numberArb.map((n) => [n])
        break
      case 'before':
      case 'after':
        values = dateOperandArb.map((d) => [d])
        break
      case 'semverEq':
      case 'semverLt':
      case 'semverLte':
      case 'semverGt':
      case 'semverGte':
        values = semverArb.map((v) => [v])
        break
      case 'exists':
        values = fc.constant([])
        break
      case 'inCohort':
        values = fc.array(pick(cohortKeys), { minLength: 1, maxLength: 2 })
        break
    }
    return fc
      .record({
        attribute: op === 'inCohort' ? optional(attributeArb, 0.25) : attributeArb,
        op: fc.constant(op),
        values,
        negate: optional(fc.boolean(), 0.67),
      })
      .map((c) => compact<Clause>(c))
  })
}

interface Head {
  key: string
  type: FlagType
  variants: string[]
}

function rolloutServeArb(head: Head, shapes: Shapes): fc.Arbitrary<Serve> {
  const cut = fc.oneof(fc.integer({ min: 0, max: 100_000 }), pick([0, 100_000, 50_000, 5_000, 95_000, 33_333, 66_666]))
  return fc
    .shuffledSubarray(head.variants, { minLength: shapes.singleVariantRollouts ? 1 : 2 })
    .chain((names) =>
      fc.record({
        names: fc.constant(names),
        cuts: fc.array(cut, { minLength: names.length - 1, maxLength: names.length - 1 }),
        bucketBy: optional(fc.oneof(pick(BUCKET_BY), attributeArb)),
        salt: optional(saltArb),
      }),
    )
    .map(({ names, cuts, bucketBy, salt }) => {
      const bounds = [0, ...cuts.sort((a, b) => a - b), 100_000]
      const weights = objectOf(names.map((name, i) => [name, bounds[i + 1]! - bounds[i]!])) as Record<string, number>
      return { rollout: compact<Serve & { rollout: unknown }>({ weights, bucketBy, salt }) } as unknown as Serve
    })
    .filter(
      (serve) =>
        shapes.singleVariantRollouts ||
        Object.values((serve as { rollout: { weights: Record<string, number> } }).rollout.weights).filter((w) => w > 0)
          .length >= 2,
    )
}

function serveArb(head: Head, shapes: Shapes): fc.Arbitrary<Serve> {
  const fixed = pick(head.variants).map((variant) => ({ variant }))
  if (head.variants.length < 2 && !shapes.singleVariantRollouts) return fixed
  return fc.oneof(fixed, rolloutServeArb(head, shapes))
}

function ruleArb(head: Head, cohortKeys: string[], shapes: Shapes): fc.Arbitrary<Omit<Rule, 'id'>> {
  return fc
    .record({
      enabled: optional(fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false))),
      description: optional(fc.string({ maxLength: 8 }), 0.25),
      cohorts:
        cohortKeys.length > 0 ? optional(fc.array(pick(cohortKeys), { maxLength: 2 }), 0.67) : fc.constant(undefined),
      clauses: optional(fc.array(clauseArb(cohortKeys), { maxLength: 3 }), 0.75),
      serve: serveArb(head, shapes),
    })
    .map((r) => compact<Omit<Rule, 'id'>>(r))
}

function flagArb(head: Head, earlier: Head[], cohortKeys: string[], shapes: Shapes): fc.Arbitrary<Flag> {
  const prerequisite = earlier.length
    ? pick(earlier).chain((dep) =>
        fc.subarray(dep.variants, { minLength: 1 }).map((variants) => ({ flag: dep.key, variants })),
      )
    : undefined
  return fc
    .record({
      values: fc.tuple(...head.variants.map(() => variantValueArb(head.type, shapes))),
      version: fc.nat(1000),
      enabled: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, fc.constant(false)),
      killed: optional(fc.oneof(fc.constant(false), fc.constant(true)), 0.17),
      offVariant: pick(head.variants),
      prerequisites: prerequisite ? optional(fc.array(prerequisite, { maxLength: 2 }), 0.67) : fc.constant(undefined),
      targets: optional(fc.array(fc.tuple(contextKeyArb, pick(head.variants)), { maxLength: 5 }), 0.67),
      rules: optional(
        fc.tuple(
          fc.array(ruleArb(head, cohortKeys, shapes), { maxLength: 4 }),
          fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,6}$/),
        ),
        0.75,
      ),
      fallthrough: serveArb(head, shapes),
      description: optional(fc.string({ maxLength: 10 }), 0.25),
      tags: optional(fc.array(fc.string({ minLength: 1, maxLength: 5 }), { maxLength: 2 }), 0.25),
      owner: optional(fc.string({ maxLength: 5 }), 0.25),
      archived: optional(fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true))),
    })
    .map(({ values, targets, rules, ...rest }) => {
      // a context key may be listed under one variant only
      const owner = new Map<string, string>()
      const lists = new Map<string, string[]>()
      for (const [key, variant] of targets ?? []) {
        if ((owner.get(key) ?? variant) !== variant) continue
        owner.set(key, variant)
        lists.set(variant, [...(lists.get(variant) ?? []), key])
      }
      return compact<Flag>({
        key: head.key,
        type: head.type,
        variants: objectOf(head.variants.map((name, i) => [name, values[i]])),
        ...rest,
        targets: targets === undefined ? undefined : objectOf(lists),
        rules: rules?.[0].map((r, i) => objectOf([['id', `${rules[1]}.${i}`], ...Object.entries(r)])),
      })
    })
}

function cohortArb(key: string, earlier: string[]): fc.Arbitrary<Cohort> {
  return fc
    .record({
      version: optional(fc.nat(100), 0.33),
      description: optional(fc.string({ maxLength: 8 }), 0.25),
      include: optional(fc.array(contextKeyArb, { maxLength: 4 }), 0.67),
      exclude: optional(fc.array(contextKeyArb, { maxLength: 3 })),
      clauses: optional(fc.array(clauseArb(earlier), { maxLength: 2 }), 0.67),
      rollout: optional(
        fc
          .record({
            weight: fc.oneof(fc.integer({ min: 0, max: 100_000 }), pick([0, 100_000, 50_000, 5_000])),
            bucketBy: optional(pick(BUCKET_BY)),
            salt: optional(saltArb),
          })
          .map((r) => compact<NonNullable<Cohort['rollout']>>(r)),
      ),
    })
    .map((c) => compact<Cohort>({ key, ...c }))
}

/** Valid snapshots: every type and operator, cohorts and prerequisites forming DAGs, weights summing to 100000. */
export function snapshotArb(shapes: Shapes): fc.Arbitrary<Snapshot> {
  const headArb = fc.record({
    key: flagKeyArb,
    type: pick(FLAG_TYPES),
    variants: fc.uniqueArray(variantNameArb(shapes), { minLength: 1, maxLength: 4 }),
  })
  return fc
    .record({
      cohortKeys: fc.uniqueArray(cohortKeyArb, { maxLength: 4 }),
      heads: fc.uniqueArray(headArb, { minLength: 1, maxLength: 6, selector: (h) => h.key }),
    })
    .chain(({ cohortKeys, heads }) =>
      fc.record({
        environment: pick(['production', 'test']),
        version: fc.nat(),
        // cohorts and flags only refer to earlier ones: no cycles
        cohorts: fc.tuple(...cohortKeys.map((key, i) => cohortArb(key, cohortKeys.slice(0, i)))),
        flags: fc.tuple(...heads.map((head, i) => flagArb(head, heads.slice(0, i), cohortKeys, shapes))),
      }),
    )
    .map(({ environment, version, cohorts, flags }) => {
      if (!shapes.archivedPrerequisites) {
        const needed = new Set(flags.flatMap((f) => (f.prerequisites ?? []).map((p) => p.flag)))
        for (const f of flags) if (needed.has(f.key)) delete f.archived
      }
      return {
        environment,
        version,
        flags: objectOf(flags.map((f) => [f.key, f])) as Record<string, Flag>,
        cohorts: objectOf(cohorts.map((c) => [c.key, c])) as Record<string, Cohort>,
      }
    })
}

// --- contexts ---

export function allClauses(snapshot: Snapshot): Clause[] {
  return [
    ...Object.values(snapshot.flags).flatMap((f) => (f.rules ?? []).flatMap((r) => r.clauses ?? [])),
    ...Object.values(snapshot.cohorts).flatMap((c) => c.clauses ?? []),
  ]
}

/** Values near each clause's operands, so that generated contexts match rules about as often as they miss. */
function nearOperands(clause: Clause): unknown[] {
  const out: unknown[] = []
  for (const v of clause.values) {
    switch (clause.op) {
      case 'eq':
      case 'in':
        out.push(v, typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v) : !v)
        break
      case 'contains':
        out.push(v, `x${v}y`, [v], ['zz', v], [`${v}!`])
        break
      case 'startsWith':
        out.push(v, `${v}…`, `…${v}`)
        break
      case 'endsWith':
        out.push(v, `…${v}`, `${v}…`)
        break
      case 'matches':
        out.push('user-12', 'a@example.com', 'NL', 'pro plan', '日本語', '', '👍', `${v}`)
        break
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte': {
        const n = v as number
        out.push(n, n - 1, n + 1, n + 0.5, String(n))
        break
      }
      case 'before':
      case 'after': {
        const ms = refDate(v)!
        out.push(v)
        for (const d of [-86_400_000, -1, 1, 86_400_000]) {
          const t = ms + d
          out.push(t)
          if (Math.abs(t) < 8.64e15) out.push(new Date(t).toISOString())
        }
        break
      }
      case 'semverEq':
      case 'semverLt':
      case 'semverLte':
      case 'semverGt':
      case 'semverGte': {
        const s = parseSemver(v as string)!
        out.push(
          v,
          `${s.major}.${s.minor}.${s.patch}`,
          `${s.major}.${s.minor}.${s.patch + 1}`,
          `v${s.major}.${s.minor + 1}.0`,
          `${s.major}.${s.minor}.${s.patch}-rc.1`,
          `${Math.max(0, s.major - 1)}.9.9`,
          s.major,
        )
        break
      }
      case 'exists':
      case 'inCohort':
        break
    }
  }
  if (clause.op === 'exists') out.push('x', 0, false, null, [])
  return out
}

/** Context keys the snapshot mentions: targets, include and exclude lists. */
function listedKeys(snapshot: Snapshot): string[] {
  return [
    ...Object.values(snapshot.flags).flatMap((f) => Object.values(f.targets ?? {}).flat()),
    ...Object.values(snapshot.cohorts).flatMap((c) => [...(c.include ?? []), ...(c.exclude ?? [])]),
  ]
}

/** Sets `path` inside `ctx`, creating (or copying, so shared values stay untouched) the objects on the way. */
function setPath(ctx: Ctx, path: string[], value: unknown): void {
  let current: Ctx = ctx
  for (const part of path.slice(0, -1)) {
    const next = hasOwn(current, part) ? current[part] : {}
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return
    const copy = objectOf(Object.entries(next))
    define(current, part, copy)
    current = copy as Ctx
  }
  define(current, path[path.length - 1]!, value)
}

/** Contexts made of the snapshot's own attribute names and (near-)operand values, plus noise. */
function derivedContextArb(snapshot: Snapshot, shapes: Shapes): fc.Arbitrary<unknown> {
  const candidates = new Map<string, unknown[]>()
  const add = (attribute: string, values: unknown[]) =>
    candidates.set(attribute, [...(candidates.get(attribute) ?? []), ...values])
  for (const clause of allClauses(snapshot))
    if (clause.attribute !== undefined && clause.op !== 'inCohort') add(clause.attribute, nearOperands(clause))
  for (const flag of Object.values(snapshot.flags))
    for (const serve of [flag.fallthrough, ...(flag.rules ?? []).map((r) => r.serve)])
      if ('rollout' in serve && serve.rollout.bucketBy !== undefined)
        add(serve.rollout.bucketBy, ['user-1', 'user-2', 7, 1.5, -0])
  for (const cohort of Object.values(snapshot.cohorts))
    if (cohort.rollout?.bucketBy !== undefined) add(cohort.rollout.bucketBy, ['user-1', 'user-2', 7])
  const keys = [...new Set([...listedKeys(snapshot), ...CONTEXT_KEYS])]
  const attributes = [...candidates.keys()]
  const valueArb = (attribute: string) =>
    fc.oneof({ weight: 4, arbitrary: pick(candidates.get(attribute)!) }, attributeValueArb(shapes))

  const targetingKey = fc.oneof(
    { weight: 6, arbitrary: pick(keys) },
    { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), pick([null, true, ['user-1']])) },
  )
  return fc
    .record({
      targetingKey,
      attributes: fc
        .subarray(attributes)
        .chain((chosen) => fc.tuple(...chosen.map((a) => fc.tuple(fc.constant(a), valueArb(a), fc.boolean())))),
      // 0: the targetingKey is inherited from a prototype (class instances, Object.create)
      inherit: shapes.inheritedTargetingKeys ? fc.integer({ min: 0, max: 7 }) : fc.constant(7),
    })
    .map(({ targetingKey, attributes, inherit }) => {
      const ctx: Ctx = {}
      if (targetingKey !== undefined) define(ctx, 'targetingKey', targetingKey)
      for (const [attribute, value, flat] of attributes) {
        if (flat || !attribute.includes('.')) define(ctx, attribute, value)
        else setPath(ctx, attribute.split('.'), value)
      }
      if (inherit !== 0 || !hasOwn(ctx, 'targetingKey')) return ctx
      const { targetingKey: inherited, ...own } = ctx
      return Object.assign(Object.create({ targetingKey: inherited }), own)
    })
}

/** A context of any shape: derived from the snapshot most of the time, otherwise anything at all. */
export function contextArb(snapshot: Snapshot, shapes: Shapes): fc.Arbitrary<unknown> {
  const pooled = fc
    .array(fc.tuple(attributeArb, attributeValueArb(shapes)), { maxLength: 6 })
    .map((entries) => objectOf(entries))
  return fc.oneof(
    { weight: 8, arbitrary: derivedContextArb(snapshot, shapes) },
    { weight: 2, arbitrary: pooled },
    { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
    { weight: 1, arbitrary: pick([undefined, null, {}, [], 'user-1', 42]) },
  )
}

/** A flag to ask for: mostly the snapshot's, sometimes one that is not there. */
export function flagKeyToAsk(snapshot: Snapshot): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: pick(Object.keys(snapshot.flags)) },
    { weight: 1, arbitrary: pick(['missing', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) },
  )
}

export const defaultValueArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  fc.boolean(),
  stringArb,
  fc.double(),
  pick<JsonValue>([null, {}, [], { a: 1 }, 0]),
)

/** A snapshot with a few contexts and questions about it. */
export function scenarioArb(shapes: Shapes) {
  return snapshotArb(shapes).chain((snapshot) =>
    fc.record({
      snapshot: fc.constant(snapshot),
      contexts: fc.array(contextArb(snapshot, shapes), { minLength: 1, maxLength: 6 }),
      asks: fc.array(fc.tuple(flagKeyToAsk(snapshot), defaultValueArb), { minLength: 1, maxLength: 6 }),
    }),
  )
}

type Hostile = () => unknown
const boom = () => {
  throw new Error('hostile context')
}
/**
 * Contexts built to break things: throwing getters, hostile proxies, exotic
 * objects. Made inside the property (fast-check itself cannot touch a revoked proxy).
 */
export const HOSTILE: Hostile[] = [
  () => new Proxy({}, { get: boom, has: boom, getOwnPropertyDescriptor: boom, ownKeys: boom, getPrototypeOf: boom }),
  () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  },
  () => Object.defineProperty({}, 'targetingKey', { get: boom, enumerable: true }),
  () => {
    const ctx = { targetingKey: 'user-1' }
    for (const a of new Set([...ATTRIBUTES, ...BUCKET_BY, 'user', 'org', 'account']))
      if (a !== 'targetingKey') Object.defineProperty(ctx, a, { get: boom, enumerable: true })
    return ctx
  },
  () => Object.assign(Object.create(null), { targetingKey: 'user-1', country: 'NL', 'user.email': 'a@example.com' }),
  () => Object.create({ targetingKey: 'user-1', country: 'NL', plan: 'pro', age: 42 }),
  () => Object.assign(() => 'fn', { targetingKey: 'user-1' }),
  () => new Date(0),
  () => new Map([['targetingKey', 'user-1']]),
]
export const hostileContextArb: fc.Arbitrary<Hostile> = fc.oneof(
  fc
    .anything({
      maxDepth: 2,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withDate: true,
      withTypedArray: true,
      withSparseArray: true,
      withBigInt: true,
      withObjectString: true,
    })
    .map((value) => () => value),
  pick(HOSTILE),
)
