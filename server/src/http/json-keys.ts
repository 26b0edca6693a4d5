/**
 * What `JSON.parse` accepts without a word and Vane refuses: duplicate keys (the last one silently wins, so two
 * readers of one body can disagree) and `__proto__` keys (an own property after parsing, dropped or turned into a
 * prototype by whatever copies the object next, so the body changes without notice).
 */
import { visit } from 'jsonc-parser'
import { type ProblemIssue, VaneError } from './errors.js'

/** RFC 6901 JSON Pointer of a path. */
export function jsonPointer(path: readonly (string | number)[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('')
}

/** Issues reported at most, so that a body made of duplicates does not make a huge answer. */
const MAX_ISSUES = 20

/**
 * Throws a 422 (`validation`) with the JSON Pointer of every duplicate or `__proto__` key of `text`, which
 * `value` was parsed from with `JSON.parse`.
 *
 * The common case costs one walk over the parsed value and one native regex scan over the text: a key's closing
 * quote is the only unescaped quote that JSON follows with `:` outside a string, so the scan's count can only
 * exceed the number of keys written (a string value starting with `:` adds one). When it equals the number of
 * keys parsed, no key was written twice. Otherwise the text is tokenized (jsonc-parser) to find which ones were.
 */
export function checkJsonKeys(text: string, value: unknown): void {
  if (typeof value !== 'object' || value === null) return
  let keys = 0
  let proto = false
  const stack: object[] = [value]
  while (stack.length > 0) {
    const node = stack.pop() as Record<string, unknown> | unknown[]
    if (Array.isArray(node)) {
      for (const item of node) if (typeof item === 'object' && item !== null) stack.push(item)
      continue
    }
    const names = Object.keys(node)
    keys += names.length
    for (const key of names) {
      if (key === '__proto__') proto = true
      const item = node[key]
      if (typeof item === 'object' && item !== null) stack.push(item)
    }
  }
  if (!proto && countKeyEnds(text) === keys) return
  const issues = findBadKeys(text)
  if (issues.length > 0)
    throw new VaneError(
      'validation',
      'the body has duplicate or "__proto__" keys: send each key once, and no "__proto__"',
      issues,
    )
}

/** Unescaped quotes followed by `:`: at least the number of keys written. */
function countKeyEnds(text: string): number {
  let count = 0
  // native indexOf to each quote, then a look at its neighbours: no regex match objects on the hot path
  for (let quote = text.indexOf('"'); quote !== -1; quote = text.indexOf('"', quote + 1)) {
    let next = quote + 1
    let ch = text.charCodeAt(next)
    while (ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) ch = text.charCodeAt(++next)
    if (ch !== 0x3a) continue
    let backslashes = 0
    for (let i = quote - 1; i >= 0 && text.charCodeAt(i) === 0x5c; i--) backslashes++
    if (backslashes % 2 === 0) count++
  }
  return count
}

/** The exact answer: every duplicate and `__proto__` key, with its pointer (keys compared after unescaping). */
function findBadKeys(text: string): ProblemIssue[] {
  const issues: ProblemIssue[] = []
  const seen: Set<string>[] = []
  try {
    visit(
      text,
      {
        onObjectBegin: () => {
          seen.push(new Set())
        },
        onObjectEnd: () => {
          seen.pop()
        },
        onObjectProperty: (name, _offset, _length, _line, _column, path) => {
          if (issues.length >= MAX_ISSUES) return
          const keys = seen[seen.length - 1] as Set<string>
          if (name === '__proto__')
            issues.push({ pointer: jsonPointer([...path(), name]), message: '"__proto__" is not accepted as a key' })
          else if (keys.has(name))
            issues.push({
              pointer: jsonPointer([...path(), name]),
              message: `the key "${name}" appears more than once`,
            })
          keys.add(name)
        },
      },
      { disallowComments: true, allowTrailingComma: false },
    )
  } catch (error) {
    // the tokenizer recurses: a body nested deeper than the stack allows cannot be checked, so it is refused
    if (error instanceof RangeError)
      throw new VaneError('bad_request', 'the body nests arrays and objects too deeply to be checked')
    throw error
  }
  return issues
}
