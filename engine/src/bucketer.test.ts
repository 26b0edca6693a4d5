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

describe('bucketer, values in any order', () => {
  const ascii = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => String.fromCharCode(48 + ((i * 7 + from) % 43))).join('')

  it('after a value that turns out not to be ASCII part way, the value before it still gets its own bucket', () => {
    // the words of the value before must not be left half overwritten, whichever path read them
    const b = new Bucketer('flag-00001')
    for (const before of [ascii(12), ascii(36), ascii(100)])
      for (const length of [8, 20, 31, 33, 40, 120])
        for (const at of [4, Math.floor(length / 2), length - 1]) {
          const broken = `${ascii(at, 5)}é${ascii(length - at - 1, 9)}`
          expect(b.bucket(before)).toBe(bucketOf(b.salt, before))
          expect(b.bucket(broken)).toBe(bucketOf(b.salt, broken))
          expect(b.bucket(before), `${before} after ${broken}`).toBe(bucketOf(b.salt, before))
        }
  })

  it('agrees with bucketOf when ASCII and non-ASCII values of every length interleave', () => {
    let seed = 7
    const random = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed / 2 ** 32
    }
    const others = ['é', 'ü', '日', '😀']
    const bucketers = ['', 'a', 'ab', 'abc', 'flag-00001', 'w3'].map((s) => new Bucketer(s))
    const values: string[] = []
    for (let i = 0; i < 200; i++) {
      const length = random() < 0.2 ? Math.floor(random() * 300) : Math.floor(random() * 48)
      let value = ascii(length, i)
      // most non-ASCII values are ASCII up to some point, as names and e-mail addresses are
      if (length > 0 && random() < 0.4) {
        const at = Math.floor(random() * length)
        value = `${value.slice(0, at)}${others[i % others.length]}${value.slice(at + 1)}`
      }
      values.push(value)
    }
    let previous = values[0]!
    for (let i = 0; i < 20_000; i++) {
      // often back to the value before: that is when stale words would be read
      const value = random() < 0.3 ? previous : values[Math.floor(random() * values.length)]!
      const b = bucketers[Math.floor(random() * bucketers.length)]!
      expect(b.bucket(value), `${b.salt} / ${value}`).toBe(bucketOf(b.salt, value))
      previous = values[Math.floor(random() * values.length)]!
    }
  })
})
