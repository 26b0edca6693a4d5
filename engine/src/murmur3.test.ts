import { describe, expect, it } from 'vitest'
import { compileSnapshot } from './evaluator.js'
import { BUCKETS, bucketOf, murmur3 } from './murmur3.js'
import golden from './vectors/bucketing.json' with { type: 'json' }

interface Vector {
  salt: string
  value: string
  hash: number
  bucket: number
}

const vectors: Vector[] = golden.vectors
const isLoneSurrogate = (s: string) => /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)

/** Bytes of the UTF-8 encoding of `s`, without TextEncoder (not in this package's lib). */
function utf8Length(s: string): number {
  let n = 0
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4 // a lone surrogate becomes U+FFFD: 3 bytes
  }
  return n
}

describe('golden bucketing vectors (engine/src/vectors/bucketing.json)', () => {
  it('is a large set that covers every case it claims to', () => {
    expect(vectors.length).toBe(golden.count)
    expect(vectors.length).toBeGreaterThanOrEqual(1200)
    const inputs = vectors.map((v) => `${v.salt}/${v.value}`)
    const tails = new Set(inputs.map((s) => utf8Length(s) % 4))
    expect([...tails].sort()).toEqual([0, 1, 2, 3])
    for (let length = 0; length <= 16; length++) expect(vectors.some((v) => v.value.length === length)).toBe(true)
    expect(vectors.some((v) => v.salt === '' && v.value === '')).toBe(true)
    expect(vectors.some((v) => utf8Length(v.value) > 1024)).toBe(true)
    const has = (re: RegExp) => vectors.some((v) => re.test(v.value))
    expect(has(/[\u0080-\u07ff]/)).toBe(true) // 2-byte
    expect(has(/[\u0800-\ud7ff\ue000-\uffff]/)).toBe(true) // 3-byte
    expect(has(/[\ud800-\udbff][\udc00-\udfff]/)).toBe(true) // 4-byte
    expect(has(/\p{Extended_Pictographic}/u)).toBe(true) // emoji
    expect(has(/\p{M}/u)).toBe(true) // combining marks
    // the JSON escapes of lone surrogates must survive loading, or those vectors test nothing
    expect(vectors.filter((v) => isLoneSurrogate(v.value)).length).toBeGreaterThan(20)
    for (const v of vectors) {
      expect(Number.isInteger(v.hash) && v.hash >= 0 && v.hash < 2 ** 32).toBe(true)
      expect(v.bucket).toBe(v.hash % BUCKETS)
    }
  })

  it('murmur3 reproduces every hash', () => {
    const wrong = vectors.filter((v) => murmur3(`${v.salt}/${v.value}`) !== v.hash)
    expect(wrong).toEqual([])
  })

  it('bucketOf reproduces every bucket', () => {
    const wrong = vectors.filter((v) => bucketOf(v.salt, v.value) !== v.bucket)
    expect(wrong).toEqual([])
  })

  it('hashes a lone surrogate as U+FFFD', () => {
    const lone = vectors.filter((v) => isLoneSurrogate(v.salt) || isLoneSurrogate(v.value))
    expect(lone.length).toBeGreaterThan(0)
    for (const v of lone) {
      const replaced = `${v.salt}/${v.value}`.replace(
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
        '\ufffd',
      )
      expect(murmur3(replaced)).toBe(v.hash)
    }
  })
})

describe('murmur3 published vectors', () => {
  it.each([
    ['', 0, 0],
    ['hello', 0, 613153351],
    ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
    ['test', 0, 0xba6bd213],
    ['abc', 0, 0xb3dd93fa],
    ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', 0, 0xee925b90],
    ['\0', 0, 0x514e28b7],
    ['\0\0', 0, 0x30f4c306],
    ['\0\0\0', 0, 0x85f0b427],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['ab', 0x9747b28c, 0x74875592],
    ['abc', 0x9747b28c, 0xc84a62dd],
    ['abcd', 0x9747b28c, 0xf0478627],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['a'.repeat(256), 0x9747b28c, 0x37405bdc],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['Hello, world!', 1234, 0xfaf6cdb3],
    ['ππππππππ', 0x9747b28c, 0xd58063c1],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('murmur3(%j, %d) = %d', (input, seed, expected) => {
    expect(murmur3(input, seed)).toBe(expected)
  })

  it('returns an unsigned 32-bit integer', () => {
    for (const v of vectors.slice(0, 200)) {
      const h = murmur3(v.value, v.bucket)
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true)
    }
  })
})

describe('bucket distribution over 100,000 keys', () => {
  const KEYS = 100_000
  const keys = Array.from({ length: KEYS }, (_, i) => `user-${i}`)

  /** Share (in percentage points) of keys that land in each variant when `weights` are laid out in order. */
  function shares(salt: string, weights: number[]): number[] {
    const bounds: number[] = []
    let upper = 0
    for (const w of weights) {
      upper += w
      bounds.push(upper)
    }
    const counts = weights.map(() => 0)
    for (const key of keys) {
      const bucket = bucketOf(salt, key)
      const i = bounds.findIndex((b) => bucket < b)
      counts[i]!++
    }
    return counts.map((c) => (c / KEYS) * 100)
  }

  it.each([
    ['5/95', [5_000, 95_000]],
    ['50/50', [50_000, 50_000]],
    ['1/99', [1_000, 99_000]],
    ['33.333/33.333/33.334', [33_333, 33_333, 33_334]],
    ['10 equal variants', Array.from({ length: 10 }, () => 10_000)],
    ['uneven', [12_500, 500, 37_000, 50_000]],
  ])('%s stays within ±0.5 percentage points of each weight', (_, weights) => {
    for (const salt of ['new-checkout', 'dark-mode', '']) {
      const got = shares(salt, weights)
      weights.forEach((w, i) => {
        expect(Math.abs(got[i]! - w / 1000), `salt "${salt}", variant ${i}: ${got[i]}%`).toBeLessThanOrEqual(0.5)
      })
    }
  })

  it('buckets cover the whole range roughly uniformly', () => {
    const deciles = Array.from({ length: 10 }, () => 0)
    for (const key of keys) deciles[Math.floor(bucketOf('uniform', key) / 10_000)]!++
    for (const d of deciles) expect(Math.abs(d / KEYS - 0.1)).toBeLessThan(0.005)
  })

  it('the evaluator splits 100,000 contexts like the bucket layout', () => {
    const evaluator = compileSnapshot({
      environment: 'test',
      version: 1,
      cohorts: {},
      flags: {
        'new-checkout': {
          key: 'new-checkout',
          type: 'string',
          variants: { a: 'a', b: 'b', c: 'c' },
          version: 1,
          enabled: true,
          offVariant: 'a',
          fallthrough: { rollout: { weights: { c: 33_334, b: 33_333, a: 33_333 } } },
        },
      },
    })
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 }
    const misplaced: string[] = []
    for (const key of keys) {
      const r = evaluator.evaluate('new-checkout', { targetingKey: key }, 'x')
      const bucket = bucketOf('new-checkout', key)
      // variant order a, b, c (not the order of `weights`)
      if (r.variant !== (bucket < 33_333 ? 'a' : bucket < 66_666 ? 'b' : 'c')) misplaced.push(key)
      counts[r.variant!]!++
    }
    expect(misplaced).toEqual([])
    for (const [variant, count] of Object.entries(counts))
      expect(Math.abs((count / KEYS) * 100 - 33.333), variant).toBeLessThanOrEqual(0.5)
  })
})
