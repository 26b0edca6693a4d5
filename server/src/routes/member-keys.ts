/**
 * Reading a member upload of up to millions of keys without holding the event loop: a JSON body is checked
 * key by key in slices (one schema pass over a million items takes seconds), and a `text/plain` body (one key
 * a line) is read and checked as it arrives, never whole.
 */
import type { Context } from 'hono'
import type { MembersInput } from '../control/schemas.js'
import type { ProblemIssue } from '../http/errors.js'
import { VaneError } from '../http/errors.js'
import { yieldToEventLoop } from '../storage/query-helpers.js'

/** Most keys in one list of one upload. */
export const MAX_MEMBER_KEYS = 5_000_000
/** Longest member key, in UTF-16 code units. */
export const MAX_MEMBER_KEY_LENGTH = 1024
/** Problems listed in one answer; a broken export would otherwise list a million. */
const MAX_ISSUES = 100
/** Milliseconds of checking between two turns of the event loop. */
const SLICE_MS = 8

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Why `key` cannot be a member key, or undefined. */
function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'a member key is a string'
  if (key.length === 0) return 'a member key is not empty'
  if (key.length > MAX_MEMBER_KEY_LENGTH) return `a member key is at most ${MAX_MEMBER_KEY_LENGTH} characters long`
  // PostgreSQL's text holds neither NUL nor unpaired surrogates: refuse them on every store alike
  if (key.includes('\0') || LONE_SURROGATE.test(key)) return 'contains NUL or an unpaired surrogate'
  return undefined
}

/** Yields to the event loop once a slice's time is spent. */
function slicer(): () => Promise<void> | undefined {
  let started = performance.now()
  return () => {
    if (performance.now() - started < SLICE_MS) return undefined
    return yieldToEventLoop().then(() => {
      started = performance.now()
    })
  }
}

function refuse(issues: ProblemIssue[]): never {
  throw new VaneError(
    'validation',
    `the member keys are invalid (${issues.length}${issues.length === MAX_ISSUES ? '+' : ''} problem(s))`,
    issues,
  )
}

/** Checks one list of a JSON body in slices; `issues` collects what is wrong. */
async function checkList(list: string, value: unknown, issues: ProblemIssue[]): Promise<string[] | undefined> {
  if (!Array.isArray(value)) {
    issues.push({ pointer: `/${list}`, message: 'an array of member keys' })
    return undefined
  }
  if (value.length > MAX_MEMBER_KEYS) {
    issues.push({ pointer: `/${list}`, message: `at most ${MAX_MEMBER_KEYS} keys per request; send the rest after` })
    return undefined
  }
  const tick = slicer()
  for (let i = 0; i < value.length && issues.length < MAX_ISSUES; i++) {
    const problem = keyProblem(value[i])
    if (problem !== undefined) issues.push({ pointer: `/${list}/${i}`, message: problem })
    if ((i & 4095) === 4095) await tick()
  }
  return value as string[]
}

/** `{ "include": [...], "exclude": [...] }`, parsed at once and checked in slices. */
async function readJsonKeys(c: Context): Promise<MembersInput> {
  let body: unknown
  try {
    body = JSON.parse(await c.req.text())
  } catch (error) {
    throw new VaneError('bad_request', `the body is not valid JSON: ${error instanceof Error ? error.message : error}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    refuse([{ pointer: '', message: 'an object with "include" and/or "exclude" keys' }])
  const issues: ProblemIssue[] = []
  const input: MembersInput = {}
  for (const field of Object.keys(body))
    if (field !== 'include' && field !== 'exclude')
      issues.push({ pointer: `/${field}`, message: `unknown field "${field}"` })
  for (const list of ['include', 'exclude'] as const) {
    if (!Object.hasOwn(body, list)) continue
    const keys = await checkList(list, (body as Record<string, unknown>)[list], issues)
    if (keys !== undefined) input[list] = keys
  }
  if (issues.length === 0 && input.include === undefined && input.exclude === undefined)
    issues.push({ pointer: '', message: 'give "include" or "exclude" keys' })
  if (issues.length > 0) refuse(issues)
  return input
}

/** One key a line (`\n` or `\r\n`; blank lines skipped), into the list `?list=` names, read as it arrives. */
async function readTextKeys(c: Context): Promise<MembersInput> {
  const list = c.req.query('list') ?? 'include'
  if (list !== 'include' && list !== 'exclude')
    throw new VaneError('bad_request', `?list= is "include" or "exclude", not "${list}"`)
  const keys: string[] = []
  const issues: ProblemIssue[] = []
  let line = 0
  const take = (raw: string) => {
    line++
    const key = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    if (key === '') return
    const problem = keyProblem(key)
    if (problem !== undefined) {
      if (issues.length < MAX_ISSUES)
        issues.push({ pointer: `/${list}/${keys.length}`, message: `line ${line}: ${problem}` })
    } else if (keys.length === MAX_MEMBER_KEYS) {
      if (issues.length < MAX_ISSUES)
        issues.push({
          pointer: `/${list}`,
          message: `at most ${MAX_MEMBER_KEYS} keys per request; send the rest after`,
        })
    } else keys.push(key)
  }
  const body = c.req.raw.body
  if (body !== null) {
    // fatal: a byte sequence that is not UTF-8 is refused rather than turned into U+FFFD keys
    const decoder = new TextDecoder('utf-8', { fatal: true })
    let rest = ''
    const tick = slicer()
    try {
      // chunks that arrived already come without a turn of the event loop in between: pause now and then
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        const text = rest + decoder.decode(chunk, { stream: true })
        const lines = text.split('\n')
        rest = lines.pop() ?? ''
        for (const raw of lines) take(raw)
        // a line longer than any key is refused now rather than gathered chunk after chunk
        if (rest.length > MAX_MEMBER_KEY_LENGTH + 1)
          refuse([{ pointer: `/${list}/${keys.length}`, message: `line ${line + 1}: ${keyProblem(rest)}` }])
        await tick()
      }
      rest += decoder.decode()
    } catch (error) {
      if (error instanceof TypeError && /encoded|decode/i.test(error.message))
        throw new VaneError('bad_request', 'the body is not UTF-8 text')
      throw error
    }
    take(rest)
  }
  if (issues.length > 0) refuse(issues)
  if (keys.length === 0) refuse([{ pointer: `/${list}`, message: 'give at least one key, one a line' }])
  return { [list]: keys }
}

/**
 * The keys of a member upload: JSON (`application/json`) or one key a line (`text/plain`, into `?list=`,
 * default `include`). 415 for another media type, 422 listing the first bad keys.
 */
export function readMemberKeys(c: Context): Promise<MembersInput> {
  const type = c.req.header('content-type') ?? ''
  if (/^text\/plain\b/i.test(type)) return readTextKeys(c)
  if (/^application\/(.+\+)?json\b/i.test(type)) return readJsonKeys(c)
  throw new VaneError(
    'unsupported_media_type',
    `send keys as JSON ("Content-Type: application/json") or one a line ("Content-Type: text/plain"), not "${type}"`,
  )
}
