import { keySchema } from '@vane/engine/schema'
import type { Context } from 'hono'
import type { z } from 'zod'
import { type ProblemIssue, VaneError } from './errors.js'

function pointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
}

export function zodIssues(error: z.ZodError): ProblemIssue[] {
  return error.issues.map((i) => ({ pointer: pointer(i.path), message: i.message }))
}

/** Parses and validates a JSON body: 415 for another media type, 400 for broken JSON, 422 listing every bad field. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(.+\+)?json\b/i.test(type))
    throw new VaneError('unsupported_media_type', `send JSON with "Content-Type: application/json", not "${type}"`)
  const text = await c.req.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch (error) {
    throw new VaneError('bad_request', `the body is not valid JSON: ${error instanceof Error ? error.message : error}`)
  }
  return validate(schema, body)
}

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
