/**
 * Every endpoint × every kind of credential. Adding an endpoint is one line in
 * ENDPOINTS; the cases are the cross product with KINDS.
 */
import { DDSketch } from '@datadog/sketches-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, json } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness } from '../testing/harness.js'

type Kind = 'admin' | 'server' | 'server-other-env' | 'client' | 'none' | 'revoked-admin' | 'malformed' | 'x-api-key'
const KINDS: Kind[] = [
  'admin',
  'server',
  'server-other-env',
  'client',
  'none',
  'revoked-admin',
  'malformed',
  'x-api-key',
]

/**
 * `:name` segments are filled in per call by FILL (so a call that consumes its
 * target, like DELETE, gets a fresh one); `:n` is the call's sequence number.
 */
type Endpoint = [
  method: string,
  path: string,
  ok: number,
  body?: ((n: number) => unknown) | undefined,
  /** `public`: no key; `server`: server keys of any environment (their own), nothing else. */
  access?: 'public' | 'server',
]

const E = `${A}/environments/production`
const F = `${E}/flags/matrix`
const targeting = {
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'on' },
  rules: [{ id: 'r1', cohorts: ['testers'], serve: { variant: 'on' } }],
}
const created = async (h: Harness, method: string, path: string, body?: unknown) => {
  const res = await h.call(method, path, body)
  if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${await res.text()}`)
  return res
}
const fixtures = { triggerSecret: '', victimKeyId: '' }
const outcomeReport = () => {
  const sketch = new DDSketch({ relativeAccuracy: 0.01 })
  sketch.accept(12.5)
  const end = Date.now()
  return {
    start: end - 10_000,
    end,
    series: [
      { flag: 'matrix', variant: 'on', count: 1, errors: 0, sketch: btoa(String.fromCharCode(...sketch.toProto())) },
    ],
  }
}
const FILL: Record<string, (h: Harness, n: number) => Promise<string> | string> = {
  n: (_, n) => String(n),
  doomedFlag: async (h, n) => {
    await created(h, 'PUT', `${A}/flags/doomed-${n}`, boolFlag())
    return `doomed-${n}`
  },
  doomedCohort: async (h, n) => {
    await created(h, 'PUT', `${A}/cohorts/doomed-${n}`, {})
    return `doomed-${n}`
  },
  doomedTrigger: async (h) =>
    (await json<{ id: string }>(await created(h, 'POST', `${F}/triggers`, { name: 'doomed' }))).id,
  doomedTagTrigger: async (h) =>
    (await json<{ id: string }>(await created(h, 'POST', `${E}/tags/matrix/triggers`, { name: 'doomed' }))).id,
  secret: () => fixtures.triggerSecret,
  victimKey: () => fixtures.victimKeyId,
}

const ENDPOINTS: Endpoint[] = [
  ['GET', `${A}/environments`, 200],
  ['POST', `${A}/environments`, 201, (n) => ({ key: `env-${n}` })],
  ['GET', `${A}/flags`, 200],
  ['GET', `${A}/flags/matrix`, 200],
  ['PUT', `${A}/flags/new-:n`, 201, () => boolFlag()],
  ['PUT', `${A}/flags/matrix`, 200, () => boolFlag({ tags: ['matrix'] })],
  ['DELETE', `${A}/flags/:doomedFlag`, 200],
  ['GET', F, 200],
  ['PUT', F, 200, () => targeting],
  ['POST', `${F}/rules/r1/disable`, 200],
  ['POST', `${F}/rules/r1/enable`, 200],
  ['POST', `${F}/kill`, 200, () => ({ reason: 'matrix' })],
  ['POST', `${F}/unkill`, 200, () => ({ reason: 'matrix' })],
  ['POST', `${E}/kill`, 200, () => ({ tag: 'matrix', reason: 'matrix' })],
  ['POST', `${E}/unkill`, 200, () => ({ tag: 'matrix', reason: 'matrix' })],
  ['GET', `${F}/triggers`, 200],
  ['POST', `${F}/triggers`, 201, () => ({ name: 'alerts' })],
  ['DELETE', `${F}/triggers/:doomedTrigger`, 200],
  ['GET', `${E}/tags/matrix/triggers`, 200],
  ['POST', `${E}/tags/matrix/triggers`, 201, () => ({ name: 'alerts' })],
  ['DELETE', `${E}/tags/matrix/triggers/:doomedTagTrigger`, 200],
  ['GET', `${A}/cohorts`, 200],
  ['GET', `${A}/cohorts/testers`, 200],
  ['PUT', `${A}/cohorts/new-:n`, 201, () => ({ include: ['u1'] })],
  ['PUT', `${A}/cohorts/testers`, 200, () => ({ include: ['u1', 'u2'] })],
  ['DELETE', `${A}/cohorts/:doomedCohort`, 204],
  ['POST', `${A}/cohorts/testers/members`, 200, () => ({ include: ['u3'] })],
  ['DELETE', `${A}/cohorts/testers/members`, 200, () => ({ include: ['u3'] })],
  ['GET', `${A}/keys`, 200],
  ['POST', `${A}/keys`, 201, (n) => ({ kind: 'server', name: `k${n}`, environment: 'production' })],
  ['DELETE', `${A}/keys/:victimKey`, 200],
  ['GET', `${A}/audit`, 200],
  ['GET', `${A}/audit?entity=flag:matrix&limit=5`, 200],
  ['GET', `${F}/impact?window=15m`, 200],
  ['POST', '/sdk/v1/outcomes', 202, () => outcomeReport(), 'server'],
  ['POST', '/hooks/v1/triggers/:secret', 200, undefined, 'public'],
  ['GET', `${A}/openapi.json`, 200, undefined, 'public'],
  ['GET', `${A}/docs`, 200, undefined, 'public'],
  ['GET', '/healthz', 200, undefined, 'public'],
  ['GET', '/readyz', 200, undefined, 'public'],
]

async function fill(h: Harness, path: string, n: number): Promise<string> {
  let out = path
  for (const [name, value] of Object.entries(FILL))
    if (out.includes(`:${name}`)) out = out.replace(`:${name}`, await value(h, n))
  return out
}

function expected(kind: Kind, ok: number, access: Endpoint[4]): number {
  if (access === 'public') return ok
  if (access === 'server')
    switch (kind) {
      case 'server':
      case 'server-other-env':
        return ok
      case 'admin':
      case 'x-api-key':
      case 'client':
        return 403
      default:
        return 401
    }
  switch (kind) {
    case 'admin':
    case 'x-api-key':
      return ok
    case 'server':
    case 'server-other-env':
    case 'client':
      return 403
    default:
      return 401
  }
}

const CASES = ENDPOINTS.flatMap(([method, path, ok, body, access]) =>
  KINDS.map((kind) => ({
    name: `${method} ${path} as ${kind}`,
    method,
    path,
    body,
    kind,
    status: expected(kind, ok, access),
  })),
)

describe('authorization matrix', () => {
  let h: Harness
  const secrets = {} as Record<Kind, string>
  let n = 0

  beforeAll(async () => {
    h = await createHarness()
    await created(h, 'PUT', `${A}/flags/matrix`, boolFlag({ tags: ['matrix'] }))
    await created(h, 'PUT', `${A}/cohorts/testers`, { include: ['u1'] })
    await created(h, 'PUT', F, targeting)
    const trigger = await json<{ id: string; secret: string }>(
      await created(h, 'POST', `${F}/triggers`, { name: 'matrix' }),
    )
    fixtures.triggerSecret = trigger.secret
    secrets.server = await h.key('server', 'production')
    secrets['server-other-env'] = await h.key('server', 'staging')
    secrets.client = await h.key('client', 'production')
    const revoked = await json<{ id: string; secret: string }>(
      await created(h, 'POST', `${A}/keys`, { kind: 'admin', name: 'revoked' }),
    )
    await created(h, 'DELETE', `${A}/keys/${revoked.id}`)
    secrets['revoked-admin'] = revoked.secret
    const victim = await created(h, 'POST', `${A}/keys`, { kind: 'admin', name: 'victim' })
    fixtures.victimKeyId = (await json<{ id: string }>(victim)).id
  })
  afterAll(() => h.close())

  const headersFor = (kind: Kind): Record<string, string> => {
    switch (kind) {
      case 'admin':
        return { authorization: `Bearer ${ADMIN_SECRET}` }
      case 'x-api-key':
        return { 'x-api-key': ADMIN_SECRET }
      case 'none':
        return {}
      case 'malformed':
        return { authorization: `Basic ${btoa('admin:admin')}` }
      default:
        return { authorization: `Bearer ${secrets[kind]}` }
    }
  }

  it.each(CASES)('$name → $status', async ({ method, path, body, kind, status }) => {
    const i = n++
    const url = await fill(h, path, i)
    const payload = body?.(i)
    const res = await h.app.request(url, {
      method,
      headers: { ...headersFor(kind), ...(payload !== undefined && { 'content-type': 'application/json' }) },
      ...(payload !== undefined && { body: JSON.stringify(payload) }),
    })
    expect(res.status, await res.clone().text()).toBe(status)
    if (status === 401) {
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="vane"')
      expect(res.headers.get('content-type')).toBe('application/problem+json')
    }
    if (status === 403) expect(await json(res)).toMatchObject({ status: 403, type: 'urn:vane:problem:forbidden' })
  })

  it('has a row for every admin, hook and SDK report route the app registers', () => {
    const rows = ENDPOINTS.map(([method, path]) => `${method} ${path.replace(/\?.*$/, '')}`)
    // streams and evaluation have suites of their own; everything else answers once and is listed here
    const routes = new Set(
      h.app.routes
        .filter((r) => r.method !== 'ALL' && (/^\/(admin|hooks)\//.test(r.path) || r.path === '/sdk/v1/outcomes'))
        .map((r) => `${r.method} ${r.path}`),
    )
    expect(routes.size).toBeGreaterThanOrEqual(25)
    for (const route of routes) {
      // `:action{kill|unkill}` → kill|unkill; `:key` → one segment
      const re = new RegExp(`^${route.replace(/:\w+\{([^}]*)\}/g, '($1)').replace(/:\w+/g, '[^/]+')}$`)
      expect(
        rows.some((row) => re.test(row)),
        `${route} has no row in ENDPOINTS`,
      ).toBe(true)
    }
  })
})
