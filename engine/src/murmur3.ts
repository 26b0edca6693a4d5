const C1 = 0xcc9e2d51
const C2 = 0x1b873593

function mix(h: number, block: number): number {
  let k = Math.imul(block, C1)
  k = (k << 15) | (k >>> 17)
  h ^= Math.imul(k, C2)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/**
 * MurmurHash3 x86 32-bit over the UTF-8 bytes of `a + b + c`, encoded on the
 * fly: no string is built (concatenation would leave V8 a cons string that is
 * slow to read) and nothing is allocated. Runs of four ASCII characters are
 * mixed as one word, aligned or not. Lone surrogates encode as U+FFFD, as
 * `TextEncoder` does.
 */
function hashParts(a: string, b: string, c: string, seed: number): number {
  let h = seed >>> 0
  let block = 0
  let shift = 0
  let length = 0
  for (let part = 0; part < 3; part++) {
    const input = part === 0 ? a : part === 1 ? b : c
    const n = input.length
    for (let i = 0; i < n; i++) {
      let code = input.charCodeAt(i)
      if (code < 0x80 && i + 3 < n) {
        const c1 = input.charCodeAt(i + 1)
        const c2 = input.charCodeAt(i + 2)
        const c3 = input.charCodeAt(i + 3)
        if ((c1 | c2 | c3) < 0x80) {
          const word = code | (c1 << 8) | (c2 << 16) | (c3 << 24)
          if (shift === 0) h = mix(h, word)
          else {
            h = mix(h, block | (word << shift))
            block = word >>> (32 - shift)
          }
          length += 4
          i += 3
          continue
        }
      }
      let bytes: number
      let count: number
      if (code < 0x80) {
        bytes = code
        count = 1
      } else if (code < 0x800) {
        bytes = 0xc0 | (code >> 6) | ((0x80 | (code & 0x3f)) << 8)
        count = 2
      } else {
        if (code >= 0xd800 && code <= 0xdfff) {
          const next = input.charCodeAt(i + 1)
          if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00)
            i++
          } else code = 0xfffd
        }
        if (code >= 0x10000) {
          bytes =
            0xf0 |
            (code >> 18) |
            ((0x80 | ((code >> 12) & 0x3f)) << 8) |
            ((0x80 | ((code >> 6) & 0x3f)) << 16) |
            ((0x80 | (code & 0x3f)) << 24)
          count = 4
        } else {
          bytes = 0xe0 | (code >> 12) | ((0x80 | ((code >> 6) & 0x3f)) << 8) | ((0x80 | (code & 0x3f)) << 16)
          count = 3
        }
      }
      for (let j = 0; j < count; j++) {
        block |= ((bytes >>> (j << 3)) & 0xff) << shift
        length++
        shift += 8
        if (shift === 32) {
          h = mix(h, block)
          block = 0
          shift = 0
        }
      }
    }
  }
  if (shift > 0) {
    let k = Math.imul(block, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
/** MurmurHash3 x86 32-bit over the UTF-8 bytes of `input`. */
export function murmur3(input: string, seed = 0): number {
  return hashParts(input, '', '', seed)
}

/** Number of buckets; rollout weights are thousandths of a percent. */
export const BUCKETS = 100_000

/** The bucket (0–99999) of `value` under `salt`: murmur3(`${salt}/${value}`) mod 100000. */
export function bucketOf(salt: string, value: string): number {
  return hashParts(salt, '/', value, 0) % BUCKETS
}

/** The hash state after an ASCII prefix: full blocks mixed, up to three bytes pending. */
interface PrefixState {
  h: number
  pending: number
  count: number
  length: number
}

function prefixState(prefix: string): PrefixState | undefined {
  let h = 0
  let i = 0
  for (let j = 0; j < prefix.length; j++) if (prefix.charCodeAt(j) >= 0x80) return undefined
  const end = prefix.length - (prefix.length & 3)
  for (; i < end; i += 4)
    h = mix(
      h,
      prefix.charCodeAt(i) |
        (prefix.charCodeAt(i + 1) << 8) |
        (prefix.charCodeAt(i + 2) << 16) |
        (prefix.charCodeAt(i + 3) << 24),
    )
  let pending = 0
  for (let j = 0; i < prefix.length; i++, j++) pending |= prefix.charCodeAt(i) << (j * 8)
  return { h, pending, count: prefix.length & 3, length: prefix.length }
}

/** Continues an ASCII prefix's hash over an ASCII `value`; -1 as soon as `value` is not ASCII. */
function hashAsciiAfter(state: PrefixState, value: string): number {
  let h = state.h
  let block = state.pending
  const shift = state.count << 3
  const n = value.length
  const end = n - (n & 3)
  let i = 0
  for (; i < end; i += 4) {
    const c0 = value.charCodeAt(i)
    const c1 = value.charCodeAt(i + 1)
    const c2 = value.charCodeAt(i + 2)
    const c3 = value.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) >= 0x80) return -1
    const word = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)
    if (shift === 0) h = mix(h, word)
    else {
      h = mix(h, block | (word << shift))
      block = word >>> (32 - shift)
    }
  }
  let filled = state.count
  for (; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c >= 0x80) return -1
    block |= c << (filled << 3)
    if (++filled === 4) {
      h = mix(h, block)
      block = 0
      filled = 0
    }
  }
  const length = state.length + n
  if ((length & 3) > 0) {
    let k = Math.imul(block, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * `bucketOf` for one salt, compiled: the salt and "/" are hashed once, and
 * ASCII values (nearly every key) continue from there in a tight loop; any
 * other value takes the general path. Same buckets as `bucketOf`.
 */
export function bucketer(salt: string): (value: string) => number {
  const state = prefixState(`${salt}/`)
  if (state === undefined) return (value) => bucketOf(salt, value)
  return (value) => {
    const hash = hashAsciiAfter(state, value)
    return hash === -1 ? bucketOf(salt, value) : hash % BUCKETS
  }
}
