/**
 * `@vane/sdk-browser` end to end: its built `dist/` in headless Chromium against a real `vane serve` process,
 * everything on 127.0.0.1.
 *
 * - The page (`browser-page.js`) and an esbuild IIFE of `sdk-browser/dist/index.js`, bundled in memory at test
 *   time, are served by a tiny static server; a second static server is a second origin. The client key's
 *   `allowedOrigins` holds the first origin only.
 * - In order, on one page: it renders a flag; an admin change flips it without a reload; the kill switch flips
 *   it; `identify` switches users whose values differ by a targeting rule (and by a cohort), and back (from the
 *   cache at once). Then: every response body the page received is checked for rule material (rules, clauses,
 *   cohort members and the clause values themselves), a page from the other origin is refused (CORS), the
 *   documented example `docs/examples/browser.html` works as written, and finally, with the server stopped, a
 *   reload shows the cached values.
 * - Response bodies are captured through a CDP session on the page (`Network.streamResourceContent` for the
 *   event streams, whose bodies never "finish", `Network.getResponseBody` for the rest), and cross-checked
 *   against `page.on('response')` so that no response goes unread.
 */
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { Browser, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closePages, HTML, JS, launchChromium, servePages } from '../support/browser.js'
import { type Vane, VaneServers } from '../support/server.js'
import { sleep } from '../support/wait.js'

/** How long a change may take to reach the page. */
const LIVE_BOUND_MS = 10_000

const ROOT = new URL('../../', import.meta.url)
const SDK_DIST = new URL('sdk-browser/dist/', ROOT)
const PAGE_SCRIPT = readFileSync(new URL('./browser-page.js', import.meta.url), 'utf8')
const PAGE_HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>vane browser e2e</title></head>' +
  '<body><p id="flag">not rendered</p><script src="/bundle.js"></script><script src="/page.js"></script></body></html>'

const ENV = 'web'
const FLAG = 'banner'
/** Secrets that sit only in rules and cohorts: none may ever reach the page. */
const CLAUSE_VALUE = '@beta-7c1e.example'
const COHORT_MEMBER = 'vip-member-93b1'
const RULE_MATERIAL = [
  '"rules"',
  '"clauses"',
  '"include"',
  '"exclude"',
  '"cohorts"',
  '"targets"',
  '"fallthrough"',
  '"offVariant"',
  '"variants"',
  '"prerequisites"',
  '"rollout"',
  CLAUSE_VALUE,
  COHORT_MEMBER,
  'endsWith',
]

/** The test page, the example page and the SDK's dist, from a static server of their own origin. */
const serveStatic = (bundle: string) =>
  servePages((path) => {
    if (path === '/') return { body: PAGE_HTML, type: HTML }
    if (path === '/bundle.js') return { body: bundle, type: JS }
    if (path === '/page.js') return { body: PAGE_SCRIPT, type: JS }
    if (path === '/docs/examples/browser.html')
      return { body: readFileSync(new URL('docs/examples/browser.html', ROOT)), type: HTML }
    if (/^\/sdk-browser\/dist\/[\w.-]+\.js$/.test(path))
      try {
        return { body: readFileSync(new URL(path.slice(1), ROOT)), type: JS }
      } catch {
        return undefined
      }
    return undefined
  })

/** One response as the page received it, body included. */
interface Captured {
  url: string
  status: number
  mimeType: string
  body: string
  /** An event stream: its body as streamed so far (the stream may still be open, or have been aborted). */
  streamed: boolean
}

/**
 * Every response body a page receives, read over CDP. An event stream is switched to streaming mode as soon as
 * its headers arrive: the command answers with what came before (`bufferedData`), and every later
 * `dataReceived` carries its own bytes. Other bodies are read once loaded.
 */
class Traffic {
  /** Every response Playwright reported, for the completeness check. */
  readonly seen: { url: string; status: number }[] = []
  private readonly responses = new Map<string, Captured & { before: string; after: string[] }>()
  private readonly pending = new Set<Promise<unknown>>()

  private constructor(private readonly cdp: CDPSession) {}

  static async attach(page: Page): Promise<Traffic> {
    const cdp = await page.context().newCDPSession(page)
    const traffic = new Traffic(cdp)
    page.on('response', (r) => traffic.seen.push({ url: r.url(), status: r.status() }))
    cdp.on('Network.responseReceived', (e) => {
      const streamed = e.response.mimeType === 'text/event-stream'
      const entry = {
        url: e.response.url,
        status: e.response.status,
        mimeType: e.response.mimeType,
        body: '',
        streamed,
      }
      traffic.responses.set(e.requestId, { ...entry, before: '', after: [] })
      if (streamed)
        traffic.track(
          cdp.send('Network.streamResourceContent', { requestId: e.requestId }).then(({ bufferedData }) => {
            traffic.responses.get(e.requestId)!.before = Buffer.from(bufferedData, 'base64').toString('utf8')
          }),
        )
    })
    cdp.on('Network.dataReceived', (e) => {
      if (e.data !== undefined)
        traffic.responses.get(e.requestId)?.after.push(Buffer.from(e.data, 'base64').toString('utf8'))
    })
    cdp.on('Network.loadingFinished', (e) => {
      const entry = traffic.responses.get(e.requestId)
      if (entry === undefined || entry.streamed) return
      traffic.track(
        cdp.send('Network.getResponseBody', { requestId: e.requestId }).then(({ body, base64Encoded }) => {
          entry.before = base64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body
        }),
      )
    })
    await cdp.send('Network.enable')
    return traffic
  }

  private track(p: Promise<unknown>): void {
    const tracked: Promise<unknown> = p.catch(() => {}).finally(() => this.pending.delete(tracked))
    this.pending.add(tracked)
  }

  /** Waits for body reads in flight, then returns what was captured. */
  async settle(): Promise<Captured[]> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
    return [...this.responses.values()].map(({ before, after, ...entry }) => ({
      ...entry,
      body: before + after.join(''),
    }))
  }

  async detach(): Promise<void> {
    await this.cdp.detach().catch(() => {})
  }
}

const servers = new VaneServers()
let vane: Vane
let clientSecret: string
let allowed: { server: Server; origin: string } | undefined
let forbidden: { server: Server; origin: string } | undefined
let browser: Browser | undefined
const pageLog: string[] = []

function pageUrl(origin: string, context: Record<string, unknown>, key = clientSecret): string {
  const query = new URLSearchParams({ url: vane.url, key, flag: FLAG, context: JSON.stringify(context) })
  return `${origin}/?${query}`
}

async function newPage(): Promise<Page> {
  const page = await browser!.newPage()
  page.setDefaultTimeout(15_000)
  page.on('console', (m) => pageLog.push(`[console.${m.type()}] ${m.text()}`))
  page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.message}`))
  return page
}

const flagText = (page: Page) => page.locator('#flag').textContent()
const waitForFlag = (page: Page, value: string) =>
  page.waitForFunction(`document.getElementById('flag').textContent === ${JSON.stringify(value)}`, undefined, {
    timeout: LIVE_BOUND_MS,
    polling: 25,
  })
const pageState = (page: Page) =>
  page.evaluate('globalThis.vanePage.state') as Promise<{
    loadId: string
    renders: string[]
    changes: string[][]
    stale: string[]
    errors: string[]
    readyAtStart: boolean
  }>
const targeting = (fallthrough: string) => ({
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: fallthrough },
  rules: [
    {
      id: 'beta-testers',
      clauses: [{ attribute: 'email', op: 'endsWith', values: [CLAUSE_VALUE] }],
      serve: { variant: 'beta' },
    },
    { id: 'vips', cohorts: ['vip'], serve: { variant: 'vip' } },
  ],
})

beforeAll(async () => {
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL('index.js', SDK_DIST))],
    bundle: true,
    format: 'iife',
    globalName: 'VaneSDK',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  })
  const bundle = bundled.outputFiles[0]!.text
  allowed = await serveStatic(bundle)
  forbidden = await serveStatic(bundle)
  browser = await launchChromium()

  vane = await servers.start()
  await vane.admin('POST', '/admin/v1/environments', { key: ENV }, [201])
  await vane.admin('PUT', '/admin/v1/cohorts/vip', { include: [COHORT_MEMBER, 'user-3'] }, [201])
  await vane.admin(
    'PUT',
    `/admin/v1/flags/${FLAG}`,
    { type: 'string', variants: { off: 'off', old: 'old', new: 'new', beta: 'beta', vip: 'vip' } },
    [201],
  )
  await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/${FLAG}`, targeting('old'))
  clientSecret = await vane.createKey({ kind: 'client', environment: ENV, allowedOrigins: [allowed.origin] })
}, 90_000)

afterAll(async () => {
  await browser?.close().catch(() => {})
  await Promise.all([closePages(allowed?.server), closePages(forbidden?.server)])
  await servers.stopAll()
}, 30_000)

describe('@vane/sdk-browser in Chromium', () => {
  let page: Page
  let traffic: Traffic
  let loadId: string
  const USER_1 = { targetingKey: 'user-1', email: 'one@example.com' }

  beforeAll(async () => {
    page = await newPage()
    traffic = await Traffic.attach(page)
  })

  afterAll(async () => {
    await traffic?.detach()
    await page?.close().catch(() => {})
  })

  it('renders the flag', async () => {
    await page.goto(pageUrl(allowed!.origin, USER_1))
    await waitForFlag(page, 'old')
    const state = await pageState(page)
    loadId = state.loadId
    // nothing cached yet: the first render was the default
    expect(state.readyAtStart).toBe(false)
    expect(state.renders[0]).toBe('fallback')
    expect(state.errors).toEqual([])
    expect(JSON.parse((await page.evaluate(`globalThis.vanePage.details(${JSON.stringify(FLAG)})`)) as string)).toEqual(
      { flagKey: FLAG, value: 'old', variant: 'old', reason: 'DEFAULT', flagVersion: expect.any(Number) },
    )
  }, 30_000)

  it('an admin change flips it without a reload', async () => {
    const before = (await pageState(page)).changes.length
    const at = Date.now()
    await vane.admin('PUT', `/admin/v1/environments/${ENV}/flags/${FLAG}`, targeting('new'))
    await waitForFlag(page, 'new')
    console.info(`sdk-browser e2e: an admin change reached the page in ${Date.now() - at} ms`)
    const state = await pageState(page)
    expect(state.loadId).toBe(loadId)
    expect(state.changes.slice(before)).toEqual([[FLAG]])
  }, 30_000)

  it('the kill switch flips it, and un-killing restores it', async () => {
    await vane.admin('POST', `/admin/v1/environments/${ENV}/flags/${FLAG}/kill`, { reason: 'e2e' })
    await waitForFlag(page, 'off')
    expect(await page.locator('#flag').getAttribute('data-reason')).toBe('DISABLED')
    await vane.admin('POST', `/admin/v1/environments/${ENV}/flags/${FLAG}/unkill`, { reason: 'e2e' })
    await waitForFlag(page, 'new')
    expect((await pageState(page)).loadId).toBe(loadId)
  }, 30_000)

  it('identify switches users whose values differ by a targeting rule, a cohort, and back from the cache', async () => {
    const identify = async (context: Record<string, unknown>) =>
      JSON.parse(
        (await page.evaluate(`globalThis.vanePage.identify(${JSON.stringify(JSON.stringify(context))})`)) as string,
      ) as { value: string }
    // the rule: email ends with the clause value
    expect(await identify({ targetingKey: 'user-2', email: `two${CLAUSE_VALUE}` })).toEqual({ value: 'beta' })
    await waitForFlag(page, 'beta')
    // the cohort: user-3 is listed in it
    expect(await identify({ targetingKey: 'user-3', email: 'three@example.com' })).toEqual({ value: 'vip' })
    await waitForFlag(page, 'vip')
    // back to user-1: resolved from user-1's cache, then confirmed by the stream
    expect(await identify(USER_1)).toEqual({ value: 'new' })
    await waitForFlag(page, 'new')
    const state = await pageState(page)
    expect(state.loadId).toBe(loadId)
    expect(state.changes.slice(-3)).toEqual([[FLAG], [FLAG], [FLAG]])
    expect(state.errors).toEqual([])
    // each user's values are cached under their own context
    const cached = (await page.evaluate(
      'Object.keys(localStorage).filter((k) => k.startsWith("vane:")).map((k) => [k, localStorage.getItem(k)])',
    )) as [string, string][]
    const entryFor = (user: string) => cached.find(([k]) => k.includes(`"${user}"`))?.[1] ?? ''
    expect(entryFor('user-1')).toContain('"new"')
    expect(entryFor('user-2')).toContain('"beta"')
    expect(entryFor('user-3')).toContain('"vip"')
  }, 40_000)

  it('no rule, clause or cohort material in any response the page received, nor in its storage', async () => {
    await sleep(200)
    const responses = await traffic.settle()
    const fromVane = responses.filter((r) => r.url.startsWith(vane.url))
    const streams = fromVane.filter((r) => r.streamed)
    // the capture works: every stream the page opened (one per context) with its put, the live patches seen
    expect(streams.length).toBeGreaterThanOrEqual(4)
    for (const s of streams) expect(s.body, s.url).toMatch(/^id: \d+\nevent: put\ndata: \{"flags":\{"banner":/)
    const all = streams.map((s) => s.body).join('\n')
    expect(all).toContain('event: patch')
    expect(all).toContain('"value":"off"')
    expect(all).toContain('"value":"vip"')
    // and nothing went uncaptured: every response Playwright saw has its body here
    const captured = new Set(responses.map((r) => r.url))
    for (const r of traffic.seen) expect(captured.has(r.url), r.url).toBe(true)
    for (const r of responses)
      if (r.status === 200) expect(r.body.length, `empty body captured for ${r.url}`).toBeGreaterThan(0)

    const leaks = responses.flatMap((r) =>
      RULE_MATERIAL.filter((m) => r.body.includes(m)).map((m) => `${r.url} contains ${m}`),
    )
    expect(leaks).toEqual([])
    // the cached values (the keys are the users' own contexts, which may hold anything the page sent)
    const storage = ((await page.evaluate('Object.values(localStorage)')) as string[]).join('\n')
    expect(storage).toContain('"vip"')
    expect(RULE_MATERIAL.filter((m) => storage.includes(m))).toEqual([])
    // the control: the environment's ruleset (what server SDKs get) holds every marker, so the checks above
    // would catch it reaching the page
    const serverKey = await vane.createKey({ kind: 'server', environment: ENV })
    const ruleset = await vane.server.call('GET', '/sdk/v1/snapshot', undefined, {
      authorization: `Bearer ${serverKey}`,
    })
    expect(ruleset.status).toBe(200)
    const inRuleset = RULE_MATERIAL.filter((m) => ruleset.text.includes(m))
    expect(inRuleset).toEqual(
      expect.arrayContaining(['"rules"', '"clauses"', '"include"', CLAUSE_VALUE, COHORT_MEMBER]),
    )
  }, 30_000)

  it('a page from an origin the client key does not allow is refused (CORS)', async () => {
    const other = await newPage()
    try {
      await other.goto(pageUrl(forbidden!.origin, USER_1))
      await other.waitForFunction('globalThis.vanePage.state.stale.length >= 1', undefined, { timeout: 10_000 })
      const state = await pageState(other)
      // the browser refuses the response: an opaque network failure, no status, so the client retries quietly
      expect(state.stale[0]).toMatch(/fetch/i)
      expect(state.changes).toEqual([])
      expect(await flagText(other)).toBe('fallback')
      expect(await other.locator('#flag').getAttribute('data-error-code')).toBe('PROVIDER_NOT_READY')
    } finally {
      await other.close()
    }
    // the server refuses the key from that origin before any evaluation, and lets the allowed origin in
    const ask = (origin: string) =>
      fetch(`${vane.url}/client/v1/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${clientSecret}`, 'content-type': 'application/json', origin },
        body: JSON.stringify({ context: USER_1 }),
        signal: AbortSignal.timeout(5_000),
      })
    const refused = await ask(forbidden!.origin)
    expect(refused.status).toBe(403)
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    await refused.body?.cancel()
    const accepted = await ask(allowed!.origin)
    expect(accepted.status).toBe(200)
    expect(accepted.headers.get('access-control-allow-origin')).toBe(allowed!.origin)
    await accepted.body?.cancel()
  }, 30_000)

  it('the documented example page (docs/examples/browser.html) works as written', async () => {
    const example = await newPage()
    try {
      const query = new URLSearchParams({ url: vane.url, key: clientSecret, flag: FLAG, user: 'user-1' })
      await example.goto(`${allowed!.origin}/docs/examples/browser.html?${query}`)
      await example.waitForFunction("document.getElementById('banner').textContent === 'new'", undefined, {
        timeout: LIVE_BOUND_MS,
      })
      expect(await example.locator('#status').textContent()).toMatch(/^variant new, /)
      // its "Switch user" button identifies user-2 (plan pro): no rule matches, the fallthrough stays
      await example.click('#switch')
      await example.waitForFunction("document.getElementById('status').textContent.includes('user-2')")
      expect(await example.locator('#banner').textContent()).toBe('new')
    } finally {
      await example.close()
    }
    expect(pageLog.filter((l) => l.includes('pageerror'))).toEqual([])
  }, 30_000)

  it('with the server stopped, a reload shows the cached values at once; an unknown user gets defaults', async () => {
    await vane.server.stop()
    await page.reload()
    await page.waitForFunction('globalThis.vanePage !== undefined')
    const state = await pageState(page)
    expect(state.loadId).not.toBe(loadId)
    expect(state.readyAtStart).toBe(true)
    // the very first render was the cached value, not the default
    expect(state.renders[0]).toBe('new')
    expect(await flagText(page)).toBe('new')
    await page.waitForFunction('globalThis.vanePage.state.stale.length >= 1', undefined, { timeout: 10_000 })
    expect(await flagText(page)).toBe('new')

    // another context's cache is never used
    await page.goto(pageUrl(allowed!.origin, { targetingKey: 'user-9', email: 'nine@example.com' }))
    await page.waitForFunction('globalThis.vanePage !== undefined')
    expect((await pageState(page)).readyAtStart).toBe(false)
    expect(await flagText(page)).toBe('fallback')
  }, 30_000)
})
