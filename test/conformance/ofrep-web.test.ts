/**
 * The conformance spec through the official OpenFeature web SDK and its OFREP provider
 * (`@openfeature/web-sdk` + `@openfeature/ofrep-web-provider`) in headless Chromium, against real `vane serve`
 * processes on loopback, with a client key whose `allowedOrigins` is the test page's origin.
 *
 * - The SDK and provider are bundled with esbuild into one IIFE at test time (nothing is committed) and served
 *   with `ofrep-web-page.js` by a tiny static server on 127.0.0.1.
 * - A representative subset of the spec (every section; per file one case for each expected reason/error
 *   code, topped up with evenly spaced cases) runs in the page: the web paradigm evaluates one static context
 *   per `setContext`, so each file's cases are grouped by context.
 * - A live update: the page binds a provider that follows the bulk response's `eventStreams` (SSE,
 *   `refetchEvaluation`); the test changes a flag through the admin API and the page's value flips without a
 *   reload, within a bound. A change that leaves the page's flags as they were makes the provider re-fetch
 *   conditionally (`If-None-Match`) and get 304.
 * - A page from an origin the client key does not allow cannot evaluate: the browser refuses the fetch (CORS).
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LoadedCase, loadSpec } from '../spec/load.js'
import { closePages, HTML, JS, launchChromium, servePages } from '../support/browser.js'
import { mapLimit, type Vane, VaneServers } from '../support/server.js'
import { type LoadedSnapshot, loadSnapshot } from '../support/snapshot.js'
import { sleep } from '../support/wait.js'
import { type ClientDetails, clientContextOf, compareDetails, defaultFor, mappingFor } from './ofrep-cases.js'

/** Cases per spec file in the browser subset (at most); `VANE_CONFORMANCE_WEB=all` runs every case it can. */
const PER_FILE = process.env.VANE_CONFORMANCE_WEB === 'all' ? Number.POSITIVE_INFINITY : 6
/** How long a live change may take to reach the page. */
const LIVE_BOUND_MS = 10_000

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url))
const PAGE_SCRIPT = readFileSync(new URL('./ofrep-web-page.js', import.meta.url), 'utf8')
const PAGE_HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>vane ofrep-web</title></head>' +
  '<body><script src="/bundle.js"></script><script src="/page.js"></script></body></html>'

/** Per file: one case for each distinct expected (reason, errorCode), then evenly spaced ones, up to PER_FILE. */
function pickSubset(cases: LoadedCase[]): LoadedCase[] {
  const eligible = cases.filter((c) => c.snapshot === undefined && mappingFor('web', c) === undefined)
  const picked = new Set<LoadedCase>()
  const outcomes = new Set<string>()
  for (const c of eligible) {
    const outcome = `${c.expected.reason}/${c.expected.errorCode ?? ''}/${c.expected.killed ?? ''}`
    if (!outcomes.has(outcome) && picked.size < PER_FILE) {
      outcomes.add(outcome)
      picked.add(c)
    }
  }
  const size = Math.min(PER_FILE, eligible.length)
  for (let i = 0; picked.size < size; i++)
    picked.add(eligible[Math.floor((i * eligible.length) / size) % eligible.length]!)
  return eligible.filter((c) => picked.has(c))
}

const spec = loadSpec()
const subsets = spec.map((file) => ({
  file,
  cases: pickSubset(
    file.cases.map((c) => ({ ...c, file: file.file, section: file.section, effectiveSnapshot: file.snapshot })),
  ),
}))

/** The page, its bundle and script, from a static server of their own origin. */
const servePage = (bundle: string) =>
  servePages((path) =>
    path === '/'
      ? { body: PAGE_HTML, type: HTML }
      : path === '/bundle.js'
        ? { body: bundle, type: JS }
        : path === '/page.js'
          ? { body: PAGE_SCRIPT, type: JS }
          : undefined,
  )

interface Running {
  vane: Vane
  loaded: LoadedSnapshot
  clientSecret: string
}

const servers = new VaneServers()
const running = new Map<string, Running>()
let allowed: { server: Server; origin: string } | undefined
let forbidden: { server: Server; origin: string } | undefined
let browser: Browser | undefined
const pageLog: string[] = []

async function openPage(origin: string): Promise<Page> {
  const page = await browser!.newPage()
  page.setDefaultTimeout(15_000)
  page.on('console', (m) => pageLog.push(`[${origin} console.${m.type()}] ${m.text()}`))
  page.on('pageerror', (e) => pageLog.push(`[${origin} pageerror] ${e.message}`))
  await page.goto(`${origin}/`)
  await page.waitForFunction('globalThis.vaneConformance !== undefined', undefined, { timeout: 10_000 })
  return page
}

/** Calls `vaneConformance[method](json)` in the page and parses its JSON answer. */
async function call<T>(page: Page, method: string, args: unknown): Promise<T> {
  const json = JSON.stringify(JSON.stringify(args))
  return JSON.parse((await page.evaluate(`globalThis.vaneConformance.${method}(${json})`)) as string) as T
}

beforeAll(async () => {
  const bundled = await build({
    stdin: {
      contents:
        "export { OpenFeature, ProviderEvents } from '@openfeature/web-sdk'\n" +
        "export { OFREPWebProvider } from '@openfeature/ofrep-web-provider'\n",
      resolveDir: TEST_DIR,
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    globalName: 'VaneOF',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  })
  const bundle = bundled.outputFiles[0]!.text
  allowed = await servePage(bundle)
  forbidden = await servePage(bundle)
  browser = await launchChromium()

  await mapLimit(subsets, 4, async ({ file }) => {
    const vane = await servers.start()
    const loaded = await loadSnapshot(vane, file.snapshot)
    const clientSecret = await vane.createKey({
      kind: 'client',
      environment: loaded.environment,
      allowedOrigins: [allowed!.origin],
    })
    running.set(file.file, { vane, loaded, clientSecret })
  })
}, 90_000)

afterAll(async () => {
  await browser?.close().catch(() => {})
  await Promise.all([closePages(allowed?.server), closePages(forbidden?.server)])
  await servers.stopAll()
}, 30_000)

describe('OFREP web provider in Chromium: spec subset', () => {
  let page: Page
  const results = new Map<string, { details: ClientDetails; events: string[] }>()

  beforeAll(async () => {
    page = await openPage(allowed!.origin)
    for (const { file, cases } of subsets) {
      const run = running.get(file.file)!
      // one static context per setContext: group the file's cases by context
      const groups = new Map<string, { context: Record<string, unknown>; cases: unknown[] }>()
      for (const c of cases) {
        const context = clientContextOf(c)
        const key = JSON.stringify(context)
        const group = groups.get(key) ?? { context, cases: [] }
        const fallback = defaultFor(c)
        group.cases.push({ id: c.name, flag: c.flag, getter: fallback.getter, defaultValue: fallback.value })
        groups.set(key, group)
      }
      const answer = await call<{ results: Record<string, ClientDetails>; events: string[] }>(page, 'runGroups', {
        domain: file.file,
        baseUrl: run.vane.url,
        secret: run.clientSecret,
        groups: [...groups.values()],
      })
      for (const [name, details] of Object.entries(answer.results))
        results.set(`${file.file}\n${name}`, { details, events: answer.events })
    }
  }, 60_000)

  afterAll(() => page?.close())

  it('covers every section with at least 40 cases', () => {
    const total = subsets.reduce((n, s) => n + s.cases.length, 0)
    const all = spec.flatMap((f) => f.cases.map((c) => ({ ...c, file: f.file })))
    const mapped = all.filter((c) => mappingFor('web', c) !== undefined).length
    console.info(
      `OFREP web provider: ${total} of ${all.length} spec cases ran in Chromium, ${mapped} mapped (MAPPED_CASES), ` +
        `the rest not selected (${subsets.map((s) => `${s.file.section} ${s.cases.length}`).join(', ')})`,
    )
    expect(subsets.every((s) => s.cases.length > 0)).toBe(true)
    expect(total).toBeGreaterThanOrEqual(40)
  })

  for (const { file, cases } of subsets)
    for (const c of cases)
      it(`${file.file}: ${c.name}`, () => {
        const got = results.get(`${file.file}\n${c.name}`)
        expect(got, `no result from the page; page log:\n${pageLog.join('\n')}`).toBeDefined()
        const { actual, expected } = compareDetails(c, got!.details, running.get(file.file)!.loaded.versions)
        expect(
          actual,
          `details: ${JSON.stringify(got!.details)}; provider events: ${got!.events.join(' | ')}`,
        ).toStrictEqual(expected)
      })
})

describe('OFREP web provider in Chromium: live update and origins', () => {
  const ENV = 'live'
  const FLAG = 'banner'
  let vane: Vane
  let clientSecret: string

  beforeAll(async () => {
    vane = await servers.start()
    await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
    await vane.admin('PUT', `/admin/v1/flags/${FLAG}`, { type: 'string', variants: { old: 'old', new: 'new' } }, [201])
    await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/${FLAG}`, {
      enabled: true,
      offVariant: 'old',
      fallthrough: { variant: 'old' },
    })
    clientSecret = await vane.createKey({ kind: 'client', environment: ENV, allowedOrigins: [allowed!.origin] })
  }, 30_000)

  it('a page from an origin the client key allows can evaluate (control)', async () => {
    const page = await openPage(allowed!.origin)
    try {
      const out = await call<{ fetch: string; provider: string; details: ClientDetails }>(page, 'tryEvaluate', {
        domain: 'allowed',
        baseUrl: vane.url,
        secret: clientSecret,
        flag: FLAG,
        context: { targetingKey: 'user-2' },
      })
      expect(out.fetch).toBe('status 200')
      expect(out.provider).toBe('ready')
      expect(out.details).toMatchObject({ value: 'old', variant: 'old', reason: 'DEFAULT' })
    } finally {
      await page.close()
    }
  }, 30_000)

  it('a change made through the admin API reaches the page over eventStreams, without a reload', async () => {
    const page = await openPage(allowed!.origin)
    try {
      const loadId = await page.evaluate('globalThis.vaneConformance.loadId')
      const started = await call<{ values: string[] }>(page, 'startLive', {
        domain: 'live',
        baseUrl: vane.url,
        secret: clientSecret,
        flag: FLAG,
        context: { targetingKey: 'user-1' },
      })
      expect(started.values).toEqual(['old'])
      // the provider connects to the URL from the bulk response's eventStreams; wait until it is open
      await page.waitForFunction('globalThis.vaneConformance.sse.opened.length > 0', undefined, { timeout: 10_000 })
      const opened = (await page.evaluate('globalThis.vaneConformance.sse.opened')) as string[]
      expect(opened).toHaveLength(1)
      expect(opened[0]).toMatch(new RegExp(`^${vane.url}/ofrep/v1/events\\?token=`))

      const changedAt = Date.now()
      await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/${FLAG}`, {
        enabled: true,
        offVariant: 'old',
        fallthrough: { variant: 'new' },
      })
      await page.waitForFunction('globalThis.vaneConformance.live.values.includes("new")', undefined, {
        timeout: LIVE_BOUND_MS,
        polling: 50,
      })
      const elapsed = Date.now() - changedAt
      const live = (await page.evaluate('globalThis.vaneConformance.live')) as {
        values: string[]
        changed: (string[] | null)[]
        errors: string[]
      }
      console.info(`OFREP web provider: live change reached the page in ${elapsed} ms`)
      expect(live.errors).toEqual([])
      expect(live.values.at(-1)).toBe('new')
      expect(live.changed.at(-1)).toEqual([FLAG])
      expect(await page.evaluate('globalThis.vaneConformance.sse.messages')).toBeGreaterThanOrEqual(1)
      // the same document: no reload happened
      expect(await page.evaluate('globalThis.vaneConformance.loadId')).toBe(loadId)
      expect(elapsed).toBeLessThan(LIVE_BOUND_MS)
      // the re-fetch the event triggered: conditional (If-None-Match), with the event's flagConfigEtag, answered 200
      const bulk = () =>
        page.evaluate(
          'globalThis.vaneConformance.requests.filter((r) => r.path === "/ofrep/v1/evaluate/flags")',
        ) as Promise<{ query: string; ifNoneMatch: string | null; status: number }[]>
      const refetch = (await bulk()).at(-1)!
      expect(refetch.status).toBe(200)
      expect(refetch.ifNoneMatch).toMatch(/^".+"$/)
      expect(refetch.query).toMatch(/[?&]flagConfigEtag=\d+/)

      // a change that leaves this context's flags as they were: the event still comes, the re-fetch gets 304
      const before = (await bulk()).length
      await vane.admin('PUT', '/admin/v1/cohorts/unused', { include: ['nobody'] }, [201])
      await page.waitForFunction(
        `globalThis.vaneConformance.requests.filter((r) => r.path === "/ofrep/v1/evaluate/flags").length > ${before}`,
        undefined,
        { timeout: LIVE_BOUND_MS, polling: 50 },
      )
      const notModified = (await bulk()).at(-1)!
      expect(notModified.status).toBe(304)
      await sleep(200)
      expect(((await page.evaluate('globalThis.vaneConformance.live')) as { values: string[] }).values).toEqual(
        live.values,
      )
    } finally {
      await page.close()
    }
  }, 40_000)

  it('a page from an origin the client key does not allow cannot evaluate: the browser refuses the fetch', async () => {
    const page = await openPage(forbidden!.origin)
    try {
      const out = await call<{ fetch: string; provider: string; details: ClientDetails }>(page, 'tryEvaluate', {
        domain: 'forbidden',
        baseUrl: vane.url,
        secret: clientSecret,
        flag: FLAG,
        context: { targetingKey: 'user-2' },
      })
      // a CORS refusal is an opaque network error to the page: no status, no body
      expect(out.fetch).toBe('TypeError: Failed to fetch')
      expect(out.provider).not.toBe('ready')
      expect(out.details.value).toBe('fallback')
      expect(out.details.reason).toBe('ERROR')
      expect(out.details.variant).toBeUndefined()
    } finally {
      await page.close()
    }
    // and the server itself refuses the key from that origin, before any evaluation
    const res = await fetch(`${vane.url}/ofrep/v1/evaluate/flags`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${clientSecret}`,
        'content-type': 'application/json',
        origin: forbidden!.origin,
      },
      body: '{"context":{}}',
      signal: AbortSignal.timeout(5_000),
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
  }, 30_000)
})
