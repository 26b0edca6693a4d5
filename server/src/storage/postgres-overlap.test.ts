import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { loadSnapshot } from '../live/hub.js'
import { environment } from './contract-fixtures.js'
import { openPostgresStore } from './postgres.js'

// A file of its own: pg warns about overlapping queries once per process, so nothing before this test may
// have used up that warning.

const url = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schema = `vane_test_${randomBytes(6).toString('hex')}`

afterAll(async () => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
})

it('never runs two queries at once on the connection of a transaction', async () => {
  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(warning.message)
  process.on('warning', onWarning)
  const store = await openPostgresStore({ url, schema })
  try {
    await store.insertEnvironment(environment('production'))
    await store.transaction(async (tx) => {
      // what creating an environment does: read its snapshot with reads in parallel
      await loadSnapshot(tx, 'production')
      await Promise.all([tx.listFlags(), tx.listCohorts(), tx.listEnvironments(), tx.listApiKeys()])
    })
    // warnings are emitted on the next tick
    await new Promise((resolve) => setTimeout(resolve, 50))
  } finally {
    process.off('warning', onWarning)
    await store.close()
  }
  expect(warnings.filter((w) => w.includes('already executing a query'))).toEqual([])
})
