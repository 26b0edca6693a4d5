const C1 = 0xcc9e2d51
const C2 = 0x1b873593

// The running state of one hash. JavaScript runs one hash at a time, so module
// state avoids allocating a closure or an object per call on the hot path.
let h = 0
let block = 0
let filled = 0
let length = 0

function pushByte(byte: number): void {
  block |= byte << (filled << 3)
  length++
  if (++filled === 4) {
    let k = Math.imul(block, C1)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, C2)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
    block = 0
    filled = 0
  }
}

/** Feeds the UTF-8 bytes of `input`; lone surrogates encode as U+FFFD, as `TextEncoder` does. */
function feed(input: string): void {
  for (let i = 0; i < input.length; i++) {
    let code = input.charCodeAt(i)
    if (code < 0x80) {
      pushByte(code)
      continue
    }
    if (code < 0x800) {
      pushByte(0xc0 | (code >> 6))
      pushByte(0x80 | (code & 0x3f))
      continue
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = input.charCodeAt(i + 1)
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00)
        i++
        pushByte(0xf0 | (code >> 18))
        pushByte(0x80 | ((code >> 12) & 0x3f))
        pushByte(0x80 | ((code >> 6) & 0x3f))
        pushByte(0x80 | (code & 0x3f))
        continue
      }
      code = 0xfffd
    }
    pushByte(0xe0 | (code >> 12))
    pushByte(0x80 | ((code >> 6) & 0x3f))
    pushByte(0x80 | (code & 0x3f))
  }
}

function start(seed: number): void {
  h = seed >>> 0
  block = 0
  filled = 0
  length = 0
}

function finish(): number {
  if (filled > 0) {
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
 * MurmurHash3 x86 32-bit over the UTF-8 bytes of `input`, encoded on the fly so
 * that hashing allocates nothing.
 */
export function murmur3(input: string, seed = 0): number {
  start(seed)
  feed(input)
  return finish()
}

/** Number of buckets; rollout weights are thousandths of a percent. */
export const BUCKETS = 100_000

/** The bucket (0–99999) of `value` under `salt`: murmur3(`${salt}/${value}`) mod 100000, without building that string. */
export function bucketOf(salt: string, value: string): number {
  start(0)
  feed(salt)
  pushByte(0x2f) // "/"
  feed(value)
  return finish() % BUCKETS
}
