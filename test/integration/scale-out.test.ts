/**
 * Scale-out on the real PostgreSQL: three `vane serve` processes (A, B, C) on one schema of their own, SDK
 * streams on each, writes spread round-robin over all three.
 *
 * 1. 500 writes, 10 in flight: every stream on every instance sees every change exactly once, in version order
 *    (ids after its first `put` are exactly v0+1..N), and what each saw equals the change log.
 * 2. Two instances racing conflicting writes with the same `If-Match`: one wins, the other gets 412, every
 *    instance ends with the winner.
 * 3. `/readyz` reports each instance's change feed (connected, behind).
 * 4. The same as 1 while B is restarted twice (SIGTERM, then SIGKILL; its streams move to the others and resume
 *    with `Last-Event-ID`) and every database connection of C is cut twice (`pg_terminate_backend` on C's
 *    `application_name`: its LISTEN connection and its pool); no change lost or duplicated anywhere.
 *
 * Each instance connects with `?application_name=vane-<x>-<schema>`, so the cuts hit that instance only.
 */
import { randomBytes } from 'node:crypto'
import type { Snapshot } from '@vane/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.js'
import { type Reply, ServerPool, type ServerProcess } from '../support/server-process.js'
import { sleep } from '../support/wait.js'
import { type DatabaseView, openPostgresView, POSTGRES_URL, randomSchema, withPostgres } from './databases.js'
import { normalise, StreamFollower } from './sse-follower.js'

const NAMES = ['a', 'b', 'c'] as const
type Name = (typeof NAMES)[number]
const FLAGS = 10
const WRITES = 500
const IN_FLIGHT = 10
const STREAMS_PER_INSTANCE = 3
const ENVS = ['steady', 'race', 'chaos'] as const

interface Instance {
  name: Name
  port: number
  appName: string
  server: ServerProcess
}

const targeting = (i: number) => ({
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: i % 2 === 0 ? 'on' : 'off' },
  targets: { on: [`user-${i}`] },
})

describe('three instances on one PostgreSQL schema', () => {
  const schema = randomSchema()
  const pool = new ServerPool()
  const streamSecret = randomBytes(24).toString('hex')
  const instances = new Map<Name, Instance>()
  const followers: StreamFollower[] = []
  let db: DatabaseView
  let serverKey: string
  let schemaCreated = false

  const inst = (name: Name) => instances.get(name)!
  const urlOf = (name: Name) => `http://127.0.0.1:${inst(name).port}`

  async function start(name: Name, port: number): Promise<Instance> {
    const appName = `vane-${name}-${schema}`
    const url = new URL(POSTGRES_URL)
    url.searchParams.set('application_name', appName)
    const server = await pool.start({
      env: {
        DATABASE_URL: url.toString(),
        VANE_PG_SCHEMA: schema,
        PORT: String(port),
        VANE_HEARTBEAT_MS: '1000',
        VANE_STREAM_SECRET: streamSecret,
      },
    })
    const instance = { name, port, appName, server }
    instances.set(name, instance)
    return instance
  }

  /** Sends an admin request to `name`, or (when it is down or answers 5xx) to the next instances; bounded. */
  async function write(first: number, method: string, path: string, body: unknown): Promise<Reply> {
    let last = ''
    for (let attempt = 0; attempt < 40; attempt++) {
      const instance = inst(NAMES[(first + attempt) % NAMES.length]!)
      try {
        const reply = await instance.server.call(method, path, body, {}, 10_000)
        if (reply.status < 500) return reply
        last = `${instance.name}: ${reply.status} ${reply.text.slice(0, 200)}`
      } catch (error) {
        last = `${instance.name}: ${error instanceof Error ? error.message : error}`
      }
      await sleep(20 + attempt * 10)
    }
    throw new Error(`${method} ${path} failed on every instance, last: ${last}`)
  }

  async function admin(method: string, path: string, body: unknown, expected: number[]): Promise<Reply> {
    const reply = await write(0, method, path, body)
    if (!expected.includes(reply.status)) throw new Error(`${method} ${path}: ${reply.status} ${reply.text}`)
    return reply
  }

  /** 500 targeting writes to `env`, round-robin over the instances, `IN_FLIGHT` at a time, `paceMs` apart per lane. */
  async function writeMany(env: string, paceMs: number, progress?: (done: number) => void): Promise<number> {
    let next = 0
    let done = 0
    const lane = async () => {
      while (next < WRITES) {
        const i = next++
        const reply = await write(
          i % NAMES.length,
          'PUT',
          `/admin/v1/environments/${env}/flags/f${i % FLAGS}`,
          targeting(i),
        )
        if (reply.status !== 200) throw new Error(`write ${i}: ${reply.status} ${reply.text}`)
        done++
        progress?.(done)
        if (paceMs > 0) await sleep(paceMs)
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
    return done
  }

  /** Streams on every instance, each falling back to the others (in order) when its own is down. */
  async function follow(env: string, movers = 0): Promise<StreamFollower[]> {
    const key = await admin(
      'POST',
      '/admin/v1/keys',
      { name: `server-${env}`, kind: 'server', environment: env },
      [201],
    )
    const secret = (key.json as { secret: string }).secret
    const started: StreamFollower[] = []
    // streams that resume on the next instance at every reconnect (an SDK behind a round-robin load balancer)
    for (let n = 0; n < movers; n++) {
      let hop = n
      const follower = new StreamFollower({
        name: `${env}-mover${n}`,
        secret,
        urls: () => {
          const i = hop++ % NAMES.length
          return [...NAMES.slice(i), ...NAMES.slice(0, i)].map(urlOf)
        },
        idleMs: 5_000,
        maxConnects: 2_000,
        // at once: an instance a few milliseconds behind the last one is what this is about
        retryMs: 0,
      })
      followers.push(follower)
      started.push(follower)
    }
    for (const [i, name] of NAMES.entries()) {
      const order = [...NAMES.slice(i), ...NAMES.slice(0, i)]
      for (let n = 0; n < STREAMS_PER_INSTANCE; n++) {
        const follower = new StreamFollower({
          name: `${env}-${name}${n}`,
          secret,
          urls: () => order.map(urlOf),
          idleMs: 5_000,
        })
        followers.push(follower)
        started.push(follower)
      }
    }
    await Promise.all(started.map((f) => f.start()))
    return started
  }

  /** Waits for every stream to reach the environment's version, then checks each against the change log. */
  async function verify(env: string, streams: StreamFollower[]): Promise<void> {
    const version = (await db.environmentVersion(env))!
    const behind = () => streams.filter((f) => f.lastId !== version)
    await streams[0]!.waitFor(() => behind().length === 0, 20_000)
    expect(
      behind().map((f) => `${f.name} at ${f.lastId}`),
      `streams behind version ${version}`,
    ).toEqual([])
    const log = await db.changes(env)
    const byVersion = new Map(log.map((c) => [c.version, c]))
    const union = new Set<number>()
    for (const f of streams) {
      expect(f.problems, f.name).toEqual([])
      expect(f.stats.puts, `${f.name}: one put, on the first connect`).toBe(1)
      const start = f.startId!
      const ids = f.received.map((r) => r.id)
      expect(ids, `${f.name}: exactly ${start + 1}..${version}`).toEqual(
        Array.from({ length: version - start }, (_, i) => start + 1 + i),
      )
      for (const r of f.received) {
        union.add(r.id)
        const row = byVersion.get(r.id)
        expect(row, `${f.name}: change ${r.id} is in the log`).toBeDefined()
        expect({ key: r.patch.key, kind: r.patch.kind, op: r.patch.op }, `${f.name} change ${r.id}`).toEqual({
          key: row!.key,
          kind: row!.entity,
          op: row!.op,
        })
        if (r.patch.op === 'put') expect(r.patch.value, `${f.name} change ${r.id}`).toEqual(row!.payload)
      }
    }
    const first = Math.min(...streams.map((f) => f.startId!))
    expect([...union].sort((x, y) => x - y)).toEqual(log.filter((c) => c.version > first).map((c) => c.version))

    // and every instance serves the same state, which is what each stream built from its events
    const snapshots = await Promise.all(
      NAMES.map(async (name) => {
        const secret = (await admin(
          'POST',
          '/admin/v1/keys',
          { name: `check-${env}-${name}`, kind: 'server', environment: env },
          [201],
        ).then((r) => r.json)) as { secret: string }
        const res = await fetch(`${urlOf(name)}/sdk/v1/snapshot`, {
          headers: { authorization: `Bearer ${secret.secret}` },
          signal: AbortSignal.timeout(10_000),
        })
        expect(res.status).toBe(200)
        return normalise((await res.json()) as Snapshot)
      }),
    )
    for (const snapshot of snapshots) {
      expect(snapshot.version).toBe(version)
      expect(snapshot).toEqual(snapshots[0])
    }
    for (const f of streams) expect(normalise(f.evaluator!.snapshot()), f.name).toEqual(snapshots[0])
  }

  async function readyz(
    name: Name,
  ): Promise<{ status: number; body: { feed?: { connected: boolean; behind: number } } }> {
    const res = await fetch(`${urlOf(name)}/readyz`, { signal: AbortSignal.timeout(5_000) })
    return { status: res.status, body: (await res.json()) as { feed?: { connected: boolean; behind: number } } }
  }

  beforeAll(async () => {
    await withPostgres((c) => c.query(`CREATE SCHEMA "${schema}"`))
    schemaCreated = true
    const ports = await Promise.all(NAMES.map(() => freePort()))
    // the first one runs the migrations; the others start together
    await start('a', ports[0]!)
    await Promise.all([start('b', ports[1]!), start('c', ports[2]!)])
    db = await openPostgresView(schema)
    for (const env of ENVS) await admin('POST', '/admin/v1/environments', { key: env }, [201])
    for (let i = 0; i < FLAGS; i++)
      await admin('PUT', `/admin/v1/flags/f${i}`, { type: 'boolean', variants: { on: true, off: false } }, [201])
    const key = await admin('POST', '/admin/v1/keys', { name: 'server', kind: 'server', environment: 'steady' }, [201])
    serverKey = (key.json as { secret: string }).secret
  }, 90_000)

  afterAll(async () => {
    await Promise.all(followers.map((f) => f.stop()))
    await pool.stopAll()
    await db?.close()
    if (schemaCreated) await withPostgres((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
  })

  it('500 writes over three instances reach every stream on every instance once, in order', async () => {
    expect(serverKey).toMatch(/^vane_server_/)
    const streams = await follow('steady', 3)
    const before = (await db.environmentVersion('steady'))!
    expect(streams.map((f) => f.startId)).toEqual(streams.map(() => before))
    const movers = streams.filter((f) => f.name.includes('mover'))
    let writing = true
    // movers drop their stream every 40 ms and resume on the next instance, which may be a little behind
    const moving = (async () => {
      for (let i = 0; i < 2_000 && writing; i++) {
        await sleep(40)
        for (const f of movers) f.drop()
      }
    })()
    const started = performance.now()
    const written = await writeMany('steady', 0).finally(() => {
      writing = false
    })
    await moving
    console.info(`scale-out: ${written} writes over 3 instances in ${(performance.now() - started).toFixed(0)} ms`)
    expect(written).toBe(WRITES)
    expect(await db.environmentVersion('steady')).toBe(before + WRITES)
    await verify('steady', streams)
    // every other stream stayed on its own instance: nothing dropped them
    for (const f of streams) if (!movers.includes(f)) expect(f.stats.connects, f.name).toBe(1)
    for (const f of movers) {
      expect(f.stats.resumes, f.name).toBeGreaterThan(50)
      expect(new Set(f.servedBy).size, f.name).toBe(3)
    }
  }, 120_000)

  it('two instances racing conflicting writes with the same If-Match: one wins, the other gets 412', async () => {
    const pairs: [Name, Name][] = [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'a'],
    ]
    const path = '/admin/v1/environments/race/flags/f0'
    const key = await admin(
      'POST',
      '/admin/v1/keys',
      { name: 'server-race', kind: 'server', environment: 'race' },
      [201],
    )
    const secret = (key.json as { secret: string }).secret
    for (let round = 0; round < 12; round++) {
      const [x, y] = pairs[round % pairs.length]!
      const read = await inst(x).server.call('GET', path)
      expect(read.status).toBe(200)
      const etag = read.headers.get('etag')!
      const body = (who: Name) => ({
        enabled: true,
        offVariant: 'off',
        fallthrough: { variant: 'on' },
        rules: [
          {
            id: `r${round}-${who}`,
            clauses: [{ attribute: 'who', op: 'in', values: [who] }],
            serve: { variant: 'off' },
          },
        ],
      })
      const replies = await Promise.all([
        inst(x).server.call('PUT', path, body(x), { 'if-match': etag }),
        inst(y).server.call('PUT', path, body(y), { 'if-match': etag }),
      ])
      const statuses = replies.map((r) => r.status).sort()
      expect(statuses, replies.map((r) => r.text.slice(0, 300)).join('\n')).toEqual([200, 412])
      const loser = replies.find((r) => r.status === 412)!
      expect(loser.headers.get('content-type')).toBe('application/problem+json')
      expect(loser.json).toMatchObject({ status: 412, type: 'urn:vane:problem:precondition_failed' })
      const winner = replies[0]!.status === 200 ? x : y
      // every instance ends up serving the winner's rule
      for (const name of NAMES) {
        let ruleId: string | undefined
        for (let i = 0; i < 100 && ruleId !== `r${round}-${winner}`; i++) {
          const res = await fetch(`${urlOf(name)}/sdk/v1/snapshot`, { headers: { authorization: `Bearer ${secret}` } })
          const snapshot = (await res.json()) as Snapshot
          ruleId = snapshot.flags.f0?.rules?.[0]?.id
          if (ruleId !== `r${round}-${winner}`) await sleep(50)
        }
        expect(ruleId, `instance ${name}, round ${round}`).toBe(`r${round}-${winner}`)
      }
    }
    // the log has exactly one change per round
    const log = await db.changes('race')
    expect(log.filter((c) => c.key === 'f0' && c.entity === 'flag').length).toBeGreaterThanOrEqual(12)
  }, 60_000)

  it('/readyz reports each instance’s change feed', async () => {
    for (const name of NAMES) {
      let last: Awaited<ReturnType<typeof readyz>> | undefined
      for (let i = 0; i < 100; i++) {
        last = await readyz(name)
        if (last.body.feed?.connected && last.body.feed.behind === 0) break
        await sleep(100)
      }
      expect(last?.status, name).toBe(200)
      expect(last?.body, name).toMatchObject({ ready: true, database: 'up', feed: { connected: true, behind: 0 } })
    }
  }, 30_000)

  it('the same while B restarts (SIGTERM, then SIGKILL) and C’s database connections are cut', async () => {
    const streams = await follow('chaos')
    const before = (await db.environmentVersion('chaos'))!
    let done = 0
    const reached = (n: number) => streams[0]!.waitFor(() => done >= n, 60_000)
    const events: string[] = []

    const restartB = async (signal: NodeJS.Signals) => {
      const b = inst('b')
      await b.server.stop(signal)
      events.push(`b stopped (${signal}) at write ${done}`)
      await sleep(300)
      await start('b', b.port)
      events.push(`b restarted at write ${done}`)
      // B's streams, resumed elsewhere meanwhile, come home (as behind a load balancer): B resumes them from its log
      for (const f of streams) if (f.name.startsWith('chaos-b')) f.drop()
    }
    let sawFeedDown = false
    const cutC = async () => {
      const c = inst('c')
      const killed: { query: string }[] = []
      // watch C's /readyz while its connections die
      let watching = true
      const watcher = (async () => {
        for (let i = 0; i < 200 && watching; i++) {
          const r = await readyz('c').catch(() => undefined)
          if (r?.body.feed?.connected === false) sawFeedDown = true
          await sleep(25)
        }
      })()
      for (let round = 0; round < 5; round++) {
        const rows = await withPostgres((client) =>
          client.query<{ query: string }>(
            `SELECT query, pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`,
            [c.appName],
          ),
        )
        killed.push(...rows.rows)
        // C's streams reconnect while its database is gone: resumed from memory
        if (round === 1) for (const f of streams) if (f.name.startsWith('chaos-c')) f.drop()
        await sleep(300)
      }
      watching = false
      await watcher
      events.push(`c cut: ${killed.length} backends terminated at write ${done}`)
      expect(killed.length, 'backends of C terminated').toBeGreaterThan(0)
      expect(c.server.exited, `C survived losing its connections\n${c.server.output()}`).toBe(false)
      // restored: C reconnects its LISTEN connection and catches up
      let state: Awaited<ReturnType<typeof readyz>> | string | undefined
      for (let i = 0; i < 150; i++) {
        state = await readyz('c').catch((error: Error) => `${error.message} (${error.cause ?? ''})`)
        if (typeof state !== 'string' && state.body.feed?.connected && state.body.feed.behind === 0) break
        await sleep(100)
      }
      expect(
        typeof state === 'string' ? state : state?.body.feed,
        `C’s feed after the cut\n${c.server.output()}`,
      ).toEqual({
        connected: true,
        behind: 0,
      })
    }

    const chaos = (async () => {
      await reached(80)
      await restartB('SIGTERM')
      await reached(180)
      await cutC()
      await reached(280)
      await restartB('SIGKILL')
      await reached(380)
      await cutC()
    })()
    // paced, so that the writes span the restarts and cuts: about 10 lanes × one write per 100 ms
    const writes = writeMany('chaos', 100, (n) => {
      done = n
    })
    await Promise.all([writes, chaos])
    expect(done).toBe(WRITES)
    expect(sawFeedDown, 'C’s /readyz showed its feed disconnected during a cut').toBe(true)
    // acknowledged writes all landed (a write cut off before its answer may have landed too, and been retried)
    expect((await db.environmentVersion('chaos'))! - before).toBeGreaterThanOrEqual(WRITES)

    await verify('chaos', streams)
    // B's streams moved to other instances and back, resuming each time; C's resumed during the cuts
    for (const f of streams.filter((f) => f.name.startsWith('chaos-b'))) {
      expect(f.stats.resumes, `${f.name}: ${events.join('; ')}`).toBeGreaterThanOrEqual(4)
      expect(
        f.servedBy.some((url) => url !== urlOf('b')),
        f.name,
      ).toBe(true)
    }
    for (const f of streams.filter((f) => f.name.startsWith('chaos-c')))
      expect(f.stats.resumes, `${f.name}: ${events.join('; ')}`).toBeGreaterThanOrEqual(2)
  }, 180_000)
})
