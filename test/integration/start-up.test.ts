/**
 * Start-up as a deployment does it: several replicas started at the same moment on a fresh PostgreSQL schema
 * with the same bootstrap admin key all come up, and the key exists once; a weak bootstrap key stops the
 * server before it touches the database.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ServerPool } from '../support/server-process.js'
import { openPostgresView, POSTGRES_URL, randomSchema, withPostgres } from './databases.js'

const ROUNDS = 10
const REPLICAS = 3

describe('replicas starting together on a fresh schema', () => {
  const pool = new ServerPool()
  const schemas: string[] = []
  afterEach(async () => {
    await pool.stopAll()
    await withPostgres(async (client) => {
      for (const schema of schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    })
  })

  it(`all ${REPLICAS} come up, ${ROUNDS} times over, with one bootstrap key between them`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const schema = randomSchema()
      schemas.push(schema)
      const starts = await Promise.allSettled(
        Array.from({ length: REPLICAS }, () =>
          pool.start({ env: { DATABASE_URL: POSTGRES_URL, VANE_PG_SCHEMA: schema }, timeoutMs: 60_000 }),
        ),
      )
      const failed = starts.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []))
      expect(failed, `round ${round + 1}`).toEqual([])
      for (const start of starts) {
        if (start.status !== 'fulfilled') continue
        const keys = await start.value.call('GET', '/admin/v1/keys')
        expect(keys.status).toBe(200)
      }
      const db = await openPostgresView(schema)
      try {
        expect(await db.query('SELECT name, kind FROM api_keys')).toEqual([{ name: 'bootstrap', kind: 'admin' }])
        const created = (await db.audits()).filter((a) => a.action === 'key.create')
        expect(created).toHaveLength(1)
      } finally {
        await db.close()
      }
      await pool.stopAll()
    }
  }, 600_000)
})

describe('a weak VANE_BOOTSTRAP_ADMIN_KEY', () => {
  const pool = new ServerPool()
  afterEach(() => pool.stopAll())

  it('stops the server with an error that says how to make a good one', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'vane-start-up-'))
    try {
      const start = pool.start({ env: { VANE_DATA_DIR: dataDir, VANE_BOOTSTRAP_ADMIN_KEY: 'abc' } })
      await expect(start).rejects.toThrow(/exited \(code 1,[\s\S]*too weak[\s\S]*openssl rand -base64 32/)
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
