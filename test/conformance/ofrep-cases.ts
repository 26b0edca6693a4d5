/**
 * @module test/conformance/ofrep-cases
 * What the OFREP conformance suites (`ofrep-server.test.ts`, `ofrep-web.test.ts`) share: the one table of spec
 * cases that cannot be expressed through OFREP and the official OpenFeature clients, the caller default each
 * case uses, and how an OpenFeature `EvaluationDetails` is compared with a case's `expected`.
 *
 * How spec fields read through an official OpenFeature client:
 * - `value`, `variant`, `reason`, `errorCode` are the details' own fields.
 * - `ruleId`, `killed` and `flagVersion` are Vane's OFREP `metadata` (`flagMetadata.ruleId`, `.killed`,
 *   `.version`). `ruleId` and `killed` describe a decision, so they are read from successful details only: on
 *   an error the web provider passes the flag's metadata through (e.g. a TYPE_MISMATCH the client detects on a
 *   killed flag still carries the server's `killed: true`).
 * - An OpenFeature client always takes a default and returns it on errors. A case without `defaultValue` is
 *   run with a default of the flag's type; when the result is an error, that value is the client's, not the
 *   server's, and counts as "no value".
 * - `flagVersion`: versions are assigned by the server (a flag's version is its definition's version plus its
 *   targeting's), so the spec's numbers cannot be reproduced through the admin API. A case that states a
 *   `flagVersion` is checked against the version the admin API reports for that flag.
 */
import type { JsonValue } from '@vane/engine'
import { actualOf, type CheckedResult, contextOf, expectedOf, type LoadedCase } from '../spec/load.js'

export type OfrepClient = 'server' | 'web'

export interface MappedCase {
  file: string
  name: string
  /** The clients that cannot run the case. */
  clients: readonly OfrepClient[]
  reason: string
}

const NON_OBJECT_CONTEXT =
  'non-object context: OFREP sends {"context": {...}} and an OpenFeature EvaluationContext is an object, so a string, number, boolean or array context cannot be sent'
const DEFAULT_CHECKED_AFTER_SERVER =
  'TYPE_MISMATCH before INVALID_CONTEXT: the OFREP server never sees the caller default, so the provider checks its type only after a successful evaluation; the server reports the context error first'
const EMPTY_KEY = 'empty flag key: it has no OFREP URL (POST /ofrep/v1/evaluate/flags/ is not the single-flag endpoint)'
const ARCHIVED_PREREQUISITE =
  'archived prerequisite: the server refuses to archive a flag a live flag lists as a prerequisite, so this state cannot exist on a server'
const PROTO_KEY_REFUSED =
  'a "__proto__" key in the context: the server refuses it in every JSON body (422 with its pointer) rather than evaluate a context other than the one sent; the engine and the Node SDK, which read contexts in memory, run the case'
const INHERITED_KEY =
  'ofrep-web-provider 0.4.3 looks flags up in a plain object, so "constructor", "toString" and "__proto__" find Object.prototype members: the caller default with reason DEFAULT instead of FLAG_NOT_FOUND (a client bug; the server never sees the key)'

/** Every spec case an OFREP client cannot run, by file and name, with the reason. */
export const MAPPED_CASES: readonly MappedCase[] = [
  {
    file: '06-attributes.json',
    name: 'admin: a "__proto__" key in the context does not supply other attributes',
    clients: ['server', 'web'],
    reason: PROTO_KEY_REFUSED,
  },
  {
    file: '01-flag-state.json',
    name: 'missing flag is reported before an invalid context',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '01-flag-state.json',
    name: 'archived flag is not found before the context is checked',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '01-flag-state.json',
    name: 'TYPE_MISMATCH is checked before the context',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '01-flag-state.json',
    name: 'missing flag: the empty key is not a flag',
    clients: ['server'],
    reason: EMPTY_KEY,
  },
  {
    file: '01-flag-state.json',
    name: 'missing flag: "constructor" is not a flag',
    clients: ['web'],
    reason: INHERITED_KEY,
  },
  {
    file: '01-flag-state.json',
    name: 'missing flag: "__proto__" is not a flag',
    clients: ['web'],
    reason: INHERITED_KEY,
  },
  {
    file: '01-flag-state.json',
    name: 'missing flag: "toString" is not a flag',
    clients: ['web'],
    reason: INHERITED_KEY,
  },
  {
    file: '02-prerequisites.json',
    name: 'archived prerequisite counts as missing and fails, whatever is listed',
    clients: ['server', 'web'],
    reason: ARCHIVED_PREREQUISITE,
  },
  {
    file: '10-context-errors.json',
    name: 'a string context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'an empty string context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'a number context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: '0 as context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'true as context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'false as context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'an empty array context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'an array holding a context is INVALID_CONTEXT',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'INVALID_CONTEXT returns the caller default',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'INVALID_CONTEXT without a default has no value',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'the context is checked before the kill switch',
    clients: ['server', 'web'],
    reason: NON_OBJECT_CONTEXT,
  },
  {
    file: '10-context-errors.json',
    name: 'a wrong default type is reported before the context',
    clients: ['server', 'web'],
    reason: DEFAULT_CHECKED_AFTER_SERVER,
  },
]

/** The mapping entry that keeps `client` from running `c`, if any. */
export function mappingFor(client: OfrepClient, c: { file: string; name: string }): MappedCase | undefined {
  return MAPPED_CASES.find((m) => m.file === c.file && m.name === c.name && m.clients.includes(client))
}

/** Problems with the table itself: entries naming no case, or non-object contexts left unmapped. */
export function checkMappingTable(cases: readonly LoadedCase[]): string[] {
  const problems: string[] = []
  for (const m of MAPPED_CASES)
    if (!cases.some((c) => c.file === m.file && c.name === m.name)) problems.push(`no case ${m.file}: ${m.name}`)
  for (const c of cases) {
    const context = contextOf(c)
    const nonObject =
      context !== undefined && context !== null && (typeof context !== 'object' || Array.isArray(context))
    for (const client of ['server', 'web'] as const)
      if (nonObject && mappingFor(client, c) === undefined)
        problems.push(`${c.file}: ${c.name} has a non-object context but is not mapped for ${client}`)
  }
  return problems
}

export type ValueType = 'boolean' | 'string' | 'number' | 'object'

/** The OpenFeature getter for a value: `object` covers objects and arrays. */
export function valueTypeOf(value: unknown): ValueType {
  const type = typeof value
  if (type === 'boolean' || type === 'string' || type === 'number') return type
  return 'object'
}

const ZERO: Record<ValueType, JsonValue> = { boolean: false, string: '', number: 0, object: {} }

/**
 * The default the client passes: the case's `defaultValue`, or (none given) a value of the flag's type in the
 * case's snapshot (boolean for a flag the snapshot lacks). `getter` is the typed getter it goes to.
 */
export function defaultFor(c: LoadedCase): { value: JsonValue; getter: ValueType; synthetic: boolean } {
  if (Object.hasOwn(c, 'defaultValue')) {
    const value = c.defaultValue as JsonValue
    return { value, getter: valueTypeOf(value), synthetic: false }
  }
  const type = c.effectiveSnapshot.flags[c.flag]?.type ?? 'boolean'
  return { value: ZERO[type], getter: type, synthetic: true }
}

/** The context the client sends: a spec `null` or absent context is an empty one. */
export function clientContextOf(c: LoadedCase): Record<string, unknown> {
  const context = contextOf(c)
  return context === undefined || context === null ? {} : (context as Record<string, unknown>)
}

/** `EvaluationDetails` as both OpenFeature SDKs return them (and as a page serialises them). */
export interface ClientDetails {
  value: unknown
  variant?: string | undefined
  reason?: string | undefined
  errorCode?: string | undefined
  flagMetadata?: Record<string, unknown> | undefined
}

/**
 * Both sides of the comparison for one case: `actual` from the client's details, `expected` from the case,
 * with `flagVersion` taken from the server (`versions`, as reported by the admin API). Compare by deep equality.
 */
export function compareDetails(
  c: LoadedCase,
  details: ClientDetails,
  versions: Record<string, number>,
): { actual: CheckedResult; expected: CheckedResult } {
  const metadata = details.flagMetadata ?? {}
  const synthetic = defaultFor(c).synthetic
  const decided = details.errorCode === undefined
  const result = {
    // without a caller default, an error's value is the client's stand-in default: "no value"
    ...(synthetic && details.errorCode !== undefined ? {} : { value: details.value }),
    variant: details.variant,
    reason: details.reason ?? '(no reason)',
    errorCode: details.errorCode,
    ruleId: decided && typeof metadata.ruleId === 'string' ? metadata.ruleId : undefined,
    flagVersion: typeof metadata.version === 'number' ? metadata.version : undefined,
    killed: decided && metadata.killed === true,
  }
  const stated = c.expected
  const expected = 'flagVersion' in stated ? { ...stated, flagVersion: versions[c.flag] ?? -1 } : stated
  return { actual: actualOf(result, expected), expected: expectedOf(expected) }
}

/** A stable key for grouping cases by the snapshot they run against. */
export function snapshotKey(c: LoadedCase): string {
  return JSON.stringify(c.effectiveSnapshot)
}
