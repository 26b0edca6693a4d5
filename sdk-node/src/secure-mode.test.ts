import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { secureModeHash } from './index.js'

describe('secureModeHash', () => {
  it('is hex HMAC-SHA256 of the targeting key, keyed with the secret', async () => {
    const secret = 'vane_secure_3q2-7wF0cJm9aZ0x1yQpL8Uo5sVbNcRtKdEeHgIiJjk'
    for (const targetingKey of ['user-1', '', 'ümlaut ✓ 🙂', 'x'.repeat(10_000)]) {
      const expected = createHmac('sha256', secret).update(targetingKey, 'utf8').digest('hex')
      expect(await secureModeHash(secret, targetingKey)).toBe(expected)
    }
  })

  it('matches the RFC 4231 test vector 2', async () => {
    expect(await secureModeHash('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })

  it('differs per key and per secret', async () => {
    const a = await secureModeHash('s1', 'alice')
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(await secureModeHash('s1', 'bob')).not.toBe(a)
    expect(await secureModeHash('s2', 'alice')).not.toBe(a)
  })

  it('refuses a missing secret', async () => {
    await expect(secureModeHash('', 'alice')).rejects.toThrow(TypeError)
  })
})
