import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bootstrapKeyProblem, checkBootstrapKey } from './keys.js'

describe('VANE_BOOTSTRAP_ADMIN_KEY strength', () => {
  it.each([
    ['abc', /3 characters; at least 32/],
    ['change-me-to-a-long-secret', /26 characters/],
    [`${'a'.repeat(46)}b`, /one character makes up 46 of its 47/],
    ['vane_admin_integration-secret-00000000000000000', /one character makes up 17 of its 47/],
    ['abcdefg'.repeat(5), /about 98 bits of randomness; at least 120/],
    ['0123456789'.repeat(4).slice(0, 33), /about 109 bits/],
  ])('refuses %j', (secret, reason) => {
    const problem = bootstrapKeyProblem(secret)
    if (problem === undefined) throw new Error(`${secret} was accepted`)
    expect(problem).toMatch(reason)
  })

  it('accepts what the documented generators make, every time', () => {
    for (let i = 0; i < 2_000; i++) {
      expect(bootstrapKeyProblem(randomBytes(32).toString('base64'))).toBeUndefined()
      expect(bootstrapKeyProblem(randomBytes(32).toString('hex'))).toBeUndefined()
      expect(bootstrapKeyProblem(`vane_admin_${randomBytes(24).toString('base64url')}`)).toBeUndefined()
    }
  })

  it('says how to make a good one', () => {
    expect(() => checkBootstrapKey('abc')).toThrow(/VANE_BOOTSTRAP_ADMIN_KEY is too weak.*openssl rand -base64 32/)
    expect(() => checkBootstrapKey(randomBytes(32).toString('base64'))).not.toThrow()
  })
})
