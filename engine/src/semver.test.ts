import { describe, expect, it } from 'vitest'
import {
  compareSemver,
  MAX_SEMVER_LENGTH,
  parseSemver,
  parseSemverCached,
  type SemVer,
  semverCacheStats,
} from './semver.js'

function parsed(input: string): SemVer {
  const version = parseSemver(input)
  if (version === undefined) throw new Error(`expected "${input}" to parse`)
  return version
}

const order = (a: string, b: string) => Math.sign(compareSemver(parsed(a), parsed(b)))

describe('parseSemver', () => {
  it.each([
    ['0.0.0', { major: 0, minor: 0, patch: 0, prerelease: [] }],
    ['1.2.3', { major: 1, minor: 2, patch: 3, prerelease: [] }],
    ['10.20.30', { major: 10, minor: 20, patch: 30, prerelease: [] }],
    ['v1.2.3', { major: 1, minor: 2, patch: 3, prerelease: [] }],
    ['1.0.0-alpha', { major: 1, minor: 0, patch: 0, prerelease: ['alpha'] }],
    ['1.0.0-alpha.1', { major: 1, minor: 0, patch: 0, prerelease: ['alpha', 1] }],
    ['1.0.0-0.3.7', { major: 1, minor: 0, patch: 0, prerelease: [0, 3, 7] }],
    ['1.0.0-x.7.z.92', { major: 1, minor: 0, patch: 0, prerelease: ['x', 7, 'z', 92] }],
    ['1.0.0-x-y-z.--', { major: 1, minor: 0, patch: 0, prerelease: ['x-y-z', '--'] }],
    ['1.0.0-0a', { major: 1, minor: 0, patch: 0, prerelease: ['0a'] }],
    ['1.0.0-00a', { major: 1, minor: 0, patch: 0, prerelease: ['00a'] }],
    ['1.0.0+20130313144700', { major: 1, minor: 0, patch: 0, prerelease: [] }],
    ['1.0.0+001', { major: 1, minor: 0, patch: 0, prerelease: [] }],
    ['1.0.0-beta+exp.sha.5114f85', { major: 1, minor: 0, patch: 0, prerelease: ['beta'] }],
    ['v1.0.0-rc.1+build.1', { major: 1, minor: 0, patch: 0, prerelease: ['rc', 1] }],
    ['9007199254740991.0.0', { major: 9007199254740991, minor: 0, patch: 0, prerelease: [] }],
  ])('parses %j', (input, expected) => {
    expect(parseSemver(input)).toEqual(expected)
  })

  it.each([
    ['empty', ''],
    ['major only', '1'],
    ['missing patch', '1.2'],
    ['four parts', '1.2.3.4'],
    ['empty part', '1..3'],
    ['leading zero in major', '01.2.3'],
    ['leading zero in minor', '1.02.3'],
    ['leading zero in patch', '1.2.03'],
    ['leading zero in a numeric prerelease identifier', '1.0.0-01'],
    ['leading zero later in the prerelease', '1.0.0-alpha.01'],
    ['empty prerelease', '1.0.0-'],
    ['empty prerelease identifier', '1.0.0-alpha..1'],
    ['trailing dot in prerelease', '1.0.0-alpha.'],
    ['empty build metadata', '1.0.0+'],
    ['empty build identifier', '1.0.0+a..b'],
    ['two "+"', '1.0.0+a+b'],
    ['invalid prerelease character', '1.0.0-alpha_beta'],
    ['invalid build character', '1.0.0+build_1'],
    ['negative', '-1.0.0'],
    ['letters', 'a.b.c'],
    ['double v', 'vv1.0.0'],
    ['"v" alone', 'v'],
    ['leading space', ' 1.0.0'],
    ['trailing space', '1.0.0 '],
    ['trailing newline', '1.0.0\n'],
    ['range, not a version', '^1.0.0'],
    ['wildcard', '1.x.0'],
    ['major beyond safe integers', '99999999999999999999.0.0'],
    ['minor beyond safe integers', '1.9007199254740993.0'],
  ])('rejects %s: %j', (_name, input) => {
    expect(parseSemver(input)).toBeUndefined()
    expect(parseSemverCached(input)).toBeUndefined()
  })

  it('rejects very long strings quickly', () => {
    const inputs = [
      `1.0.0-${'a'.repeat(100_000)}`,
      `1.0.0-${'a.'.repeat(50_000)}a`,
      `${'1'.repeat(100_000)}.0.0`,
      `1.0.0+${'b'.repeat(1_000_000)}`,
      `1.0.0-${'0'.repeat(100_000)}!`,
      'x'.repeat(10_000_000),
    ]
    const started = Date.now()
    for (const input of inputs) expect(parseSemver(input)).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('the cached parser agrees with the plain one, on hits and misses', () => {
    for (const input of ['1.2.3', 'v1.2.3-rc.1', 'nope', '1.2.3', 'nope']) {
      expect(parseSemverCached(input)).toEqual(parseSemver(input))
    }
  })
})

describe('the semver cache holds only what a context can afford', () => {
  it('keeps no string longer than a version can be: 1,000 distinct 1 MB strings leave it as it was', () => {
    const before = semverCacheStats()
    const filler = 'a'.repeat(1 << 20)
    for (let i = 0; i < 1000; i++) expect(parseSemverCached(`1.0.0-${i}${filler}`)).toBeUndefined()
    expect(semverCacheStats()).toEqual(before)
  })

  it('never caches what the parser rejects', () => {
    const before = semverCacheStats()
    for (let i = 0; i < 10_000; i++) expect(parseSemverCached(`1.${i}`)).toBeUndefined()
    expect(semverCacheStats()).toEqual(before)
  })

  it('stays within its bounds in entries and bytes, whatever the versions', () => {
    const { maxEntries, maxBytes } = semverCacheStats()
    // the longest versions accepted, every one distinct, with the most prerelease identifiers; then the shortest
    const longest = (i: number) =>
      `1.0.0-${i}.${'x.'.repeat(MAX_SEMVER_LENGTH)}`.slice(0, MAX_SEMVER_LENGTH).replace(/\.$/, '')
    const shortest = (i: number) => `0.0.${i}`
    let most = { entries: 0, bytes: 0 }
    for (const make of [longest, shortest])
      for (let i = 0; i < 6_000; i++) {
        const input = make(i)
        expect(parseSemverCached(input)?.patch).toBe(parseSemver(input)!.patch)
        const { entries, bytes } = semverCacheStats()
        most = { entries: Math.max(most.entries, entries), bytes: Math.max(most.bytes, bytes) }
      }
    expect(most.entries).toBeLessThanOrEqual(maxEntries)
    expect(most.bytes).toBeLessThanOrEqual(maxBytes)
    // the bound was reached, not merely approached
    expect(most.bytes).toBeGreaterThan(maxBytes * 0.9)
    expect(maxBytes).toBeLessThanOrEqual(1024 * 1024)
  })

  it('refuses a version one character too long, cached or not', () => {
    const version = `1.0.0-${'a'.repeat(MAX_SEMVER_LENGTH - 6)}`
    expect(version).toHaveLength(MAX_SEMVER_LENGTH)
    expect(parseSemverCached(version)).toBeDefined()
    expect(parseSemver(`${version}b`)).toBeUndefined()
    expect(parseSemverCached(`${version}b`)).toBeUndefined()
  })
})

describe('compareSemver', () => {
  const chain = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
  ]

  it('orders the SemVer 2.0.0 precedence example chain', () => {
    for (let i = 0; i < chain.length; i++) {
      for (let j = 0; j < chain.length; j++) {
        expect(order(chain[i]!, chain[j]!), `${chain[i]} vs ${chain[j]}`).toBe(Math.sign(i - j))
      }
    }
    const shuffled = [...chain].reverse().map(parsed)
    expect(shuffled.sort(compareSemver)).toEqual(chain.map(parsed))
  })

  it.each([
    ['1.0.0', '2.0.0'],
    ['2.0.0', '2.1.0'],
    ['2.1.0', '2.1.1'],
    ['1.9.0', '1.10.0'],
    ['1.0.9', '1.0.10'],
    ['9.0.0', '10.0.0'],
    ['1.0.0-rc.1', '1.0.0'],
    ['1.0.0', '1.0.1-alpha'],
    ['1.0.0-2', '1.0.0-10'],
    ['1.0.0-1', '1.0.0-a'],
    ['1.0.0-999', '1.0.0-0a'],
    ['1.0.0-A', '1.0.0-a'],
    ['1.0.0-Z', '1.0.0-a'],
    ['1.0.0-a.b', '1.0.0-a-b'],
    ['1.0.0-alpha', '1.0.0-alpha.0'],
    ['1.0.0-alpha.1.2', '1.0.0-alpha.1.3'],
    ['1.0.0-alpha.9', '1.0.0-alpha.10'],
  ])('%s < %s', (lower, higher) => {
    expect(order(lower, higher)).toBe(-1)
    expect(order(higher, lower)).toBe(1)
  })

  it.each([
    ['1.0.0', '1.0.0'],
    ['1.0.0', 'v1.0.0'],
    ['1.0.0+a', '1.0.0+b'],
    ['1.0.0', '1.0.0+20240101'],
    ['1.0.0-rc.1+x', '1.0.0-rc.1+y'],
    ['v2.3.4-beta.5', '2.3.4-beta.5+sha.1'],
  ])('%s = %s (build metadata and the leading v are ignored)', (a, b) => {
    expect(order(a, b)).toBe(0)
    expect(order(b, a)).toBe(0)
  })

  it('never calls two different prerelease numbers equal, however large', () => {
    const a = parseSemver('1.0.0-99999999999999999998')
    const b = parseSemver('1.0.0-99999999999999999999')
    // either refuse versions it cannot compare exactly, or compare them exactly
    if (a !== undefined && b !== undefined) expect(Math.sign(compareSemver(a, b))).toBe(-1)
  })
})
