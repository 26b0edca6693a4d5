import { randomBytes } from 'node:crypto'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import { expect, it } from 'vitest'
import { repositoryContract } from './contract.js'
import { environment } from './contract-fixtures.js'
import { killSetMigrationContract, migrationsUpTo } from './contract-migrations.js'
import { openPostgresStore } from './postgres.js'

const url = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const schemas: string[] = []

// every store gets a schema of its own, so that runs and tests never see each other's rows
async function open() {
  const schema = `vane_test_${randomBytes(6).toString('hex')}`
  schemas.push(schema)
  try {
    return await openPostgresStore({ url, schema })
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${url} refused the test store (${String(error)}). Start PostgreSQL there or point ` +
        'VANE_TEST_POSTGRES_URL at a database the tests may create schemas in.',
      { cause: error },
    )
  }
}

async function dropSchemas() {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

repositoryContract('postgres', open, dropSchemas)

it('puts every table and the migrations table in the chosen schema', async () => {
  const store = await open()
  const schema = schemas.at(-1)!
  await store.insertEnvironment(environment('production'))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ table_schema: string; table_name: string }>(
      `SELECT table_schema, table_name FROM information_schema.tables
       WHERE table_name IN ('environments', '__drizzle_migrations') AND table_schema = $1 ORDER BY table_name`,
      [schema],
    )
    expect(rows.map((r) => r.table_name)).toEqual(['__drizzle_migrations', 'environments'])
    // opening again finds the migrations applied and changes nothing
    const again = await openPostgresStore({ url, schema })
    expect(await again.getEnvironment('production')).toEqual(environment('production'))
    await again.close()
  } finally {
    await client.end()
    await store.close()
    await dropSchemas()
  }
})

killSetMigrationContract('postgres', async () => {
  const schema = `vane_test_${randomBytes(6).toString('hex')}`
  schemas.push(schema)
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` })
  await client.connect()
  await client.query(`CREATE SCHEMA "${schema}"`)
  await migrate(drizzle({ client }), {
    migrationsFolder: migrationsUpTo('pg', '0002_outcomes_window_start'),
    migrationsSchema: schema,
  })
  return {
    exec: async (sql) => {
      await client.query(sql)
    },
    open: async () => {
      await client.end()
      return openPostgresStore({ url, schema })
    },
  }
})
