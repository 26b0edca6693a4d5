// Event-loop stall benchmark: the longest time the server's event loop is blocked while it takes a cohort member
// upload of 1,000,000 keys (the documented size), per dialect, measured twice:
//  - storage: the store alone (`addCohortMembers`/`removeCohortMembers` in one transaction), what the storage
//    layer itself costs the event loop;
//  - server: the whole request through a server (parsing, validation, storage, the evaluators, one SDK stream).
// Everything runs in this process (the built `dist/index.js`), so that `perf_hooks.monitorEventLoopDelay` sees
// the server's event loop; request bodies are encoded before measuring starts. Goal: every stall under 50 ms (DESIGN.md §7, "admin inputs never stall
// the event loop for more than 50 ms").
// Run (after a build): node server/bench/stall.mjs   Knobs: BENCH_STALL_KEYS (1000000),
// BENCH_STALL_DIALECTS=sqlite,postgres, BENCH_STALL_PHASES=storage,server, BENCH_STALL_FORMATS=json,text, VANE_TEST_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test).
// Prints one table; writes nothing. Not part of `pnpm bench`.
import '../../engine/bench/guard.mjs'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import pg from 'pg'
import { openStore, startServer } from '../dist/index.js'

const KEYS = Number(process.env.BENCH_STALL_KEYS ?? 1_000_000)
const DIALECTS = (process.env.BENCH_STALL_DIALECTS ?? 'sqlite,postgres').split(',')
const PG_URL = process.env.VANE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const GOAL_MS = 50
const ADMIN_KEY = `vane_admin_${randomBytes(24).toString('base64url')}`

/** `count` distinct keys of 16 characters in no particular order, like user ids exported from elsewhere. */
function memberKeys(count, seed) {
  const keys = new Array(count)
  let x = seed >>> 0 || 1
  for (let i = 0; i < count; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    keys[i] = `u${(x >>> 0).toString(36).padStart(7, '0')}-${i.toString(36).padStart(6, '0')}`
  }
  return keys
}

function send(url, method, path, body, type = 'application/json') {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          ...(payload !== undefined && { 'content-type': type, 'content-length': payload.length }),
        },
      },
      (res) => {
        const chunks = []
        res.on('data', (c) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function ok(promise, what) {
  const reply = await promise
  if (reply.status >= 300) throw new Error(`${what}: ${reply.status} ${reply.text.slice(0, 500)}`)
  return reply
}

/** Opens an SDK stream with `key` and discards what it receives; resolves once the first event arrived. */
function openStream(url, key) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/sdk/v1/stream`, { headers: { authorization: `Bearer ${key}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream: ${res.statusCode}`))
      res.once('data', () => resolve(req))
      res.resume()
    })
    req.on('error', () => {})
  })
}

/**
 * Runs `fn` with the event-loop delay monitor on (1 ms resolution); returns the longest stall, the 99th
 * percentile of the delay and the wall time. The monitor counts a stall from one of its ticks to the next, so it
 * runs for a few ticks before `fn` starts and one timer turn after `fn` ends: stalls at either end are counted.
 */
async function measure(fn) {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  await new Promise((resolve) => setTimeout(resolve, 20))
  const started = performance.now()
  await fn()
  const wallMs = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, 5))
  histogram.disable()
  return { maxStallMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6, wallMs }
}

const now = new Date().toISOString()

async function runStorage(dialect) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vane-stall-'))
  const schema = `vane_bench_${randomBytes(6).toString('hex')}`
  const store = await openStore(
    dialect === 'postgres' ? { DATABASE_URL: PG_URL, VANE_PG_SCHEMA: schema } : { VANE_DATA_DIR: dataDir },
  )
  const rows = []
  try {
    await store.upsertCohort({
      key: 'vip',
      description: null,
      clauses: [],
      rollout: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    const keys = memberKeys(KEYS, 11)
    const step = async (name, fn) => {
      let changed = 0
      const result = await measure(async () => {
        changed = await store.transaction(fn)
      })
      if (changed !== KEYS && !name.includes('again')) throw new Error(`${name}: changed ${changed}`)
      rows.push({ dialect, step: `storage: ${name}`, ...result })
    }
    const n = KEYS.toLocaleString('en')
    await step(`add ${n} new keys`, (tx) => tx.addCohortMembers('vip', 'include', keys))
    await step(`add the same ${n} again`, (tx) => tx.addCohortMembers('vip', 'include', keys))
    await step(`remove ${n} keys`, (tx) => tx.removeCohortMembers('vip', 'include', keys))
  } finally {
    await store.close()
    await cleanUp(dialect, dataDir, schema)
  }
  return rows
}

async function cleanUp(dialect, dataDir, schema) {
  rmSync(dataDir, { recursive: true, force: true })
  if (dialect !== 'postgres') return
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
}

async function runServer(dialect) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vane-stall-'))
  const schema = `vane_bench_${randomBytes(6).toString('hex')}`
  const server = await startServer({
    port: 0,
    hostname: '127.0.0.1',
    logLevel: 'warn',
    bootstrapAdminKey: ADMIN_KEY,
    rateLimit: { perSecond: 100_000, burst: 200_000 },
    ...(dialect === 'postgres' ? { databaseUrl: PG_URL, databaseSchema: schema } : { dataDir }),
  })
  const rows = []
  let stream
  try {
    const { url } = server
    await ok(send(url, 'POST', '/admin/v1/environments', { key: 'production' }), 'environment')
    await ok(send(url, 'PUT', '/admin/v1/cohorts/vip', { description: 'stall bench' }), 'cohort')
    const key = JSON.parse(
      (await ok(send(url, 'POST', '/admin/v1/keys', { name: 'sdk', kind: 'server', environment: 'production' }), 'key'))
        .text,
    ).secret
    stream = await openStream(url, key)
    const keys = memberKeys(KEYS, 7)
    // JSON as most clients send it; text/plain (one key a line) is read as it arrives, with no document to parse
    const bodies = {
      json: Buffer.from(JSON.stringify({ include: keys })),
      text: Buffer.from(`${keys.join('\n')}\n`),
    }
    const types = { json: 'application/json', text: 'text/plain' }
    const step = async (format, name, method) => {
      const result = await measure(() =>
        ok(send(url, method, '/admin/v1/cohorts/vip/members', bodies[format], types[format]), name),
      )
      rows.push({ dialect, step: `server ${format}: ${name}`, ...result })
    }
    for (const format of FORMATS) {
      await step(format, `add ${KEYS.toLocaleString('en')} new keys`, 'POST')
      await step(format, `add the same ${KEYS.toLocaleString('en')} again`, 'POST')
      await step(format, `remove ${KEYS.toLocaleString('en')} keys`, 'DELETE')
    }
  } finally {
    stream?.destroy()
    await server.close()
    await cleanUp(dialect, dataDir, schema)
  }
  return rows
}

const rows = []
const PHASES = (process.env.BENCH_STALL_PHASES ?? 'storage,server').split(',')
const FORMATS = (process.env.BENCH_STALL_FORMATS ?? 'json,text').split(',')
for (const dialect of DIALECTS) {
  if (PHASES.includes('storage')) rows.push(...(await runStorage(dialect)))
  if (PHASES.includes('server')) rows.push(...(await runServer(dialect)))
}
const ms = (n) => n.toFixed(0).padStart(7)
console.log(`\nlongest event-loop stall during a cohort member upload (goal < ${GOAL_MS} ms)\n`)
console.log('dialect   step                                           max stall  p99 delay   wall ms')
for (const r of rows)
  console.log(
    `${r.dialect.padEnd(9)} ${r.step.padEnd(46)} ${ms(r.maxStallMs)} ms ${ms(r.p99Ms)} ms ${ms(r.wallMs)}` +
      (r.maxStallMs > GOAL_MS ? '   over goal' : ''),
  )
process.exit(0)
