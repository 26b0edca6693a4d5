import { describe, expect, it } from 'vitest'
import { StoreError, StoreQueryError, translateError } from './errors.js'

// shaped like drizzle's DrizzleQueryError: the query, its parameters, the driver's error as the cause
function queryError(cause: Error, params: unknown[]) {
  return Object.assign(new Error(`Failed query: INSERT …\nparams: ${params}`), { query: 'INSERT …', params, cause })
}

// what pino's error serializer writes: message, stack and enumerable fields, down the cause chain
function logged(error: unknown): unknown {
  if (!(error instanceof Error)) return error
  return { ...error, message: error.message, stack: error.stack, cause: logged(error.cause) }
}

describe('translateError', () => {
  it('turns constraint errors of either driver into StoreErrors with the driver message, not the row', () => {
    const pg = Object.assign(new Error('duplicate key value violates unique constraint "environments_pkey"'), {
      code: '23505',
      detail: 'Key (key)=(production) already exists.',
      constraint: 'environments_pkey',
    })
    const translated = translateError(queryError(pg, ['production']))
    expect(translated).toBeInstanceOf(StoreError)
    expect(translated).toMatchObject({ name: 'StoreError', code: 'DUPLICATE_KEY' })
    expect((translated as Error).message).toContain('environments_pkey')
    expect((translated as Error).cause).toMatchObject({ code: '23505', constraint: 'environments_pkey' })
    expect(JSON.stringify(logged(translated))).not.toContain('production')

    const sqlite = Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })
    expect(translateError(queryError(sqlite, []))).toMatchObject({ code: 'MISSING_REFERENCE' })
    expect(translateError(sqlite)).toMatchObject({ code: 'MISSING_REFERENCE' })
  })

  it('tells other query errors without their parameters, in the message, the stack and the cause', () => {
    const secret = 'vane_secure_s3cr3t-value-that-must-not-be-logged'
    const timeout = Object.assign(new Error('canceling statement due to lock timeout'), {
      code: '55P03',
      where: `while inserting tuple (0,1) with ${secret}`,
    })
    const error = queryError(timeout, ['id', 'name', secret, JSON.stringify(Array(100_000).fill('user'))])
    const translated = translateError(error) as Error
    expect(translated).toBeInstanceOf(StoreQueryError)
    expect(translated).toMatchObject({ name: 'StoreQueryError', code: '55P03' })
    expect(translated.message).toBe('Failed query: INSERT …: canceling statement due to lock timeout')
    const text = JSON.stringify(logged(translated))
    expect(text).toContain('lock timeout')
    expect(text).not.toContain(secret)
    expect(text).not.toContain('user')
    expect(text.length).toBeLessThan(5000)
    // translating again (a store method called through another) changes nothing
    expect(translateError(translated)).toBe(translated)
  })

  it('leaves other errors alone', () => {
    const error = new Error('boom')
    expect(translateError(error)).toBe(error)
    expect(translateError('text')).toBe('text')
  })
})
