/** A parsed SemVer 2.0.0 version; build metadata is ignored, as precedence requires. */
export interface SemVer {
  major: number
  minor: number
  patch: number
  prerelease: ReadonlyArray<string | number | bigint>
}

const SEMVER =
  /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/

/** Parses `1.2.3`, `v1.2.3-rc.1+build`; returns undefined for anything else. */
export function parseSemver(input: string): SemVer | undefined {
  if (input.length > 256) return undefined
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

const cache = new Map<string, SemVer | null>()
const CACHE_LIMIT = 4096

/**
 * `parseSemver` behind a small cache: the versions seen in contexts (app and OS
 * versions) are few, and parsing sits on the evaluation hot path.
 */
export function parseSemverCached(input: string): SemVer | undefined {
  const hit = cache.get(input)
  if (hit !== undefined) return hit ?? undefined
  const parsed = parseSemver(input)
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(input, parsed ?? null)
  return parsed
}
