/**
 * @module test/spec/load
 * Loads the language-neutral conformance spec (`test/spec/*.json`, described in
 * `test/spec/README.md`) so that every runner — engine, Node SDK, server OFREP,
 * browser SDK — reads the same cases and checks them the same way.
 *
 * @example
 * import { actualOf, contextOf, expectedOf, loadSpec } from '../spec/load.js'
 * for (const file of loadSpec())
 *   for (const c of file.cases) {
 *     const result = evaluator.evaluate(c.flag, contextOf(c), c.defaultValue)
 *     expect(actualOf(result, c.expected)).toStrictEqual(expectedOf(c.expected))
 *   }
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { JsonValue, Snapshot } from '@vane/engine'

/** The directory holding the spec files. */
export const SPEC_DIR = dirname(fileURLToPath(import.meta.url))

/** Spec files are named `NN-section.json`; `section` is the name without prefix and extension. */
export const SPEC_FILE_PATTERN = /^(\d{2})-([a-z0-9-]+)\.json$/

/** What a case expects. `value` absent means the result has no value (an error without a caller default). */
export interface SpecExpected {
  value?: JsonValue
  variant?: string
  reason: string
  errorCode?: string
  ruleId?: string
  flagVersion?: number
  killed?: true
}

/** One evaluation: `evaluate(flag, context, defaultValue)` against the case's snapshot or the file's. */
export interface SpecCase {
  name: string
  description?: string
  flag: string
  /** Absent means no context at all (`undefined`); `null` is a JSON null. */
  context?: JsonValue
  /** Absent means no default is passed. */
  defaultValue?: JsonValue
  /** Overrides the file's snapshot for this case only. */
  snapshot?: Snapshot
  expected: SpecExpected
}

export interface SpecFile {
  /** File name, e.g. `01-flag-state.json`. */
  file: string
  section: string
  description: string
  snapshot: Snapshot
  cases: SpecCase[]
}

/** A case together with the file it came from and the snapshot it runs against. */
export interface LoadedCase extends SpecCase {
  file: string
  section: string
  /** The case's own snapshot when it has one, otherwise the file's. */
  effectiveSnapshot: Snapshot
}

const FILE_KEYS = new Set(['section', 'description', 'snapshot', 'cases'])
const CASE_KEYS = new Set(['name', 'description', 'flag', 'context', 'defaultValue', 'snapshot', 'expected'])
const EXPECTED_KEYS = new Set(['value', 'variant', 'reason', 'errorCode', 'ruleId', 'flagVersion', 'killed'])

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys(where: string, value: Record<string, unknown>, allowed: Set<string>): void {
  for (const key of Object.keys(value)) if (!allowed.has(key)) throw new Error(`${where}: unknown field "${key}"`)
}

/** Checks the shape of one parsed spec file; throws with the file and case on the first problem. */
function checkFile(file: string, data: unknown): SpecFile {
  if (!isObject(data)) throw new Error(`${file}: not a JSON object`)
  checkKeys(file, data, FILE_KEYS)
  const { section, description, snapshot, cases } = data
  if (typeof section !== 'string' || typeof description !== 'string')
    throw new Error(`${file}: needs section and description`)
  if (!isObject(snapshot)) throw new Error(`${file}: needs a snapshot`)
  if (!Array.isArray(cases) || cases.length === 0) throw new Error(`${file}: needs a non-empty cases array`)
  cases.forEach((c: unknown, i) => {
    const where = `${file} case ${i}`
    if (!isObject(c)) throw new Error(`${where}: not an object`)
    checkKeys(where, c, CASE_KEYS)
    if (typeof c.name !== 'string' || c.name === '') throw new Error(`${where}: needs a name`)
    if (typeof c.flag !== 'string') throw new Error(`${where} (${c.name}): needs a flag`)
    if (!isObject(c.expected)) throw new Error(`${where} (${c.name}): needs expected`)
    checkKeys(`${where} (${c.name}) expected`, c.expected, EXPECTED_KEYS)
    if (typeof c.expected.reason !== 'string') throw new Error(`${where} (${c.name}): expected needs a reason`)
    if ('killed' in c.expected && c.expected.killed !== true)
      throw new Error(`${where} (${c.name}): killed is only ever true`)
  })
  return data as unknown as SpecFile
}

/** Every spec file, in file-name order. */
export function loadSpec(dir: string = SPEC_DIR): SpecFile[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({ ...checkFile(file, JSON.parse(readFileSync(join(dir, file), 'utf8'))), file }))
}

/** Every case of every file, flattened, with the snapshot it runs against. */
export function loadCases(dir: string = SPEC_DIR): LoadedCase[] {
  return loadSpec(dir).flatMap((f) =>
    f.cases.map((c) => ({ ...c, file: f.file, section: f.section, effectiveSnapshot: c.snapshot ?? f.snapshot })),
  )
}

/** The context to pass: `undefined` when the case has no `context` field. */
export function contextOf(c: SpecCase): unknown {
  return Object.hasOwn(c, 'context') ? c.context : undefined
}

/** The fields a result is judged on; see `actualOf`. */
export interface CheckedResult {
  value?: unknown
  variant?: string
  reason: string
  errorCode?: string
  ruleId?: string
  flagVersion?: number
  killed?: true
}

/** The subset of a result compared with a case's `expected`; compare with `expectedOf(expected)` by deep equality. */
export function actualOf(
  result: {
    value?: unknown
    variant?: string | undefined
    reason: string
    errorCode?: string | undefined
    ruleId?: string | undefined
    flagVersion?: number | undefined
    killed?: boolean | undefined
  },
  expected: SpecExpected,
): CheckedResult {
  const out: CheckedResult = { reason: result.reason }
  // value, variant, errorCode and ruleId are always compared: absent in expected means absent in the result
  if (result.value !== undefined) out.value = result.value
  if (result.variant !== undefined) out.variant = result.variant
  if (result.errorCode !== undefined) out.errorCode = result.errorCode
  if (result.ruleId !== undefined) out.ruleId = result.ruleId
  // flagVersion only when the case states it
  if ('flagVersion' in expected) out.flagVersion = result.flagVersion as number
  if (result.killed === true) out.killed = true
  return out
}

/** The expected side of the comparison, in the same shape as `actualOf`. */
export function expectedOf(expected: SpecExpected): CheckedResult {
  const { value, ...rest } = expected
  return 'value' in expected ? { value, ...rest } : rest
}
