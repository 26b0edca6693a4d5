/**
 * Malformed requests across the admin API: each is a 4xx problem+json (never a
 * 5xx), pointing at the field at fault when there is one, and changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { A, boolFlag, expectNoChange, expectProblem, json } from '../testing/api.js'
import { createHarness, type Harness } from '../testing/harness.js'

const P = `${A}/environments/production/flags/bool`
const ok = { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } }
const rule = (extra: Record<string, unknown>) => ({ ...ok, rules: [{ id: 'r', serve: { variant: 'on' }, ...extra }] })
const clause = (c: Record<string, unknown>) => rule({ clauses: [{ attribute: 'a', ...c }] })
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

/** [name, method, path, body (objects are JSON-encoded, strings sent as they are), status, pointers, headers] */
type Case = [
  name: string,
  method: string,
  path: string,
  body: unknown,
  status: number,
  pointers?: string[] | undefined,
  headers?: Record<string, string>,
]

const CASES: Case[] = [
  // bodies that are not the JSON object asked for
  ['invalid JSON', 'POST', `${A}/environments`, '{"key":', 400],
  ['trailing garbage after JSON', 'POST', `${A}/environments`, '{"key":"a"} x', 400],
  ['empty body', 'POST', `${A}/environments`, '', 400],
  ['NaN is not JSON', 'PUT', `${A}/flags/n`, '{"type":"number","variants":{"a":NaN}}', 400],
  ['null body', 'POST', `${A}/environments`, 'null', 422, ['']],
  ['array body', 'POST', `${A}/environments`, '[{"key":"a"}]', 422, ['']],
  ['string body', 'PUT', `${A}/cohorts/c1`, '"cohort"', 422, ['']],
  ['100k levels of nesting', 'PUT', `${A}/flags/deep`, `{"type":"object","variants":{"v":${nested(100_000)}}}`, 400],
  [
    '5000 levels in clause values',
    'PUT',
    P,
    JSON.stringify(clause({ op: 'in', values: [] })).replace('[]', nested(5000)),
    400,
  ],
  ['text/plain', 'POST', `${A}/environments`, '{"key":"a"}', 415, undefined, { 'content-type': 'text/plain' }],
  [
    'form encoding',
    'PUT',
    `${A}/flags/f`,
    'type=boolean',
    415,
    undefined,
    { 'content-type': 'application/x-www-form-urlencoded' },
  ],
  [
    'JSON look-alike media type',
    'POST',
    `${A}/environments`,
    '{"key":"a"}',
    415,
    undefined,
    { 'content-type': 'application/jsonp' },
  ],
  // wrong types, missing and unknown fields
  ['key of the wrong type', 'POST', `${A}/environments`, { key: 5 }, 422, ['/key']],
  ['missing key', 'POST', `${A}/environments`, { name: 'x' }, 422, ['/key']],
  ['unknown top-level field', 'POST', `${A}/environments`, { key: 'a', bogus: 1 }, 422, ['/bogus']],
  ['two unknown fields', 'PUT', `${A}/flags/f`, boolFlag({ x: 1, y: 2 }), 422, ['/x', '/y']],
  [
    'unknown field in a serve',
    'PUT',
    P,
    { ...ok, fallthrough: { variant: 'on', weight: 1 } },
    422,
    ['/fallthrough/weight'],
  ],
  [
    'unknown field in a clause',
    'PUT',
    P,
    clause({ op: 'eq', values: [1], bogus: true }),
    422,
    ['/rules/0/clauses/0/bogus'],
  ],
  [
    'unknown field in a rollout',
    'PUT',
    P,
    { ...ok, fallthrough: { rollout: { weights: { on: 100000 }, by: 'x' } } },
    422,
    ['/fallthrough/rollout/by'],
  ],
  ['missing targeting fields', 'PUT', P, {}, 422, ['/enabled', '/offVariant', '/fallthrough']],
  ['boolean as a string', 'PUT', P, { ...ok, enabled: 'true' }, 422, ['/enabled']],
  ['unknown flag type', 'PUT', `${A}/flags/f`, { type: 'color', variants: { a: 1 } }, 422, ['/type']],
  ['variants as an array', 'PUT', `${A}/flags/f`, { type: 'boolean', variants: [true, false] }, 422, ['/variants']],
  [
    'variant value of the wrong type',
    'PUT',
    `${A}/flags/f`,
    { type: 'boolean', variants: { on: 'yes' } },
    422,
    ['/variants/on'],
  ],
  [
    'number variant out of range',
    'PUT',
    `${A}/flags/f`,
    '{"type":"number","variants":{"big":1e999}}',
    422,
    ['/variants/big'],
  ],
  ['tags as a string', 'PUT', `${A}/flags/f`, boolFlag({ tags: 'ui' }), 422, ['/tags']],
  ['empty tag', 'PUT', `${A}/flags/f`, boolFlag({ tags: ['ok', ''] }), 422, ['/tags/1']],
  ['rules as an object', 'PUT', P, { ...ok, rules: { id: 'r' } }, 422, ['/rules']],
  ['clauses as a string', 'PUT', P, rule({ clauses: 'a == 1' }), 422, ['/rules/0/clauses']],
  ['unknown operator', 'PUT', P, clause({ op: 'like', values: ['x'] }), 422, ['/rules/0/clauses/0/op']],
  // values the rule engine refuses
  [
    'invalid regex',
    'PUT',
    P,
    clause({ op: 'matches', values: ['^ok$', '(unclosed'] }),
    422,
    ['/rules/0/clauses/0/values/1'],
  ],
  [
    'invalid semver operand',
    'PUT',
    P,
    clause({ op: 'semverGte', values: ['1.2'] }),
    422,
    ['/rules/0/clauses/0/values/0'],
  ],
  [
    'string for a numeric operator',
    'PUT',
    P,
    clause({ op: 'lt', values: ['10'] }),
    422,
    ['/rules/0/clauses/0/values/0'],
  ],
  ['two values for eq', 'PUT', P, clause({ op: 'eq', values: [1, 2] }), 422, ['/rules/0/clauses/0/values']],
  ['impossible date', 'PUT', P, clause({ op: 'before', values: ['2024-02-30'] }), 422, ['/rules/0/clauses/0/values/0']],
  [
    'weights not summing to 100000',
    'PUT',
    P,
    { ...ok, fallthrough: { rollout: { weights: { on: 50, off: 50 } } } },
    422,
    ['/fallthrough/rollout/weights'],
  ],
  [
    'negative weight',
    'PUT',
    P,
    { ...ok, fallthrough: { rollout: { weights: { on: 100000, off: -1 } } } },
    422,
    ['/fallthrough/rollout/weights/off'],
  ],
  [
    'fractional weight',
    'PUT',
    P,
    { ...ok, fallthrough: { rollout: { weights: { on: 99999.5, off: 0.5 } } } },
    422,
    ['/fallthrough/rollout/weights/on', '/fallthrough/rollout/weights/off'],
  ],
  [
    'both variant and rollout',
    'PUT',
    P,
    { ...ok, fallthrough: { variant: 'on', rollout: { weights: { on: 100000 } } } },
    422,
    ['/fallthrough'],
  ],
  ['unknown off variant', 'PUT', P, { ...ok, offVariant: 'maybe' }, 422, ['/offVariant']],
  ['unknown variant in a rule', 'PUT', P, rule({ serve: { variant: 'maybe' } }), 422, ['/rules/0/serve/variant']],
  ['unknown variant in targets', 'PUT', P, { ...ok, targets: { maybe: ['u1'] } }, 422, ['/targets/maybe']],
  ['one key targeted twice', 'PUT', P, { ...ok, targets: { on: ['u1'], off: ['u1'] } }, 422, ['/targets/off/0']],
  [
    'duplicate rule ids',
    'PUT',
    P,
    {
      ...ok,
      rules: [
        { id: 'r', serve: { variant: 'on' } },
        { id: 'r', serve: { variant: 'off' } },
      ],
    },
    422,
    ['/rules/1/id'],
  ],
  ['unknown cohort', 'PUT', P, rule({ cohorts: ['ghosts'] }), 422, ['/rules/0/cohorts/0']],
  [
    'unknown cohort in inCohort',
    'PUT',
    P,
    rule({ clauses: [{ op: 'inCohort', values: ['ghosts'] }] }),
    422,
    ['/rules/0/clauses/0/values/0'],
  ],
  [
    'unknown prerequisite',
    'PUT',
    P,
    { ...ok, prerequisites: [{ flag: 'ghost', variants: ['on'] }] },
    422,
    ['/prerequisites/0/flag'],
  ],
  [
    'unknown prerequisite variant',
    'PUT',
    P,
    { ...ok, prerequisites: [{ flag: 'str', variants: ['on'] }] },
    422,
    ['/prerequisites/0/variants/0'],
  ],
  [
    'own prerequisite',
    'PUT',
    P,
    { ...ok, prerequisites: [{ flag: 'bool', variants: ['on'] }] },
    422,
    ['/prerequisites/0/flag'],
  ],
  ['negative cohort rollout', 'PUT', `${A}/cohorts/c1`, { rollout: { weight: -1 } }, 422, ['/rollout/weight']],
  ['cohort rollout over 100%', 'PUT', `${A}/cohorts/c1`, { rollout: { weight: 100_001 } }, 422, ['/rollout/weight']],
  [
    'unknown cohort in a cohort',
    'PUT',
    `${A}/cohorts/c1`,
    { clauses: [{ op: 'inCohort', values: ['ghosts'] }] },
    422,
    ['/clauses/0/values/0'],
  ],
  [
    'cohort containing itself',
    'PUT',
    `${A}/cohorts/c1`,
    { clauses: [{ op: 'inCohort', values: ['c1'] }] },
    422,
    ['/clauses'],
  ],
  // keys: in bodies, with pointers; in paths
  ['uppercase key', 'POST', `${A}/environments`, { key: 'Prod' }, 422, ['/key']],
  ['emoji in a key', 'POST', `${A}/environments`, { key: 'prod-🚀' }, 422, ['/key']],
  ['NUL in a key', 'POST', `${A}/environments`, { key: 'a\u0000b' }, 422, ['/key']],
  ['RTL mark in a key', 'POST', `${A}/environments`, { key: '\u202eprod' }, 422, ['/key']],
  ['lone surrogate in a key', 'POST', `${A}/environments`, '{"key":"a\\ud800"}', 422, ['/key']],
  [
    'emoji in a variant name',
    'PUT',
    `${A}/flags/f`,
    { type: 'boolean', variants: { '🚀': true } },
    422,
    ['/variants/🚀'],
  ],
  [
    'integer-like variant name',
    'PUT',
    `${A}/flags/f`,
    { type: 'boolean', variants: { '1': true } },
    422,
    ['/variants/1'],
  ],
  ['emoji in a rule id', 'PUT', P, { ...ok, rules: [{ id: 'r🚀', serve: { variant: 'on' } }] }, 422, ['/rules/0/id']],
  ['emoji in a cohort reference', 'PUT', P, rule({ cohorts: ['🚀'] }), 422, ['/rules/0/cohorts/0']],
  ['emoji in a flag key in the path', 'PUT', `${A}/flags/%F0%9F%9A%80`, boolFlag(), 422],
  ['lone surrogate in the path', 'PUT', `${A}/flags/%ED%A0%80`, boolFlag(), 422],
  ['NUL in the path', 'PUT', `${A}/cohorts/a%00b`, {}, 422],
  ['uppercase key in the path', 'PUT', `${A}/cohorts/Beta`, {}, 422],
  ['129-character key in the path', 'PUT', `${A}/flags/${'k'.repeat(129)}`, boolFlag(), 422],
  // sizes and numbers
  ['huge name', 'POST', `${A}/environments`, { key: 'a', name: 'n'.repeat(129) }, 422, ['/name']],
  ['huge description', 'PUT', `${A}/flags/f`, boolFlag({ description: 'd'.repeat(4097) }), 422, ['/description']],
  ['huge member key', 'POST', `${A}/cohorts/testers/members`, { include: ['k'.repeat(1025)] }, 422, ['/include/0']],
  ['numbers as member keys', 'POST', `${A}/cohorts/testers/members`, { include: ['a', 1] }, 422, ['/include/1']],
  ['empty member key', 'DELETE', `${A}/cohorts/testers/members`, { exclude: [''] }, 422, ['/exclude/0']],
  ['members without lists', 'POST', `${A}/cohorts/testers/members`, {}, 422, ['']],
  ['unknown members field', 'POST', `${A}/cohorts/testers/members`, { include: ['a'], add: ['b'] }, 422, ['/add']],
  ['members list as an object', 'PUT', `${A}/cohorts/c1`, { include: { a: true } }, 422, ['/include']],
  // kill, keys, triggers
  ['kill without reason', 'POST', `${P}/kill`, {}, 422, ['/reason']],
  ['blank kill reason', 'POST', `${P}/kill`, { reason: '   ' }, 422, ['/reason']],
  ['numeric kill reason', 'POST', `${P}/unkill`, { reason: 404 }, 422, ['/reason']],
  ['kill by tag without tag', 'POST', `${A}/environments/production/kill`, { reason: 'x' }, 422, ['/tag']],
  ['unknown key kind', 'POST', `${A}/keys`, { kind: 'root', name: 'x' }, 422, ['/kind']],
  ['server key without environment', 'POST', `${A}/keys`, { kind: 'server', name: 'x' }, 422, ['/environment']],
  [
    'admin key with environment',
    'POST',
    `${A}/keys`,
    { kind: 'admin', name: 'x', environment: 'production' },
    422,
    ['/environment'],
  ],
  [
    'origins on a server key',
    'POST',
    `${A}/keys`,
    { kind: 'server', name: 'x', environment: 'production', allowedOrigins: ['https://a.example'] },
    422,
    ['/allowedOrigins'],
  ],
  [
    'origin that is no URL',
    'POST',
    `${A}/keys`,
    { kind: 'client', name: 'x', environment: 'production', allowedOrigins: ['not a url'] },
    422,
    ['/allowedOrigins/0'],
  ],
  ['blank key name', 'POST', `${A}/keys`, { kind: 'admin', name: ' ' }, 422, ['/name']],
  ['trigger without name', 'POST', `${P}/triggers`, {}, 422, ['/name']],
  // query strings and headers
  ['unknown audit parameter', 'GET', `${A}/audit?order=asc`, undefined, 422, ['/order']],
  ['negative audit limit', 'GET', `${A}/audit?limit=-5`, undefined, 422, ['/limit']],
  ['NaN-ish audit cursor', 'GET', `${A}/audit?cursor=NaN`, undefined, 422, ['/cursor']],
  ['infinite audit limit', 'GET', `${A}/audit?limit=Infinity`, undefined, 422, ['/limit']],
  ['If-Match garbage', 'PUT', `${A}/flags/bool`, boolFlag(), 400, undefined, { 'if-match': 'latest' }],
  ['negative If-Match', 'PUT', P, ok, 400, undefined, { 'if-match': '"-1"' }],
  ['If-Match list', 'DELETE', `${A}/cohorts/testers`, undefined, 400, undefined, { 'if-match': '"1", "2"' }],
  ['If-Match on a rule toggle', 'POST', `${P}/rules/r/disable`, undefined, 400, undefined, { 'if-match': '"1e3"' }],
]

describe('bad input', () => {
  let h: Harness
  beforeAll(async () => {
    h = await createHarness()
    for (const key of ['bool', 'a', 'b'])
      expect((await h.call('PUT', `${A}/flags/${key}`, boolFlag())).status).toBe(201)
    expect((await h.call('PUT', `${A}/flags/str`, { type: 'string', variants: { x: 'x' } })).status).toBe(201)
    expect((await h.call('PUT', `${A}/cohorts/testers`, { include: ['u1'] })).status).toBe(201)
  })
  afterAll(() => h.close())

  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40)
  })

  const cases = CASES.map(([name, method, path, body, status, pointers, headers]) => ({
    name,
    method,
    path,
    body,
    status,
    pointers,
    headers,
  }))
  it.each(cases)('$name → $status', async ({ method, path, body, status, pointers, headers }) => {
    await expectNoChange(h, async () => {
      const res = await h.call(method, path, body, headers)
      const problem = await expectProblem(res, status, pointers)
      expect(problem.instance).toBe(new URL(path, 'http://x').pathname)
      for (const issue of problem.issues ?? []) expect(typeof issue.message).toBe('string')
    })
  })

  it('a prerequisite cycle across two flags is a 422 at /prerequisites', async () => {
    const target = (flag: string) => ({ ...ok, prerequisites: [{ flag, variants: ['on'] }] })
    expect((await h.call('PUT', `${A}/environments/production/flags/a`, target('b'))).status).toBe(200)
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('PUT', `${A}/environments/production/flags/b`, target('a')), 422, [
        '/prerequisites',
      ])
    })
    // the other environment has no edge a → b, so there it is fine
    expect((await h.call('PUT', `${A}/environments/staging/flags/b`, target('a'))).status).toBe(200)
  })

  it("changing a flag's type is a 409 at /type", async () => {
    await expectNoChange(h, async () => {
      await expectProblem(await h.call('PUT', `${A}/flags/str`, boolFlag()), 409, ['/type'])
    })
  })

  describe('body size limits', () => {
    it('answers 413 for a body just over 1 MiB, with or without Content-Length', async () => {
      const body = JSON.stringify({ key: 'big', name: 'n'.repeat(1024 * 1024) })
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', `${A}/environments`, body), 413)
        await expectProblem(
          await h.call('POST', `${A}/environments`, body, { 'content-length': String(body.length) }),
          413,
        )
      })
    })

    it('answers 413 for 10 MB, on every route and on the trigger hook', async () => {
      const body = JSON.stringify({ description: 'd'.repeat(10_000_000) })
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('PUT', `${A}/flags/f`, body), 413)
        await expectProblem(await h.call('PUT', `${A}/cohorts/c1`, body), 413)
        await expectProblem(await h.app.request('/hooks/v1/triggers/anything', { method: 'POST', body }), 413)
      })
    })

    it('the larger members limit applies to member uploads only, not to keys named "members"', async () => {
      const body = JSON.stringify(boolFlag({ description: 'd'.repeat(2_000_000) }))
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('PUT', `${A}/flags/members`, body), 413)
        await expectProblem(await h.call('PUT', `${A}/cohorts/members`, body), 413)
      })
    })

    it('answers 413 for a 70 MB members body', async () => {
      const keys = Array.from({ length: 71 }, (_, i) => `${i}-${'k'.repeat(999_990)}`)
      const body = JSON.stringify({ include: keys })
      expect(body.length).toBeGreaterThan(70_000_000)
      await expectNoChange(h, async () => {
        await expectProblem(await h.call('POST', `${A}/cohorts/testers/members`, body), 413)
      })
      expect(await json(await h.call('GET', `${A}/cohorts/testers`))).toMatchObject({ members: { include: 1 } })
    })
  })

  it('rate limits per key: the third request in a burst of 2 is a 429 with Retry-After', async () => {
    const limited = await createHarness({ rateLimit: { perSecond: 1, burst: 2 } })
    try {
      const secret = await limited.key('admin')
      const get = () => limited.app.request(`${A}/flags`, { headers: { authorization: `Bearer ${secret}` } })
      expect((await get()).status).toBe(200)
      expect((await get()).status).toBe(200)
      const third = await get()
      await expectProblem(third, 429)
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      // another key has its own bucket
      const other = await limited.key('admin')
      const res = await limited.app.request(`${A}/flags`, { headers: { authorization: `Bearer ${other}` } })
      expect(res.status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})
