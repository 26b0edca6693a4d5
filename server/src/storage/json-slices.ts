import type { JsonValue } from '@vane/engine'
import { inTimeSlices } from './time-slices.js'

/** Arrays longer than this are written slice by slice. */
const LONG_ARRAY = 4096

/**
 * `JSON.stringify(value)`, the same text, with long arrays written in time slices that yield to the event
 * loop: a change carrying a million member keys is 20 MB of JSON, a few hundred milliseconds in one call.
 */
export async function stringifyInSlices(value: JsonValue): Promise<string> {
  if (Array.isArray(value)) {
    if (value.length <= LONG_ARRAY) return JSON.stringify(value)
    const parts: string[] = []
    await inTimeSlices(value, (slice) => {
      parts.push(JSON.stringify(slice).slice(1, -1))
      return 0
    })
    return `[${parts.join(',')}]`
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  const parts: string[] = []
  for (const [key, item] of Object.entries(value))
    if (item !== undefined) parts.push(`${JSON.stringify(key)}:${await stringifyInSlices(item)}`)
  return `{${parts.join(',')}}`
}
