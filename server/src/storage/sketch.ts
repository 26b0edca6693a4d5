/**
 * Latency sketches of outcome reports: DDSketch (relative accuracy 1 %) in its protobuf form, as the SDKs
 * send them (`@datadog/sketches-js`'s `toProto`). Every sketch that enters the server is checked and rebuilt
 * here, so that what is stored and merged is always small and well formed, whatever a client sent.
 */
import { DDSketch } from '@datadog/sketches-js'
import compiled from '@datadog/sketches-js/dist/ddsketch/proto/compiled.js'

/** The SDKs' relative accuracy; sketches of any other accuracy cannot be merged with theirs. */
export const SKETCH_RELATIVE_ACCURACY = 0.01

/**
 * Latencies a sketch may hold, in milliseconds (1 ns to about 115 days). Bounding the bins keeps a stored
 * sketch under ~16 KB however far apart the reports merged into it lie (a dense store spans its lowest to
 * its highest bin).
 */
export const LATENCY_RANGE_MS = [1e-6, 1e10] as const

const reference = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY })
const GAMMA = reference.mapping.gamma
const MIN_KEY = reference.mapping.key(LATENCY_RANGE_MS[0])
const MAX_KEY = reference.mapping.key(LATENCY_RANGE_MS[1])

/** The decoded protobuf message (`DDSketch.proto` of the sketches-js package). */
interface RawStore {
  binCounts?: Record<string, number> | null
  contiguousBinCounts?: number[] | null
  contiguousBinIndexOffset?: number | null
}
interface RawSketch {
  mapping?: { gamma?: number | null; indexOffset?: number | null; interpolation?: number | null } | null
  positiveValues?: RawStore | null
  negativeValues?: RawStore | null
  zeroCount?: number | null
}
const proto = compiled as unknown as { DDSketch: { decode(bytes: Uint8Array): RawSketch } }

/** A sketch that cannot be decoded or is not one the SDKs make; the message says why. */
export class SketchError extends Error {
  override readonly name = 'SketchError'
}

const validCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0

/** True when a store holds no values (absent, or only zero bins). */
function isEmpty(store: RawStore | null | undefined): boolean {
  if (store === null || store === undefined) return true
  return (
    (store.contiguousBinCounts ?? []).every((c) => c === 0) &&
    Object.values(store.binCounts ?? {}).every((c) => c === 0)
  )
}

/**
 * Decodes a protobuf DDSketch and rebuilds it from its non-empty bins.
 *
 * @throws SketchError when the bytes are not a DDSketch, or not one with the SDKs' mapping (logarithmic,
 *   1 % relative accuracy, no index offset), or hold negative, non-finite or out-of-range values.
 */
export function decodeSketch(bytes: Uint8Array): DDSketch {
  let raw: RawSketch
  try {
    raw = proto.DDSketch.decode(bytes)
  } catch (error) {
    throw new SketchError(`not a protobuf DDSketch (${error instanceof Error ? error.message : String(error)})`)
  }
  const mapping = raw.mapping
  if (mapping === null || mapping === undefined) throw new SketchError('the sketch has no index mapping')
  if (mapping.gamma !== GAMMA || (mapping.indexOffset ?? 0) !== 0 || (mapping.interpolation ?? 0) !== 0)
    throw new SketchError(
      `the sketch's mapping must be logarithmic with ${SKETCH_RELATIVE_ACCURACY * 100} % relative accuracy (gamma ${GAMMA}), as the Vane SDKs make it`,
    )
  if (!isEmpty(raw.negativeValues)) throw new SketchError('latencies cannot be negative')
  const positive = raw.positiveValues ?? {}
  if (Object.keys(positive.binCounts ?? {}).length > 0)
    throw new SketchError('sparse bins are not supported: send contiguous bins (what sketches-js writes)')
  const zeroCount = raw.zeroCount ?? 0
  if (!validCount(zeroCount)) throw new SketchError('the zero count must be a finite number of at least 0')

  const sketch = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY })
  const offset = positive.contiguousBinIndexOffset ?? 0
  const counts = positive.contiguousBinCounts ?? []
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]
    if (!validCount(count)) throw new SketchError('bin counts must be finite numbers of at least 0')
    if (count === 0) continue
    const key = offset + i
    if (key < MIN_KEY || key > MAX_KEY)
      throw new SketchError(`latencies must lie between ${LATENCY_RANGE_MS[0]} and ${LATENCY_RANGE_MS[1]} ms`)
    sketch.store.add(key, count)
  }
  sketch.zeroCount = zeroCount
  sketch.count = sketch.store.count + zeroCount
  return sketch
}

/**
 * Adds `from`'s values to `into`. Not `DDSketch#merge`: it counts a negative store without merging its
 * values, and sizes the target's range wrongly when the source's highest bin is key 0. Both sketches come
 * from {@link decodeSketch} or this function, so they share the mapping and hold positive values only.
 */
export function mergeInto(into: DDSketch, from: DDSketch): void {
  const { bins, offset } = from.store
  for (let i = 0; i < bins.length; i++) {
    const count = bins[i]
    if (count !== undefined && count > 0) into.store.add(i + offset, count)
  }
  into.zeroCount += from.zeroCount
  into.count += from.store.count + from.zeroCount
}

/** One sketch holding the values of every given protobuf sketch. */
export function mergeSketches(sketches: Iterable<Uint8Array>): DDSketch {
  const merged = new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY })
  for (const bytes of sketches) mergeInto(merged, decodeSketch(bytes))
  return merged
}

export function encodeSketch(sketch: DDSketch): Uint8Array {
  return sketch.toProto()
}

/** p50, p95 and p99 in milliseconds, each within 1 % of the true value; null for an empty sketch. */
export function latencyQuantiles(sketch: DDSketch): { p50: number; p95: number; p99: number } | null {
  if (sketch.count <= 0) return null
  const at = (q: number) => sketch.getValueAtQuantile(q)
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) }
}
