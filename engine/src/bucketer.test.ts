import { describe, expect, it } from 'vitest'
import { Bucketer, bucketer, bucketOf } from './murmur3.js'

describe('bucketer', () => {
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
    `${'k'.repeat(255)}é`,
    'x'.repeat(256),
    'y'.repeat(257),
  ]
  for (let n = 0; n < 40; n++)
    values.push(Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 11) % 90))).join(''))

  it('gives the same bucket as bucketOf for every salt length, value length and alphabet', () => {
    for (const salt of salts) {
      const bucket = bucketer(salt)
      for (const value of values) expect(bucket(value), `${salt} / ${value}`).toBe(bucketOf(salt, value))
    }
  })

  it('agrees with bucketOf when one value is bucketed under many salts in turn, and in any order', () => {
    // the words of the last value are reused across salts: a stale or shorter value must never leak in
    const bucketers = salts.map((s) => new Bucketer(s))
    const order = [...values, ...[...values].reverse(), ...values.filter((_, i) => i % 3 === 0)]
    for (const value of order)
      for (const b of bucketers) expect(b.bucket(value), `${b.salt} / ${value}`).toBe(bucketOf(b.salt, value))
  })
})
