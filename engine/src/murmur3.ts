const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** One MurmurHash3 x86-32 round: mixes a 32-bit block into the running hash. */
export function murmur3Round(h: number, block: number): number {
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
          if (shift === 0) h = murmur3Round(h, word)
          else {
            h = murmur3Round(h, block | (word << shift))
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
          h = murmur3Round(h, block)
          block = 0
          shift = 0
        }
      }
    }
  }
  return murmur3Finish(h, block, length)
}

/**
 * MurmurHash3 x86-32's end: mixes in the last 1–3 bytes (`block`, when `length` is not a multiple of
 * four), then the length, and avalanches. Unsigned.
 */
export function murmur3Finish(h: number, block: number, length: number): number {
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

// The last value bucketed, as little-endian 32-bit words: evaluating many flags
// for one context (evaluateAll, or one request's flags) reads its key's
// characters once. `held` names the value only while the words are whole: it is
// cleared before they are overwritten and set once a value was read to the end.
// Hashing is synchronous, so nothing can run between capturing and use.
const HELD_LIMIT = 256
const heldWords = new Int32Array(HELD_LIMIT / 4 + 1)
const heldBytes = new Uint8Array(heldWords.buffer)
let held: string | undefined
let heldLength = 0

// From about this length the encoder copies a value faster than charCodeAt reads
// it (one native call against a check per character, which costs more still on a
// string built by concatenation). Its bytes are read back as words, which needs a
// little-endian platform: all common ones are.
const ENCODE_FROM = 32
// A Web API every runtime the engine targets has (Node, browsers, edge workers); declared
// here because the engine compiles without DOM types, so that nothing else slips in.
declare const TextEncoder: new () => {
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number }
}
const encoder = new TextEncoder()
const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * `bucketOf` for one salt, compiled: the salt and "/" are hashed once, and
 * ASCII values (nearly every key) continue from that state word by word; any
 * other value takes the general path. Same buckets as `bucketOf`.
 */
export class Bucketer {
  private readonly ascii: boolean
  /** Hash state after `${salt}/`: full blocks mixed, `count` bytes pending in `pending`. */
  private readonly h: number
  private readonly pending: number
  private readonly count: number
  private readonly length: number

  constructor(readonly salt: string) {
    const prefix = `${salt}/`
    let ascii = true
    for (let j = 0; j < prefix.length; j++) if (prefix.charCodeAt(j) >= 0x80) ascii = false
    let h = 0
    let i = 0
    const end = prefix.length - (prefix.length & 3)
    for (; ascii && i < end; i += 4)
      h = murmur3Round(
        h,
        prefix.charCodeAt(i) |
          (prefix.charCodeAt(i + 1) << 8) |
          (prefix.charCodeAt(i + 2) << 16) |
          (prefix.charCodeAt(i + 3) << 24),
      )
    let pending = 0
    for (let j = 0; ascii && i < prefix.length; i++, j++) pending |= prefix.charCodeAt(i) << (j * 8)
    this.ascii = ascii
    this.h = h
    this.pending = pending
    this.count = prefix.length & 3
    this.length = prefix.length
  }

  /** The bucket (0–99999) of `value`. */
  bucket(value: string): number {
    if (this.ascii) {
      if (value === held) return this.fromHeld()
      const n = value.length
      if (n >= ENCODE_FROM && n <= HELD_LIMIT && littleEndian) {
        held = undefined // the words are about to change: until they are whole, they hold no value
        const { read, written } = encoder.encodeInto(value, heldBytes)
        // one byte per character: ASCII throughout
        if (read === n && written === n) {
          held = value
          heldLength = n
          return this.fromHeld()
        }
      } else if (n <= HELD_LIMIT) {
        const bucket = this.capture(value)
        if (bucket >= 0) return bucket
      }
    }
    return bucketOf(this.salt, value)
  }

  /**
   * Hashes a value read from the string, keeping its words for the next salt;
   * -1 as soon as it turns out not to be ASCII.
   */
  private capture(value: string): number {
    held = undefined // as above: a value that turns out not to be ASCII leaves the words half written
    const words = heldWords
    const n = value.length
    const shift = this.count << 3
    let h = this.h
    let block = this.pending
    let i = 0
    let w = 0
    for (const end = n - 3; i < end; i += 4) {
      const c0 = value.charCodeAt(i)
      const c1 = value.charCodeAt(i + 1)
      const c2 = value.charCodeAt(i + 2)
      const c3 = value.charCodeAt(i + 3)
      if ((c0 | c1 | c2 | c3) >= 0x80) return -1
      const word = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24)
      words[w++] = word
      if (shift === 0) h = murmur3Round(h, word)
      else {
        // the prefix left bytes open: every word of the value straddles two blocks
        h = murmur3Round(h, block | (word << shift))
        block = word >>> (32 - shift)
      }
    }
    let tail = 0
    for (let j = 0; i < n; i++, j += 8) {
      const c = value.charCodeAt(i)
      if (c >= 0x80) return -1
      tail |= c << j
    }
    words[w] = tail
    held = value
    heldLength = n
    return this.close(h, block, tail, n)
  }

  /** Hashes the held value from its words. */
  private fromHeld(): number {
    const words = heldWords
    const n = heldLength
    const full = n >>> 2
    const shift = this.count << 3
    let h = this.h
    let block = this.pending
    if (shift === 0) for (let k = 0; k < full; k++) h = murmur3Round(h, words[k]!)
    else
      for (let k = 0; k < full; k++) {
        const word = words[k]!
        h = murmur3Round(h, block | (word << shift))
        block = word >>> (32 - shift)
      }
    const rest = n & 3
    // the bytes past the value are left over from a longer one
    return this.close(h, block, rest === 0 ? 0 : words[full]! & ((1 << (rest << 3)) - 1), n)
  }

  /** Adds the value's last 0–3 bytes (`tail`) to what the prefix and whole words left open, and finishes. */
  private close(h: number, block: number, tail: number, n: number): number {
    const count = this.count
    if (count === 0) return murmur3Finish(h, tail, this.length + n) % BUCKETS
    const shift = count << 3
    block |= tail << shift
    if (count + (n & 3) >= 4) {
      h = murmur3Round(h, block)
      block = tail >>> (32 - shift)
    }
    return murmur3Finish(h, block, this.length + n) % BUCKETS
  }
}

/** {@link Bucketer} as a function. */
export function bucketer(salt: string): (value: string) => number {
  const b = new Bucketer(salt)
  return (value) => b.bucket(value)
}
