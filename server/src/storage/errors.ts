import type { StoreErrorCode, StoreTx } from './repository.js'

/** What a store throws for a broken constraint, the same on both dialects (check `name` and `code`). */
export class StoreError extends Error {
  override readonly name = 'StoreError'
  readonly code: StoreErrorCode

  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** The error of a write that needs a row which does not exist. */
export function missingParent(entity: 'environment' | 'cohort', key: string): StoreError {
  return new StoreError('MISSING_REFERENCE', `The ${entity} "${key}" does not exist; create it first.`)
}

// SQLite's extended result codes (better-sqlite3) and PostgreSQL's SQLSTATEs (pg)
const CODES: Record<string, StoreErrorCode> = {
  SQLITE_CONSTRAINT_PRIMARYKEY: 'DUPLICATE_KEY',
  SQLITE_CONSTRAINT_UNIQUE: 'DUPLICATE_KEY',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'MISSING_REFERENCE',
  '23505': 'DUPLICATE_KEY',
  '23503': 'MISSING_REFERENCE',
}

/** The StoreErrorCode of a driver's constraint error (drizzle wraps it as the `cause` of its own error). */
export function constraintCode(error: unknown): StoreErrorCode | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = CODES[String((e as { code?: unknown }).code)]
    if (code) return code
  }
  return undefined
}

/**
 * Replaces a driver's constraint error with a StoreError, and shortens other query errors: drizzle's
 * message lists every parameter of the query, a million member keys say, which no log should receive.
 */
export function translateError(error: unknown): unknown {
  const code = constraintCode(error)
  if (!code) return shortenQueryError(error)
  let driver: Error & { detail?: unknown } = error as Error
  while (driver.cause instanceof Error) driver = driver.cause
  const what = code === 'DUPLICATE_KEY' ? 'A row with this key already exists' : 'A referenced row does not exist'
  const detail = typeof driver.detail === 'string' ? ` (${driver.detail})` : ''
  return new StoreError(code, `${what}: ${driver.message}${detail}`, { cause: driver })
}

const MAX_MESSAGE = 2000

function shortenQueryError(error: unknown): unknown {
  if (!(error instanceof Error) || error.message.length <= MAX_MESSAGE) return error
  const { query, params } = error as { query?: unknown; params?: unknown }
  if (typeof query !== 'string' || !Array.isArray(params)) return error
  const shown = params.slice(0, 10).map((p) => String(p).slice(0, 100))
  const message = `Failed query: ${query.slice(0, MAX_MESSAGE)}\nparams: ${shown.join(', ')}${params.length > 10 ? ', …' : ''}`
  const long = error.message
  error.message = message
  if (error.stack?.includes(long)) error.stack = error.stack.replace(long, message)
  return error
}

/** The same StoreTx, throwing StoreErrors. */
export function withStoreErrors(tx: StoreTx): StoreTx {
  const wrapped: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(tx) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    wrapped[name] = (...args: unknown[]) =>
      method.apply(tx, args).catch((error: unknown) => {
        throw translateError(error)
      })
  }
  return wrapped as unknown as StoreTx
}
