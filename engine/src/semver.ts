/** A parsed SemVer 2.0.0 version; build metadata is ignored, as precedence requires. */
export interface SemVer {
  major: number
  minor: number
  patch: number
  prerelease: ReadonlyArray<string | number | bigint>
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/

/**
 * The longest version read, as node-semver's MAX_LENGTH: anything longer is no
 * version, refused before any other work (hashing it as a cache key included).
 */
export const MAX_SEMVER_LENGTH = 256

/** Parses `1.2.3`, `v1.2.3-rc.1+build`; returns undefined for anything else. */
export function parseSemver(input: string): SemVer | undefined {
  if (input.length > MAX_SEMVER_LENGTH) return undefined
  const m = SEMVER.exec(input)
  if (m === null) return undefined
  const major = Number(m[1])
  const minor = Number(m[2])
  const patch = Number(m[3])
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) return undefined
  const prerelease = m[4] === undefined ? [] : m[4].split('.').map(numericIdentifier)
  return { major, minor, patch, prerelease }
}

/** Numeric identifiers compare as numbers; beyond 2^53 as bigints, so none collapse into another. */
function numericIdentifier(id: string): string | number | bigint {
  if (!/^\d+$/.test(id)) return id
  const n = Number(id)
  return Number.isSafeInteger(n) ? n : BigInt(id)
}

/** SemVer precedence: negative, zero or positive. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major - b.major
  if (a.minor !== b.minor) return a.minor - b.minor
  if (a.patch !== b.patch) return a.patch - b.patch
  const pa = a.prerelease
  const pb = b.prerelease
  // a version without prerelease ranks above the same version with one
  if (pa.length === 0 || pb.length === 0) return pb.length - pa.length
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i]
    const y = pb[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    const xNumeric = typeof x !== 'string'
    const yNumeric = typeof y !== 'string'
    if (xNumeric !== yNumeric) return xNumeric ? -1 : 1
    return x < y ? -1 : 1
  }
  return 0
}

// Contexts carry whatever a caller sends, so the cache holds only versions the
// parser accepted (at most MAX_SEMVER_LENGTH ASCII characters each) and is
// bounded twice: in entries and in estimated bytes. Full, it starts over.
const CACHE_ENTRIES = 4096
const CACHE_BYTES = 512 * 1024
/** Estimated cost of one entry besides its characters: the map slot (with its spare capacity), the key and the SemVer. */
const ENTRY_BYTES = 256
/** Estimated cost of one prerelease identifier: a string (or bigint) and its array slot. */
const IDENTIFIER_BYTES = 40
const cache = new Map<string, SemVer>()
let cacheBytes = 0

/**
 * `parseSemver` behind a small cache: the versions seen in contexts (app and OS
 * versions) are few, and parsing sits on the evaluation hot path.
 */
export function parseSemverCached(input: string): SemVer | undefined {
  if (input.length > MAX_SEMVER_LENGTH) return undefined
  const hit = cache.get(input)
  if (hit !== undefined) return hit
  // parse a copy: a key, or an identifier sliced from it, would otherwise keep a larger string it came from alive
  // (V8 flattens the concatenation, then slices that copy)
  const key = ` ${input}`.slice(1)
  const parsed = parseSemver(key)
  if (parsed === undefined) return undefined
  const bytes = ENTRY_BYTES + 2 * key.length + IDENTIFIER_BYTES * parsed.prerelease.length
  if (cache.size >= CACHE_ENTRIES || cacheBytes + bytes > CACHE_BYTES) {
    cache.clear()
    cacheBytes = 0
  }
  cache.set(key, parsed)
  cacheBytes += bytes
  return parsed
}

/** The cache's entries and estimated bytes, and its bounds; for tests. */
export function semverCacheStats(): { entries: number; bytes: number; maxEntries: number; maxBytes: number } {
  return { entries: cache.size, bytes: cacheBytes, maxEntries: CACHE_ENTRIES, maxBytes: CACHE_BYTES }
}
