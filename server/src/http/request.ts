import { keySchema } from '@vane/engine/schema'
import type { Context } from 'hono'
import type { z } from 'zod'
import { isVaneError, type ProblemIssue, VaneError } from './errors.js'
import { checkJsonKeys } from './json-keys.js'

function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
}

/** Zod's issues as problem+json issues, each with an RFC 6901 JSON Pointer. */
export function zodIssues(error: z.ZodError): ProblemIssue[] {
  return error.issues.flatMap((i) =>
    // zod reports unknown fields at their parent; point at each field instead
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ pointer: pointer([...i.path, k]), message: `unknown field "${k}"` }))
      : [{ pointer: pointer(i.path), message: i.message }],
  )
}

/** Deeper bodies are refused: recursive consumers (zod, JSON.stringify) would overflow the stack. */
export const MAX_JSON_DEPTH = 128

function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 0x5c) i++
      else if (ch === 0x22) inString = false
    } else if (ch === 0x22) inString = true
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true
    } else if (ch === 0x5d || ch === 0x7d) depth--
  }
  return false
}

/** Escapes JSON text may carry that PostgreSQL's text and jsonb cannot store: NUL, and unpaired surrogates. */
const UNSTORABLE =
  /\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const badText = (text: string) => text.includes('\0') || LONE_SURROGATE.test(text)

/** Where in a parsed body the unstorable strings (values or keys) are. */
function unstorablePaths(value: unknown, path: (string | number)[]): (string | number)[][] {
  if (typeof value === 'string') return badText(value) ? [path] : []
  if (typeof value !== 'object' || value === null) return []
  if (Array.isArray(value)) return value.flatMap((v, i) => unstorablePaths(v, [...path, i]))
  return Object.entries(value).flatMap(([k, v]) => (badText(k) ? [[...path, k]] : unstorablePaths(v, [...path, k])))
}

/** The client went away before its body arrived (a socket closed mid-body): its error, not the server's. */
export const clientClosed = () =>
  new VaneError('client_closed', 'the client closed the connection before sending the whole request body')

/**
 * The request body as text. A body cut short by the client is {@link clientClosed} (499), never a 5xx: the runtime
 * reports it as a stream error (on Node an `ECONNRESET` "aborted"), which would otherwise read as a database
 * connection reset (503) or an unexpected error (500), and inflate the alerts on server errors.
 */
export async function readText(c: Context): Promise<string> {
  try {
    return await c.req.text()
  } catch (error) {
    throw asClientClosed(c, error)
  }
}

/** An error from reading the request body, as {@link clientClosed} when the client went away. */
export function asClientClosed(c: Context, error: unknown): unknown {
  if (isVaneError(error)) return error // the body limit's 413
  return c.req.raw.signal.aborted || isAbort(error) ? clientClosed() : error
}

function isAbort(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown; cause?: { code?: unknown } } | null
  return (
    e?.name === 'AbortError' ||
    e?.code === 'ECONNRESET' ||
    e?.code === 'ECONNABORTED' ||
    e?.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    e?.cause?.code === 'ECONNRESET'
  )
}

/** Parses and validates a JSON body: 415 for another media type, 400 for broken JSON, 422 listing every bad field. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(.+\+)?json\b/i.test(type))
    throw new VaneError('unsupported_media_type', `send JSON with "Content-Type: application/json", not "${type}"`)
  const text = await readText(c)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new VaneError('bad_request', `the body is not valid JSON: ${error instanceof Error ? error.message : error}`)
  }
  if (nestsDeeperThan(text, MAX_JSON_DEPTH))
    throw new VaneError('bad_request', `the body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`)
  checkJsonKeys(text, body)
  // PostgreSQL's text and jsonb hold neither NUL nor unpaired surrogates: refuse them on every store alike
  if (UNSTORABLE.test(text))
    throw new VaneError(
      'validation',
      'the body contains a NUL character or an unpaired UTF-16 surrogate, which cannot be stored',
      unstorablePaths(body, []).map((path) => ({
        pointer: pointer(path),
        message: 'contains NUL or an unpaired surrogate',
      })),
    )
  return validate(schema, body)
}

/** Validates a value against a schema: 422 listing every bad field (pointers into `what`). */
export function validate<S extends z.ZodType>(schema: S, value: unknown, what = 'the request body'): z.infer<S> {
  const parsed = schema.safeParse(value)
  if (!parsed.success)
    throw new VaneError(
      'validation',
      `${what} is invalid (${parsed.error.issues.length} problem(s))`,
      zodIssues(parsed.error),
    )
  return parsed.data
}

/** `If-Match: "3"`, `W/"3"`, `3` or `*`; undefined when absent. */
export function ifMatch(c: Context): number | '*' | undefined {
  const raw = c.req.header('if-match')?.trim()
  if (raw === undefined || raw === '') return undefined
  if (raw === '*') return '*'
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(raw)
  if (match === null) throw new VaneError('bad_request', `If-Match must be an ETag this API sent, like "3"; got ${raw}`)
  return Number(match[1])
}

export const etag = (version: number) => `"${version}"`

/** Keys from the path are held to the same rule as keys in bodies. */
export function validKey(key: string): string {
  return validate(keySchema, key, 'the key in the path')
}
