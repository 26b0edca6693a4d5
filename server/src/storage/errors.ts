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
 * A query that failed for another reason than a constraint (a lock or statement timeout, a lost connection),
 * told without the query's parameters: they may hold secrets (a client key's secure-mode secret) or member
 * keys, and this error ends up in logs. `code` is the driver's (SQLSTATE or SQLite's), to tell outages apart.
 */
export class StoreQueryError extends Error {
  override readonly name = 'StoreQueryError'
  readonly code: string | undefined

  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

// what a log may keep of a driver's error; `detail`, `where` and `internalQuery` can quote row values
const SAFE_FIELDS = ['code', 'severity', 'routine', 'schema', 'table', 'column', 'constraint'] as const
const MAX_QUERY = 500

/**
 * Replaces a driver's constraint error with a StoreError, and any other query error with a StoreQueryError.
 * Neither keeps the query's parameters, in its message, its stack or its `cause`: drizzle's own error lists
 * them all (`Failed query: … params: …`), which no log should receive.
 */
export function translateError(error: unknown): unknown {
  if (!(error instanceof Error) || error.name === 'StoreError' || error.name === 'StoreQueryError') return error
  let driver: Error = error
  while (driver.cause instanceof Error) driver = driver.cause
  const query = (error as { query?: unknown }).query
  const code = constraintCode(error)
  // an error of our own code (missingParent, a bug) carries no query parameters
  if (driver === error && typeof query !== 'string' && !code) return error
  const cause = safeCopy(driver)
  if (code) {
    const what = code === 'DUPLICATE_KEY' ? 'A row with this key already exists' : 'A referenced row does not exist'
    return new StoreError(code, `${what}: ${cause.message}`, { cause })
  }
  const failed = typeof query === 'string' ? `Failed query: ${query.slice(0, MAX_QUERY)}: ` : ''
  const driverCode = (cause as { code?: unknown }).code
  return new StoreQueryError(`${failed}${cause.message}`, typeof driverCode === 'string' ? driverCode : undefined, {
    cause,
  })
}

/** The driver's error with its message, stack and safe fields only (no parameters, no row values). */
function safeCopy(driver: Error): Error {
  const copy = new Error(driver.message)
  copy.name = driver.name
  const source = driver as unknown as Record<string, unknown>
  const target = copy as unknown as Record<string, unknown>
  for (const field of SAFE_FIELDS) if (source[field] !== undefined) target[field] = source[field]
  // the stack's first line is `name: message`; the frames say where it failed
  const frames = driver.stack?.split('\n').filter((line) => /^\s+at /.test(line)) ?? []
  copy.stack = [`${copy.name}: ${copy.message}`, ...frames].join('\n')
  return copy
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
