/**
 * Many writers racing on one flag's targeting with `If-Match`, against a real server process over HTTP, on
 * SQLite and on PostgreSQL: one winner per version, 412 problem+json for everyone else, no lost update, and
 * change and audit logs without gaps or duplicates that pair one to one.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { type Reply, ServerPool, type ServerProcess } from '../support/server-process.js'
import {
  type DatabaseView,
  openPostgresView,
  openSqliteView,
  POSTGRES_URL,
  randomSchema,
  sqliteFile,
  withPostgres,
} from './databases.js'
import { checkWriteLog } from './write-log.js'

const WRITERS = 50
const ROUNDS = 5
/** Attempts each writer gets in the retry phase; with 50 writers the last one needs at most 50. */
const MAX_ATTEMPTS = 200
const ENV = 'production'
/** Per test: generous, since the machine may be busy; every loop inside is bounded anyway. */
const TIMEOUT_MS = 90_000
/** Flags created concurrently by the "different flags" phase; a flag may have at most 100 prerequisites. */
const FLAG_ROUNDS = 4
const PREREQUISITES_PER_FLAG = 100

interface Dialect {
  name: 'sqlite' | 'postgres'
  /** Prepares an empty database; returns the server's environment and how to look inside and clean up. */
  setup(): Promise<{ env: Record<string, string>; open(): Promise<DatabaseView>; cleanup(): Promise<void> }>
}

const dialects: Dialect[] = [
  {
    name: 'sqlite',
    setup: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'vane-race-'))
      return {
        env: { VANE_DATA_DIR: dir },
        open: async () => openSqliteView(sqliteFile(dir)),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      }
    },
  },
  {
    name: 'postgres',
    setup: async () => {
      const schema = randomSchema()
      await withPostgres((c) => c.query(`CREATE SCHEMA "${schema}"`))
      return {
        env: { DATABASE_URL: POSTGRES_URL, VANE_PG_SCHEMA: schema },
        open: () => openPostgresView(schema),
        cleanup: () => withPostgres((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(() => {}),
      }
    },
  },
]

/** A targeting body unique to (tag, writer): its rule id and target name the writer. */
function targeting(tag: string, writer: number) {
  return {
    enabled: true,
    offVariant: 'off',
    fallthrough: { variant: 'off' },
    rules: [
      {
        id: `${tag}-w${writer}`,
        clauses: [{ attribute: 'email', op: 'endsWith', values: [`@writer-${writer}.example`] }],
        serve: { variant: 'on' },
      },
    ],
    targets: { on: [`user-${tag}-${writer}`] },
  }
}

type Targeting = ReturnType<typeof targeting>
const ruleId = (body: unknown) => (body as { rules?: { id: string }[] } | null)?.rules?.[0]?.id

const summary = (replies: Reply[]) => {
  const counts: Record<number, number> = {}
  for (const r of replies) counts[r.status] = (counts[r.status] ?? 0) + 1
  const odd = replies.find((r) => r.status !== 200 && r.status !== 412)
  return `statuses ${JSON.stringify(counts)}${odd ? `; e.g. ${odd.status} ${odd.text.slice(0, 500)}` : ''}`
}

function expectPreconditionFailed(reply: Reply): void {
  expect(reply.status).toBe(412)
  expect(reply.headers.get('content-type')).toBe('application/problem+json')
  expect(reply.json).toMatchObject({ status: 412, type: 'urn:vane:problem:precondition_failed' })
}

describe.each(dialects)('concurrent If-Match writers on $name', (dialect) => {
  const servers = new ServerPool()
  let server: ServerProcess
  let db: Awaited<ReturnType<Dialect['setup']>>
  /** Rule ids of the accepted targeting writes, per flag, in the order of their versions. */
  const accepted = new Map<string, string[]>()
  /** Acknowledged changes to ENV outside `accepted`. */
  let otherChanges = 0

  const reportOnFailure = () =>
    onTestFailed(() => {
      console.error(server?.output())
    })

  const createFlag = async (key: string) => {
    const res = await server.call('PUT', `/admin/v1/flags/${key}`, {
      type: 'boolean',
      variants: { on: true, off: false },
    })
    expect(res.status, res.text).toBe(201)
    accepted.set(key, [])
  }

  beforeAll(async () => {
    db = await dialect.setup()
    server = await servers.start({ env: db.env })
    const env = await server.call('POST', '/admin/v1/environments', { key: ENV })
    if (env.status !== 201) throw new Error(`creating ${ENV}: ${env.status} ${env.text}\n${server.output()}`)
  })

  afterAll(async () => {
    await servers.stopAll()
    await db?.cleanup()
  })

  it(
    `${WRITERS} writers with the same ETag, ${ROUNDS} rounds: exactly one wins each version`,
    async () => {
      reportOnFailure()
      const flag = 'race'
      await createFlag(flag)
      let last: Targeting | undefined
      for (let round = 0; round < ROUNDS; round++) {
        const reads = await Promise.all(
          Array.from({ length: WRITERS }, () => server.call('GET', `/admin/v1/environments/${ENV}/flags/${flag}`)),
        )
        expect(reads.map((r) => r.status)).toEqual(reads.map(() => 200))
        const etags = new Set(reads.map((r) => r.headers.get('etag')))
        expect([...etags]).toEqual([`"${round}"`])

        const bodies = Array.from({ length: WRITERS }, (_, i) => targeting(`r${round}`, i))
        const replies = await Promise.all(
          bodies.map((body) =>
            server.call('PUT', `/admin/v1/environments/${ENV}/flags/${flag}`, body, { 'if-match': `"${round}"` }),
          ),
        )
        const winners = replies.flatMap((r, i) => (r.status === 200 ? [i] : []))
        expect(winners, `round ${round}: ${summary(replies)}`).toHaveLength(1)
        expect(
          replies.filter((r) => r.status !== 200 && r.status !== 412),
          summary(replies),
        ).toEqual([])
        for (const reply of replies) if (reply.status !== 200) expectPreconditionFailed(reply)

        const winner = winners[0]!
        const reply = replies[winner]!
        expect(reply.headers.get('etag')).toBe(`"${round + 1}"`)
        expect(reply.json).toMatchObject({ version: round + 1, rules: bodies[winner]!.rules })
        last = bodies[winner]!
        accepted.get(flag)!.push(ruleId(last)!)
      }

      // no lost update: what is stored is the last winner's body, at the last version
      const final = await server.call('GET', `/admin/v1/environments/${ENV}/flags/${flag}`)
      expect(final.status).toBe(200)
      expect(final.headers.get('etag')).toBe(`"${ROUNDS}"`)
      expect(final.json).toMatchObject({ ...last, version: ROUNDS })
    },
    TIMEOUT_MS,
  )

  it(
    `${WRITERS} writers retrying on 412 until each wins: every write lands exactly once`,
    async () => {
      reportOnFailure()
      const flag = 'race-retry'
      await createFlag(flag)
      const unexpected: Reply[] = []
      const wins = await Promise.all(
        Array.from({ length: WRITERS }, async (_, i) => {
          const body = targeting('retry', i)
          for (let attempt = 0; attempt < MAX_ATTEMPTS && unexpected.length === 0; attempt++) {
            const read = await server.call('GET', `/admin/v1/environments/${ENV}/flags/${flag}`)
            if (read.status !== 200) {
              unexpected.push(read)
              break
            }
            const put = await server.call('PUT', `/admin/v1/environments/${ENV}/flags/${flag}`, body, {
              'if-match': read.headers.get('etag') ?? '',
            })
            if (put.status === 200) return { writer: i, version: (put.json as { version: number }).version, attempt }
            if (put.status !== 412) {
              unexpected.push(put)
              break
            }
            expectPreconditionFailed(put)
          }
          return { writer: i, version: undefined, attempt: MAX_ATTEMPTS }
        }),
      )
      expect(unexpected.map((r) => `${r.status} ${r.text.slice(0, 300)}`)).toEqual([])
      expect(wins.filter((w) => w.version === undefined)).toEqual([])
      // one winner per version: the acknowledged versions are exactly 1..WRITERS
      const byVersion = [...wins].sort((a, b) => a.version! - b.version!)
      expect(byVersion.map((w) => w.version)).toEqual(Array.from({ length: WRITERS }, (_, i) => i + 1))
      accepted.set(
        flag,
        byVersion.map((w) => `retry-w${w.writer}`),
      )

      const lastWriter = byVersion.at(-1)!.writer
      const final = await server.call('GET', `/admin/v1/environments/${ENV}/flags/${flag}`)
      expect(final.headers.get('etag')).toBe(`"${WRITERS}"`)
      expect(final.json).toMatchObject({ ...targeting('retry', lastWriter), version: WRITERS })
    },
    TIMEOUT_MS,
  )

  it(
    `${WRITERS} writers creating different flags at once: the next write sees every one of them`,
    async () => {
      reportOnFailure()
      const keys: string[] = []
      for (let round = 0; round < FLAG_ROUNDS; round++) {
        const batch = Array.from({ length: WRITERS }, (_, i) => `flag-${round}-${i}`)
        const replies = await Promise.all(
          batch.map((key) =>
            server.call('PUT', `/admin/v1/flags/${key}`, { type: 'boolean', variants: { on: true, off: false } }),
          ),
        )
        expect(replies.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.text.slice(0, 300)}`)).toEqual([])
        keys.push(...batch)
        otherChanges += batch.length
      }
      // every write is validated against the server's compiled evaluator: a committed flag it missed is "unknown"
      const problems: unknown[] = []
      for (let i = 0; i * PREREQUISITES_PER_FLAG < keys.length; i++) {
        const key = `needs-all-${i}`
        const created = await server.call('PUT', `/admin/v1/flags/${key}`, {
          type: 'boolean',
          variants: { on: true, off: false },
        })
        expect(created.status, created.text).toBe(201)
        otherChanges += 1
        const prerequisites = keys
          .slice(i * PREREQUISITES_PER_FLAG, (i + 1) * PREREQUISITES_PER_FLAG)
          .map((flag) => ({ flag, variants: ['off'] }))
        const res = await server.call('PUT', `/admin/v1/environments/${ENV}/flags/${key}`, {
          enabled: true,
          offVariant: 'off',
          fallthrough: { variant: 'on' },
          prerequisites,
        })
        if (res.status === 200) otherChanges += 1
        else problems.push(res.json ?? res.text)
      }
      expect(problems).toEqual([])
    },
    TIMEOUT_MS,
  )

  it('change_log is 1..N without gaps, pairs one to one with audit_log, and holds every accepted write', async () => {
    reportOnFailure()
    const view = await db.open()
    try {
      const { changes, pairs } = await checkWriteLog(view, ENV)
      // flag creation + the accepted targeting writes of each flag; nothing else was written to ENV
      const expectedChanges = [...accepted.values()].reduce((n, ids) => n + 1 + ids.length, otherChanges)
      expect(changes).toHaveLength(expectedChanges)
      expect(await view.environmentVersion(ENV)).toBe(expectedChanges)

      for (const [flag, ids] of accepted) {
        const ofFlag = pairs.filter(([change]) => change.key === flag)
        expect(ofFlag.map(([, audit]) => audit.action)).toEqual(['flag.create', ...ids.map(() => 'targeting.update')])
        const targetingPairs = ofFlag.slice(1)
        // the log holds exactly the acknowledged writes, in the order of their versions: nothing lost, nothing extra
        expect(targetingPairs.map(([change]) => ruleId(change.payload))).toEqual(ids)
        expect(targetingPairs.map(([, audit]) => ruleId(audit.after))).toEqual(ids)
        expect(targetingPairs.map(([, audit]) => (audit.after as { version: number }).version)).toEqual(
          ids.map((_, i) => i + 1),
        )
      }
    } finally {
      await view.close()
    }
  })
})
