import type { EvaluationDetails } from '@vane/sdk-core'

/** One flag's evaluated outcome, as the server sends it. */
export interface FlagValue {
  value: unknown
  variant?: string
  reason: string
  version?: number
  errorCode?: string
}

/** A stable, order-independent text of a value, so equal contexts share one cache entry and equal values compare equal. */
export function canonical(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  const keys = Object.keys(value).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
}

const typeOf = (v: unknown) => (Array.isArray(v) ? 'object' : v === null ? 'null' : typeof v)

/** What a reader sees of `hit`: never throws; a missing flag, a type mismatch or no values yet give the default. */
export function resolve<T>(
  flagKey: string,
  hit: FlagValue | undefined,
  defaultValue: T,
  ready: boolean,
): EvaluationDetails<T> {
  if (hit === undefined) {
    const errorCode = ready ? 'FLAG_NOT_FOUND' : 'PROVIDER_NOT_READY'
    return { flagKey, value: defaultValue, reason: 'ERROR', errorCode }
  }
  if (hit.errorCode !== undefined) return { flagKey, value: defaultValue, reason: 'ERROR', errorCode: hit.errorCode }
  if (typeOf(hit.value) !== typeOf(defaultValue))
    return { flagKey, value: defaultValue, reason: 'ERROR', errorCode: 'TYPE_MISMATCH' }
  return { flagKey, value: hit.value as T, variant: hit.variant, reason: hit.reason, flagVersion: hit.version }
}

/** Whether a reader could tell `a` from `b`. */
export function same(a: FlagValue | undefined, b: FlagValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.variant === b.variant && a.errorCode === b.errorCode && canonical(a.value) === canonical(b.value)
}
