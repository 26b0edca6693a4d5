/**
 * Secrets stay out of the logs when the database fails a write: a real server on PostgreSQL with a short
 * `lock_timeout` (from `?options=` in DATABASE_URL), its tables locked against writes from another connection.
 * Creating a secure-mode client key and uploading cohort members then fail with a 500 and a logged error, which
 * must name neither the secure-mode secret nor a member key (drizzle's own error lists every query parameter).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ServerPool, type ServerProcess } from '../support/server-process.js'
import { sleep } from '../support/wait.js'
import { POSTGRES_URL, randomSchema, withPostgres } from './databases.js'

const schema = randomSchema()
const pool = new ServerPool()
let server: ServerProcess

beforeAll(async () => {
  const url = new URL(POSTGRES_URL)
  url.searchParams.set('options', '-c lock_timeout=300')
  server = await pool.start({ env: { DATABASE_URL: url.toString(), VANE_PG_SCHEMA: schema } })
  expect((await server.call('POST', '/admin/v1/environments', { key: 'production' })).status).toBe(201)
  expect((await server.call('PUT', '/admin/v1/cohorts/vip', { include: ['someone'] })).status).toBe(201)
})

afterAll(async () => {
  await pool.stopAll()
  await withPostgres((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
})

/** Runs `fn` while `table` takes no writes (reads go on), then gives the server's log a moment to flush. */
async function whileLocked(table: string, fn: () => Promise<void>): Promise<void> {
  await withPostgres(async (client) => {
    await client.query('BEGIN')
    await client.query(`LOCK TABLE "${schema}"."${table}" IN SHARE MODE`)
    try {
      await fn()
    } finally {
      await client.query('ROLLBACK')
    }
  })
  await sleep(200)
}

it('a failed key insert logs no secure-mode secret', async () => {
  await whileLocked('api_keys', async () => {
    const reply = await server.call('POST', '/admin/v1/keys', {
      name: 'web',
      kind: 'client',
      environment: 'production',
      secureMode: true,
    })
    expect(reply.status).toBe(500)
  })
  const log = server.output()
  expect(log).toContain('lock timeout')
  expect(log).toMatch(/Failed query: insert into .{0,4}api_keys/)
  expect(log).not.toMatch(/vane_secure_[A-Za-z0-9_-]{8}/)
  expect(log).not.toContain('params:')
})

it('a failed member upload logs no member key', async () => {
  const member = `member-${'x'.repeat(8)}-7f3a9c`
  await whileLocked('cohort_members', async () => {
    const reply = await server.call('POST', '/admin/v1/cohorts/vip/members', { include: [member, 'another'] })
    expect(reply.status).toBe(500)
  })
  const log = server.output()
  expect(log).toMatch(/Failed query: INSERT INTO .{0,4}cohort_members/)
  expect(log).not.toContain(member)
  expect(log).not.toContain('params:')
})
