/**
 * Environments created on one instance while flags are written on another, on one PostgreSQL schema: every
 * environment's evaluator ends up with every flag, on both instances, without a restart. A write to every
 * environment and the creation of one must not miss each other.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { ServerPool, type ServerProcess } from '../support/server-process.js'
import { POSTGRES_URL, randomSchema, withPostgres } from './databases.js'

const FLAGS = 40
const ENVIRONMENTS = 12

describe('environments created while flags are written (PostgreSQL, two instances)', () => {
  const servers = new ServerPool()
  const schema = randomSchema()
  let a: ServerProcess
  let b: ServerProcess

  beforeAll(async () => {
    await withPostgres((c) => c.query(`CREATE SCHEMA "${schema}"`))
    const env = { DATABASE_URL: POSTGRES_URL, VANE_PG_SCHEMA: schema }
    a = await servers.start({ env })
    b = await servers.start({ env })
  }, 60_000)

  afterAll(async () => {
    await servers.stopAll()
    await withPostgres((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  })

  it('every environment gets every flag, whichever committed first', async () => {
    onTestFailed(() => console.error(a.output(), b.output()))
    const flags = Array.from({ length: FLAGS }, (_, i) => `f${i}`)
    const environments = Array.from({ length: ENVIRONMENTS }, (_, i) => `e${i}`)
    // two lanes of flag writes on A, environments created on B, all at once
    const lane = async (keys: string[]) => {
      for (const key of keys) {
        const res = await a.call('PUT', `/admin/v1/flags/${key}`, {
          type: 'boolean',
          variants: { on: true, off: false },
        })
        expect(res.status, res.text).toBe(201)
      }
    }
    const create = async () => {
      for (const key of environments) {
        const res = await b.call('POST', '/admin/v1/environments', { key })
        expect(res.status, res.text).toBe(201)
      }
    }
    await Promise.all([lane(flags.filter((_, i) => i % 2 === 0)), lane(flags.filter((_, i) => i % 2 === 1)), create()])

    for (const environment of environments) {
      const key = await a.call('POST', '/admin/v1/keys', { kind: 'server', name: `k-${environment}`, environment })
      expect(key.status, key.text).toBe(201)
      const secret = (key.json as { secret: string }).secret
      for (const server of [a, b]) {
        // the other instance follows through LISTEN/NOTIFY: give it a moment, bounded
        let missing: string[] = []
        for (let attempt = 0; attempt < 50; attempt++) {
          const res = await fetch(`${server.url}/ofrep/v1/evaluate/flags`, {
            method: 'POST',
            headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
            body: '{"context":{"targetingKey":"u"}}',
          })
          expect(res.status).toBe(200)
          const got = new Set(((await res.json()) as { flags: { key: string }[] }).flags.map((f) => f.key))
          missing = flags.filter((f) => !got.has(f))
          if (missing.length === 0) break
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
        expect(missing, `${environment} on ${server === a ? 'A' : 'B'}`).toEqual([])
      }
    }
  }, 120_000)
})
