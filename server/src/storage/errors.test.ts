import { describe, expect, it } from 'vitest'
import { StoreError, translateError } from './errors.js'

// shaped like drizzle's DrizzleQueryError: the query, its parameters, the driver's error as the cause
function queryError(cause: Error, params: unknown[]) {
  return Object.assign(new Error(`Failed query: INSERT …\nparams: ${params}`), { query: 'INSERT …', params, cause })
}

describe('translateError', () => {
  it('turns constraint errors of either driver into StoreErrors with the driver message', () => {
    const pg = Object.assign(new Error('duplicate key value violates unique constraint "environments_pkey"'), {
      code: '23505',
      detail: 'Key (key)=(production) already exists.',
    })
    const translated = translateError(queryError(pg, ['production']))
    expect(translated).toBeInstanceOf(StoreError)
    expect(translated).toMatchObject({ name: 'StoreError', code: 'DUPLICATE_KEY', cause: pg })
    expect((translated as Error).message).toContain('Key (key)=(production) already exists.')

    const sqlite = Object.assign(new Error('FOREIGN KEY constraint failed'), { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' })
    expect(translateError(queryError(sqlite, []))).toMatchObject({ code: 'MISSING_REFERENCE' })
  })

  it('shortens other query errors whose message lists huge parameters', () => {
    const down = Object.assign(new Error('Connection terminated'), { code: 'ECONNRESET' })
    const error = queryError(down, ['cohort', 'include', JSON.stringify(Array(100_000).fill('user'))])
    expect(translateError(error)).toBe(error)
    expect(error.message.length).toBeLessThan(3000)
    expect(error.stack!.length).toBeLessThan(5000)
    expect(error.cause).toBe(down)
  })

  it('leaves other errors alone', () => {
    const error = new Error('boom')
    expect(translateError(error)).toBe(error)
    expect(translateError('text')).toBe('text')
  })
})
