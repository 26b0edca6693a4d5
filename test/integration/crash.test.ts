/**
 * The server process killed with SIGKILL in the middle of a stream of writes on SQLite: after a restart on the
 * same data directory every acknowledged write is there, nothing half-written is, the change log has no gaps,
 * and the database file passes `PRAGMA integrity_check`. Three kills at different moments, on one data dir,
 * so that later cycles also run on a database that was recovered from a crash.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type Reply, ServerPool, type ServerProcess } from '../support/server-process.js'
import { sleep } from '../support/wait.js'
import { openSqliteView, sqliteFile } from './databases.js'
import { checkWriteLog } from './write-log.js'

const ENV = 'production'
const COHORT = 'crowd'
/** Sequential writers of flags, each with its own keys, running side by side. */
const FLAG_WRITERS = 4
/** Member keys per cohort write: a transaction big enough to be caught half-way. */
const MEMBER_BATCH = 2_000
/** Bounds every writer loop, whatever the speed of the machine. */
const MAX_WRITES_PER_LOOP = 20_000
/** When each cycle's SIGKILL lands, after the writers start (plus up to 150 ms of jitter). */
const KILL_AFTER_MS = [700, 1_200, 1_700]

/** A write whose outcome the client learned (2xx), or did not (the connection died with the server). */
interface Attempt {
  what: string
  status: 'acked' | 'unknown'
}

describe('SIGKILL during a stream of writes (SQLite)', () => {
  const servers = new ServerPool()
  let dir: string
  const flags = new Map<string, Attempt>()
  const memberBatches: { keys: string[]; attempt: Attempt }[] = []

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vane-crash-'))
  })
  afterEach(() => servers.stopAll())
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const start = () => servers.start({ env: { VANE_DATA_DIR: dir } })

  /** Runs the writers until `stop()`; a non-2xx answer is recorded as unexpected and ends that writer. */
  function startWriters(server: ServerProcess, cycle: number) {
    let stopping = false
    let inFlight = 0
    const unexpected: string[] = []
    const send = async (what: string, request: () => Promise<Reply>, onAck: () => void, onUnknown: () => void) => {
      inFlight++
      try {
        const reply = await request()
        if (reply.status >= 200 && reply.status < 300) onAck()
        else {
          unexpected.push(`${what}: ${reply.status} ${reply.text.slice(0, 300)}`)
          return false
        }
        return true
      } catch {
        // the server died under this request: it may or may not have committed
        onUnknown()
        return false
      } finally {
        inFlight--
      }
    }

    const flagWriter = async (writer: number) => {
      for (let i = 0; i < MAX_WRITES_PER_LOOP && !stopping; i++) {
        const key = `c${cycle}-w${writer}-${i}`
        const attempt: Attempt = { what: `flag ${key}`, status: 'unknown' }
        flags.set(key, attempt)
        const ok = await send(
          attempt.what,
          () =>
            server.call('PUT', `/admin/v1/flags/${key}`, {
              type: 'string',
              variants: { a: `${key}-a`, b: `${key}-b` },
              tags: [`cycle-${cycle}`],
            }),
          () => {
            attempt.status = 'acked'
          },
          () => {},
        )
        if (!ok) return
      }
    }

    const memberWriter = async () => {
      for (let i = 0; i < MAX_WRITES_PER_LOOP && !stopping; i++) {
        const keys = Array.from({ length: MEMBER_BATCH }, (_, n) => `c${cycle}-b${i}-m${n}`)
        const attempt: Attempt = { what: `members batch c${cycle}-b${i}`, status: 'unknown' }
        memberBatches.push({ keys, attempt })
        const ok = await send(
          attempt.what,
          () => server.call('POST', `/admin/v1/cohorts/${COHORT}/members`, { include: keys }),
          () => {
            attempt.status = 'acked'
          },
          () => {},
        )
        if (!ok) return
      }
    }

    const done = Promise.all([...Array.from({ length: FLAG_WRITERS }, (_, w) => flagWriter(w)), memberWriter()])
    return {
      inFlight: () => inFlight,
      unexpected,
      stop: async () => {
        stopping = true
        // bounded: every request has its own timeout, and the loops stop at the first failure
        await done
      },
    }
  }

  it.each(KILL_AFTER_MS.map((ms, cycle) => [cycle, ms] as const))(
    'cycle %i: SIGKILL %i ms into the writes loses no acknowledged write',
    async (cycle, killAfter) => {
      const server = await start()
      if (cycle === 0) {
        expect((await server.call('POST', '/admin/v1/environments', { key: ENV })).status).toBe(201)
        expect((await server.call('PUT', `/admin/v1/cohorts/${COHORT}`, {})).status).toBe(201)
      }

      const writers = startWriters(server, cycle)
      await sleep(killAfter + Math.floor(Math.random() * 150))
      const inFlightAtKill = writers.inFlight()
      await server.stop('SIGKILL')
      expect((await server.exit()).signal).toBe('SIGKILL')
      await writers.stop()

      expect(writers.unexpected).toEqual([])
      expect(inFlightAtKill, 'requests in flight when the server was killed').toBeGreaterThan(0)
      const acked = [...flags].filter(([, a]) => a.status === 'acked').map(([key]) => key)
      const ackedThisCycle = acked.filter((key) => key.startsWith(`c${cycle}-`))
      expect(ackedThisCycle.length, 'flag writes acknowledged before the kill').toBeGreaterThan(0)

      // restart on the crashed files: every acknowledged write is served
      const restarted = await start()
      const missing: string[] = []
      for (let i = 0; i < acked.length; i += 50) {
        const replies = await Promise.all(
          acked
            .slice(i, i + 50)
            .map(async (key) => [key, await restarted.call('GET', `/admin/v1/flags/${key}`)] as const),
        )
        for (const [key, reply] of replies) if (reply.status !== 200) missing.push(`${key}: ${reply.status}`)
      }
      expect(missing).toEqual([])
      const cohort = await restarted.call('GET', `/admin/v1/cohorts/${COHORT}`)
      expect(cohort.status).toBe(200)
      const ackedMembers = memberBatches.filter((b) => b.attempt.status === 'acked').length * MEMBER_BATCH
      expect((cohort.json as { members: { include: number } }).members.include).toBeGreaterThanOrEqual(ackedMembers)
      await restarted.stop('SIGTERM')
      expect(await restarted.exit()).toEqual({ code: 0, signal: null })

      // and the file itself, with the server gone
      const db = openSqliteView(sqliteFile(dir))
      try {
        expect(db.db.pragma('integrity_check', { simple: true })).toBe('ok')
        expect(db.db.pragma('foreign_key_check')).toEqual([])

        const { changes } = await checkWriteLog(db, ENV)

        // flags: every acknowledged one is stored; nothing that was never sent is; each exactly once in the log
        const stored = new Set((await db.query<{ key: string }>('SELECT key FROM flags')).map((r) => r.key))
        expect(acked.filter((key) => !stored.has(key))).toEqual([])
        expect([...stored].filter((key) => !flags.has(key))).toEqual([])
        const changesPerFlag = new Map<string, number>()
        for (const change of changes)
          if (change.entity === 'flag') changesPerFlag.set(change.key, (changesPerFlag.get(change.key) ?? 0) + 1)
        expect([...stored].filter((key) => changesPerFlag.get(key) !== 1)).toEqual([])
        expect([...changesPerFlag.keys()].filter((key) => !stored.has(key))).toEqual([])

        // member batches: acknowledged ones complete, the one cut off all or nothing, matching the log
        const members = new Set(
          (
            await db.query<{ member_key: string }>('SELECT member_key FROM cohort_members WHERE cohort_key = ?', [
              COHORT,
            ])
          ).map((r) => r.member_key),
        )
        const memberChanges = changes.filter((c) => c.entity === 'cohort' && c.op === 'members').length
        let storedBatches = 0
        const torn: string[] = []
        for (const { keys, attempt } of memberBatches) {
          const present = keys.filter((k) => members.has(k)).length
          if (present === keys.length) storedBatches++
          else if (attempt.status === 'acked' || present !== 0) torn.push(`${attempt.what}: ${present}/${keys.length}`)
        }
        expect(torn).toEqual([])
        expect(members.size).toBe(storedBatches * MEMBER_BATCH)
        expect(memberChanges).toBe(storedBatches)
      } finally {
        await db.close()
      }
    },
    60_000,
  )
})
