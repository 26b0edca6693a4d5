import { describe, expect, it } from 'vitest'
import { bucketer, bucketOf } from './murmur3.js'

describe('bucketer', () => {
  it('gives the same bucket as bucketOf for every salt length, value length and alphabet', () => {
    const salts = ['', 'a', 'ab', 'abc', 'abcd', 'new-checkout', 'w3-split', 'ünï', 'x'.repeat(13)]
    const values = [
      '',
      'u',
      'user-1',
      'ü',
      'a😀b',
      '\ud800x',
      '0123456789abcdef0123456789abcdef0123',
      'mixed-ascii-then-é',
    ]
    for (let n = 0; n < 24; n++)
      values.push(Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 11) % 90))).join(''))
    for (const salt of salts) {
      const bucket = bucketer(salt)
      for (const value of values) expect(bucket(value), `${salt} / ${value}`).toBe(bucketOf(salt, value))
    }
  })
})
