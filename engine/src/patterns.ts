/**
 * `matches` patterns: what a pattern may cost, and compiling it with its memory
 * bounded. Every client compiles every pattern of its snapshot, and evaluation
 * feeds context values to them, so size, compile time and cache are all capped.
 */
import { RE2JS } from 're2js'

/** Longest pattern accepted, in characters; refused before any parsing. */
export const MAX_PATTERN_LENGTH = 1024
/**
 * Largest compiled program accepted, in RE2 instructions. Compile time grows with
 * it (a counted repetition multiplies its operand: `(?:abc){1000}` is 3,000), so
 * it is estimated from the text first and nothing larger is ever compiled.
 */
export const MAX_PATTERN_INSTRUCTIONS = 10_000
/**
 * Most RE2 instructions all the patterns of one flag, or of one cohort, may add up
 * to: what one write may make every client compile. Estimated from the text, so a
 * write over it is refused before anything is compiled.
 */
export const MAX_ENTITY_PATTERN_INSTRUCTIONS = 50_000

/**
 * Budget of each pattern's lazy DFA, whose state cache grows with the inputs it
 * sees; re2js allows 8 MiB a pattern and starts the cache over when it is spent.
 */
export const PATTERN_DFA_BYTES = 256 * 1024
/** re2js refuses larger repeat counts while parsing, before compiling anything. */
const MAX_REPEAT = 1000

interface Group {
  /** Sizes of the group's alternatives closed so far, with their `|`. */
  alternatives: number
  /** Size of the current alternative. */
  sequence: number
  /** Instructions the group itself adds: two to capture, none otherwise. */
  own: number
}

/**
 * An upper estimate of the instructions `RE2JS.compile(pattern)` produces, from
 * the text alone, in one pass: every atom (character, class, escape, anchor) one,
 * a capturing group two more than its content, a quantifier one, and `{n,m}` its
 * operand `m` times plus `m - n`. Malformed patterns get some number: compiling
 * them fails in the parser, which is cheap.
 */
export function estimateInstructions(pattern: string): number {
  const stack: Group[] = []
  let group: Group = { alternatives: 0, sequence: 0, own: 0 }
  /** Size of the last atom or group, what a quantifier applies to. */
  let last = 0
  const atom = (size: number) => {
    group.sequence += size
    last = size
  }
  const n = pattern.length
  let i = 0
  while (i < n) {
    const c = pattern[i]!
    i++
    if (c === '\\') {
      const e = pattern[i++]
      if (e === 'Q') {
        // a literal run up to \E: one instruction a character
        const end = pattern.indexOf('\\E', i)
        const stop = end === -1 ? n : end
        atom(stop - i)
        i = end === -1 ? n : end + 2
      } else {
        if ((e === 'p' || e === 'P' || e === 'x') && pattern[i] === '{') i = skipPast(pattern, i, '}')
        else if (e === 'p' || e === 'P') i++
        atom(1)
      }
    } else if (c === '[') {
      i = classEnd(pattern, i)
      atom(1)
    } else if (c === '(') {
      if (pattern[i] === '?' && /^\?[a-zA-Z-]*\)/.test(pattern.slice(i, i + 16))) {
        // a flag setting such as (?i): no group, no instruction
        i = skipPast(pattern, i, ')')
        continue
      }
      stack.push(group)
      const capturing = pattern[i] !== '?' || pattern[i + 1] === 'P' || pattern[i + 1] === '<'
      group = { alternatives: 0, sequence: 0, own: capturing ? 2 : 0 }
      last = 0
      // past the group's prefix: (?:, (?i:, (?P<name>, (?<name>
      if (pattern[i] === '?') i = skipPast(pattern, i, capturing ? '>' : ':')
    } else if (c === ')') {
      const size = group.alternatives + group.sequence + group.own
      group = stack.pop() ?? { alternatives: 0, sequence: 0, own: 0 }
      atom(size)
    } else if (c === '|') {
      group.alternatives += group.sequence + 1
      group.sequence = 0
      last = 0
    } else if (c === '*' || c === '+' || c === '?') {
      group.sequence += 1
      if (pattern[i] === '?') i++ // lazy
    } else if (c === '{') {
      const m = /^(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 16))
      if (m === null) {
        atom(1) // a literal brace
        continue
      }
      i += m[0].length
      const min = Number(m[1])
      const max = m[2] === undefined ? min : m[3] === '' ? min + 1 : Number(m[3])
      if (min > MAX_REPEAT || max > MAX_REPEAT) continue
      // `min` copies of the operand, then `max - min` optional ones (one instruction each more); one is counted already
      group.sequence += last * (Math.max(max, 1) - 1) + (max - min)
      last = group.sequence
      if (pattern[i] === '?') i++
    } else atom(1)
  }
  while (stack.length > 0) {
    const size = group.alternatives + group.sequence + group.own
    group = stack.pop()!
    group.sequence += size
  }
  // the whole match is captured, and ends in a match instruction
  return group.alternatives + group.sequence + 3
}

/** Index just past the next `close` (or the end). */
function skipPast(pattern: string, from: number, close: string): number {
  const end = pattern.indexOf(close, from)
  return end === -1 ? pattern.length : end + 1
}

/** Index just past the `]` closing a class whose `[` is before `from`. */
function classEnd(pattern: string, from: number): number {
  let i = from
  if (pattern[i] === '^') i++
  if (pattern[i] === ']') i++ // a leading ] is a literal
  while (i < pattern.length) {
    const c = pattern[i]!
    if (c === '\\') i += 2
    else if (c === '[' && pattern[i + 1] === ':') i = skipPast(pattern, i + 2, ':]') + 1
    else if (c === ']') return i + 1
    else i++
  }
  return i
}

const tooLarge = (size: number) =>
  `pattern too large: about ${size} RE2 instructions, at most ${MAX_PATTERN_INSTRUCTIONS} (a counted repetition such as {1000} copies what it repeats)`

/** Why `pattern` is refused by its text alone (length, estimated size), without compiling it. */
export function patternSizeProblem(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH)
    return `a pattern is at most ${MAX_PATTERN_LENGTH} characters long, this one ${pattern.length}: match a long list with "in", "startsWith" or "endsWith" instead`
  const estimate = estimateInstructions(pattern)
  return estimate > MAX_PATTERN_INSTRUCTIONS ? tooLarge(estimate) : undefined
}

/** A pattern found in a flag or cohort, with its path there. */
export interface PatternAt {
  pattern: string
  path: (string | number)[]
}

/**
 * What is wrong with the patterns of one flag or cohort, each with its path: first their total estimated size
 * against {@link MAX_ENTITY_PATTERN_INSTRUCTIONS} (reported at the pattern that goes over, nothing compiled);
 * within it, each pattern compiled. Patterns refused by {@link patternSizeProblem} are left to their own check.
 */
export function entityPatternProblems(
  patterns: readonly PatternAt[],
): { path: (string | number)[]; message: string }[] {
  let total = 0
  for (const { pattern, path } of patterns) {
    if (patternSizeProblem(pattern) !== undefined) continue
    total += estimateInstructions(pattern)
    if (total > MAX_ENTITY_PATTERN_INSTRUCTIONS)
      return [
        {
          path,
          message: `the patterns of one flag or cohort add up to at most ${MAX_ENTITY_PATTERN_INSTRUCTIONS} RE2 instructions, and this one takes them past it (about ${total} so far): match long lists with "in", "startsWith" or "endsWith", or share a cohort`,
        },
      ]
  }
  const problems: { path: (string | number)[]; message: string }[] = []
  for (const { pattern, path } of patterns) {
    if (patternSizeProblem(pattern) !== undefined) continue
    const problem = patternProblem(pattern)
    if (problem !== undefined) problems.push({ path, message: problem })
  }
  return problems
}

/** Why `pattern` is refused, or undefined when it compiles within the limits. */
export function patternProblem(pattern: string): string | undefined {
  const sized = patternSizeProblem(pattern)
  if (sized !== undefined) return sized
  let compiled: RE2JS
  try {
    compiled = RE2JS.compile(pattern)
  } catch (error) {
    return `invalid RE2 pattern: ${error instanceof Error ? error.message : String(error)}`
  }
  const size = compiled.programSize()
  return size > MAX_PATTERN_INSTRUCTIONS ? tooLarge(size) : undefined
}

/** The fields re2js's typings expose on a pattern's lazy DFA; no documented option sets them. */
interface DfaBudget {
  maxMem?: unknown
  stateBudget?: unknown
  memBudget?: unknown
}

function dfaOf(compiled: RE2JS): DfaBudget | undefined {
  return (compiled as { re2Input?: { dfa?: DfaBudget } }).re2Input?.dfa
}

/**
 * Compiles a pattern that passed {@link patternProblem}, with its DFA cache held
 * to {@link PATTERN_DFA_BYTES}. A re2js whose internals differ (the SDK lets its
 * users pick a re2js 2.x) keeps its own budget rather than failing.
 */
export function compilePattern(pattern: string): RE2JS {
  const compiled = RE2JS.compile(pattern)
  const dfa = dfaOf(compiled)
  if (dfa !== undefined && typeof dfa.stateBudget === 'number' && typeof dfa.memBudget === 'number') {
    dfa.maxMem = PATTERN_DFA_BYTES
    dfa.stateBudget = PATTERN_DFA_BYTES
    dfa.memBudget = PATTERN_DFA_BYTES
  }
  return compiled
}

/** The DFA budget left to a compiled pattern and its total, in estimated bytes; for tests. */
export function patternCacheBudget(compiled: RE2JS): { left: number; total: number } {
  const dfa = dfaOf(compiled)
  return { left: Number(dfa?.memBudget), total: Number(dfa?.stateBudget) }
}
