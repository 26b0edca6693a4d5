import { describe, expect, it } from 'vitest'
import { addressGroup } from './node-path.js'

describe('addressGroup', () => {
  it('keeps IPv4 addresses, mapped or not', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7')
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7')
  })

  it('counts an IPv6 client by its /64, however the address is written', () => {
    const group = '2001:db8:0:1::/64'
    expect(addressGroup('2001:db8:0:1:aaaa:bbbb:cccc:dddd')).toBe(group)
    expect(addressGroup('2001:0db8:0000:0001::1')).toBe(group)
    expect(addressGroup('2001:db8:0:1::')).toBe(group)
    expect(addressGroup('2001:db8:0:1::5%eth0')).toBe(group)
    expect(addressGroup('2001:db8:0:2::1')).toBe('2001:db8:0:2::/64')
    expect(addressGroup('::1')).toBe('0:0:0:0::/64')
  })
})
