import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { environment } from './contract-fixtures.js'
import { openPostgresStore } from './postgres.js'

const url = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schemas: string[] = []
const newSchema = () => {
  const schema = `vane_test_${randomBytes(6).toString('hex')}`
  schemas.push(schema)
  return schema
}

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

const tablesIn = (client: pg.Client, schema: string) =>
  client
    .query<{ name: string }>(
      `SELECT table_name AS name FROM information_schema.tables
       WHERE table_schema = $1 AND table_name IN ('environments', 'api_keys') ORDER BY table_name`,
      [schema],
    )
    .then((r) => r.rows.map((row) => row.name))

afterAll(() =>
  withClient(async (client) => {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }),
)

it('keeps the tables in the chosen schema when the URL sets its own options', async () => {
  // the decoy stands for the schema a URL's search_path points at: another deployment's tables
  const [schema, decoy] = [newSchema(), newSchema()]
  await withClient((client) => client.query(`CREATE SCHEMA "${decoy}"`))
  const withOptions = new URL(url)
  withOptions.searchParams.set('options', `-c search_path=${decoy} -c statement_timeout=30000`)
  const store = await openPostgresStore({ url: withOptions.toString(), schema })
  try {
    await store.insertEnvironment(environment('production'))
    await withClient(async (client) => {
      expect(await tablesIn(client, schema)).toEqual(['api_keys', 'environments'])
      expect(await tablesIn(client, decoy)).toEqual([])
      const { rows } = await client.query(`SELECT key FROM "${schema}".environments`)
      expect(rows).toEqual([{ key: 'production' }])
    })
  } finally {
    await store.close()
  }
})

it('refuses to start when the migrated tables are not where the migrations put them', async () => {
  const schema = newSchema()
  const first = await openPostgresStore({ url, schema })
  await first.close()
  // the migrations table says the schema is up to date, but its tables are gone (moved, or never there)
  await withClient((client) => client.query(`DROP TABLE "${schema}".api_keys CASCADE`))
  await expect(openPostgresStore({ url, schema })).rejects.toThrow(
    /"api_keys" resolves to nothing, not to the migrated schema "vane_test_[0-9a-f]+"/,
  )
})
