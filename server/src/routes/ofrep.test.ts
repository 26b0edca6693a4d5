/**
 * OFREP as its OpenAPI document (open-feature/protocol, service/openapi.yaml) defines it: single and bulk
 * evaluation, their errors, the bulk ETag, the event stream, rate limiting and CORS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StreamTokens } from '../delivery/tokens.js'
import { A, expectProblem } from '../testing/api.js'
import { ADMIN_SECRET, createHarness, type Harness, STREAM_SECRET } from '../testing/harness.js'
import { SseReader } from '../testing/sse-reader.js'

/** OpenFeature resolution reasons (OFREP's schema lists a subset; providers pass any through). */
const REASONS = ['STATIC', 'DEFAULT', 'TARGETING_MATCH', 'SPLIT', 'CACHED', 'DISABLED', 'UNKNOWN', 'STALE', 'ERROR']
/** `evaluationFailure.errorCode` in the OpenAPI document. */
const FAILURE_CODES = ['PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL']
/** RFC 9457 members Vane adds to OFREP error bodies (the schemas allow additional properties). */
const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail']

const isPrimitive = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v)

/** Checks one `evaluationSuccess`: key, reason and a value always, variant a string, metadata primitives only. */
function expectSuccessShape(entry: Record<string, unknown>) {
  expect(
    Object.keys(entry).every((k) => ['key', 'value', 'reason', 'variant', 'metadata'].includes(k)),
    JSON.stringify(entry),
  ).toBe(true)
  expect(typeof entry.key).toBe('string')
  expect(REASONS).toContain(entry.reason)
  expect('value' in entry && entry.value !== undefined && entry.value !== null, `value of ${entry.key}`).toBe(true)
  if ('variant' in entry) expect(typeof entry.variant).toBe('string')
  if ('metadata' in entry) {
    expect(typeof entry.metadata).toBe('object')
    for (const value of Object.values(entry.metadata as object)) expect(isPrimitive(value)).toBe(true)
  }
}

/** Checks one `evaluationFailure` (or `flagNotFound` when `codes` says so). */
function expectFailureShape(entry: Record<string, unknown>, codes = FAILURE_CODES) {
  const allowed = ['key', 'errorCode', 'errorDetails', 'metadata', ...PROBLEM_FIELDS]
  expect(
    Object.keys(entry).every((k) => allowed.includes(k)),
    JSON.stringify(entry),
  ).toBe(true)
  expect(codes).toContain(entry.errorCode)
  expect('value' in entry).toBe(false)
  if ('errorDetails' in entry) expect(typeof entry.errorDetails).toBe('string')
  if ('metadata' in entry)
    for (const value of Object.values(entry.metadata as object)) expect(isPrimitive(value)).toBe(true)
}

describe('OFREP', () => {
  let h: Harness
  let serverKey: string
  let clientKey: string
  const version = (flag: string) => h.hub.get('production')!.flag(flag)!.version
  const envVersion = () => h.hub.get('production')!.version
  const ok = async (res: Promise<Response>) => {
    const r = await res
    expect(r.status, await r.clone().text()).toBeLessThan(300)
  }
  const targeting = (flag: string, body: Record<string, unknown>) =>
    ok(h.call('PUT', `${A}/environments/production/flags/${flag}`, body))
  const evaluate = (path: string, body: unknown, headers: Record<string, string> = {}, secret = serverKey) =>
    h.app.request(`/ofrep/v1/evaluate/flags${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  const json = async (res: Response) => (await res.json()) as Record<string, unknown>

  beforeAll(async () => {
    h = await createHarness()
    serverKey = await h.key('server', 'production')
    clientKey = await h.key('client', 'production', ['https://app.example.com'])
    const boolean = { type: 'boolean', variants: { on: true, off: false } }
    for (const flag of ['bool-flag', 'off-flag', 'killed-flag']) await ok(h.call('PUT', `${A}/flags/${flag}`, boolean))
    await ok(h.call('PUT', `${A}/flags/rollout-flag`, { type: 'string', variants: { a: 'A', b: 'B' } }))
    await ok(h.call('PUT', `${A}/flags/plan-flag`, { type: 'string', variants: { free: 'F', pro: 'P' } }))
    await ok(h.call('PUT', `${A}/flags/num-flag`, { type: 'number', variants: { low: 1.5, high: 100 } }))
    await ok(h.call('PUT', `${A}/flags/obj-flag`, { type: 'object', variants: { cfg: { a: [1, 2] }, none: {} } }))
    await targeting('bool-flag', { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } })
    await targeting('killed-flag', { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } })
    await ok(h.call('POST', `${A}/environments/production/flags/killed-flag/kill`, { reason: 'incident' }))
    await targeting('rollout-flag', {
      enabled: true,
      offVariant: 'a',
      fallthrough: { rollout: { weights: { a: 50_000, b: 50_000 } } },
    })
    await targeting('plan-flag', {
      enabled: true,
      offVariant: 'free',
      fallthrough: { variant: 'free' },
      rules: [
        { id: 'pro-rule', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'pro' } },
      ],
    })
    await targeting('num-flag', { enabled: true, offVariant: 'low', fallthrough: { variant: 'high' } })
    await targeting('obj-flag', { enabled: true, offVariant: 'none', fallthrough: { variant: 'cfg' } })
  })
  afterAll(() => h.close())

  describe('single evaluation', () => {
    it('answers each type with key, value, reason, variant and metadata.flagSetId/version', async () => {
      const cases: [string, unknown, string, string][] = [
        ['bool-flag', true, 'DEFAULT', 'on'],
        ['num-flag', 100, 'DEFAULT', 'high'],
        ['obj-flag', { a: [1, 2] }, 'DEFAULT', 'cfg'],
        ['plan-flag', 'F', 'DEFAULT', 'free'],
      ]
      for (const [flag, value, reason, variant] of cases) {
        const res = await evaluate(`/${flag}`, { context: { targetingKey: 'u1', plan: 'free' } })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toMatch(/^application\/json/)
        const body = await json(res)
        expect(body).toEqual({
          key: flag,
          value,
          reason,
          variant,
          metadata: { flagSetId: 'production', version: version(flag) },
        })
        expectSuccessShape(body)
      }
      const pro = await json(await evaluate('/plan-flag', { context: { targetingKey: 'u1', plan: 'pro' } }))
      expect(pro).toEqual({
        key: 'plan-flag',
        value: 'P',
        reason: 'TARGETING_MATCH',
        variant: 'pro',
        metadata: { flagSetId: 'production', version: version('plan-flag'), ruleId: 'pro-rule' },
      })
      const split = await json(await evaluate('/rollout-flag', { context: { targetingKey: 'u1' } }))
      expect(split).toMatchObject({ key: 'rollout-flag', reason: 'SPLIT', value: expect.stringMatching(/^[AB]$/) })
      expectSuccessShape(split)
    })

    it('always carries the value: disabled and killed flags serve their off variant', async () => {
      const off = await json(await evaluate('/off-flag', { context: { targetingKey: 'u1' } }))
      expect(off).toEqual({
        key: 'off-flag',
        value: false,
        reason: 'DISABLED',
        variant: 'off',
        metadata: { flagSetId: 'production', version: version('off-flag') },
      })
      const killed = await json(await evaluate('/killed-flag', { context: { targetingKey: 'u1' } }))
      expect(killed).toEqual({
        key: 'killed-flag',
        value: false,
        reason: 'DISABLED',
        variant: 'off',
        metadata: { flagSetId: 'production', version: version('killed-flag'), killed: true },
      })
      expectSuccessShape(off)
      expectSuccessShape(killed)
    })

    it('accepts a context without targetingKey, no context, and X-API-Key instead of Bearer', async () => {
      for (const body of [{ context: { plan: 'pro' } }, { context: {} }, {}, '', { context: null }]) {
        const res = await evaluate('/bool-flag', body)
        expect(res.status, JSON.stringify(body)).toBe(200)
        expect(await json(res)).toMatchObject({ key: 'bool-flag', value: true })
      }
      expect(await json(await evaluate('/plan-flag', { context: { plan: 'pro' } }))).toMatchObject({ value: 'P' })
      for (const secret of [serverKey, clientKey]) {
        const res = await h.app.request('/ofrep/v1/evaluate/flags/bool-flag', {
          method: 'POST',
          headers: { 'x-api-key': secret, 'content-type': 'application/json' },
          body: '{"context":{"targetingKey":"u1"}}',
        })
        expect(res.status).toBe(200)
        expect(await json(res)).toMatchObject({ key: 'bool-flag', value: true })
      }
    })

    it('404 FLAG_NOT_FOUND for unknown and archived flags', async () => {
      await ok(h.call('PUT', `${A}/flags/gone`, { type: 'boolean', variants: { on: true, off: false } }))
      await ok(h.call('DELETE', `${A}/flags/gone`))
      for (const key of ['nope', 'gone', 'x'.repeat(5000), encodeURIComponent('ü/../x'), '%00']) {
        const res = await evaluate(`/${key}`, { context: { targetingKey: 'u1' } })
        expect(res.status, key.slice(0, 20)).toBe(404)
        const body = await json(res)
        expect(body).toMatchObject({ key: decodeURIComponent(key), errorCode: 'FLAG_NOT_FOUND' })
        expect(typeof body.errorDetails).toBe('string')
        expectFailureShape(body, ['FLAG_NOT_FOUND'])
      }
    })

    it('400 with errorCode PARSE_ERROR, INVALID_CONTEXT or TARGETING_KEY_MISSING', async () => {
      const cases: [unknown, string, string][] = [
        ['{', 'bool-flag', 'PARSE_ERROR'],
        ['{"context": {"targetingKey": "u1"}', 'bool-flag', 'PARSE_ERROR'],
        ['not json', 'bool-flag', 'PARSE_ERROR'],
        ['[]', 'bool-flag', 'INVALID_CONTEXT'],
        ['42', 'bool-flag', 'INVALID_CONTEXT'],
        ['null', 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: [] }, 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: 'u1' }, 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: 7 }, 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: { targetingKey: 42 } }, 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: { targetingKey: null } }, 'bool-flag', 'INVALID_CONTEXT'],
        [{ context: {} }, 'rollout-flag', 'TARGETING_KEY_MISSING'],
        [{ context: { plan: 'pro' } }, 'rollout-flag', 'TARGETING_KEY_MISSING'],
      ]
      for (const [body, flag, errorCode] of cases) {
        const res = await evaluate(`/${flag}`, body)
        expect(res.status, `${JSON.stringify(body)} → ${errorCode}`).toBe(400)
        expect(res.headers.get('content-type')).toMatch(/^application\/json/)
        const answer = await json(res)
        expect(answer).toMatchObject({ key: flag, errorCode })
        expectFailureShape(answer)
        // every OFREP error is built in one place, with the RFC 9457 members beside OFREP's
        expect(answer).toMatchObject({
          type: `urn:vane:problem:ofrep-${errorCode.toLowerCase()}`,
          title: 'Evaluation failed',
          status: 400,
          detail: answer.errorDetails,
        })
        if (errorCode === 'TARGETING_KEY_MISSING') expect(answer.metadata).toEqual({ version: version(flag) })
      }
    })
  })

  describe('bulk evaluation', () => {
    it('answers flags (successes and failures), metadata and eventStreams', async () => {
      const res = await evaluate('', { context: { targetingKey: 'u1', plan: 'pro' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/)
      expect(res.headers.get('cache-control')).toBe('no-cache')
      const body = (await res.json()) as {
        flags: Record<string, unknown>[]
        metadata: Record<string, unknown>
        eventStreams: Record<string, unknown>[]
      }
      expect(Object.keys(body).sort()).toEqual(['eventStreams', 'flags', 'metadata'])
      expect(body.metadata).toEqual({ flagSetId: 'production', version: envVersion() })
      // a path, which OFREP providers resolve against their base URL: the request's Host is never reflected
      expect(body.eventStreams).toEqual([
        {
          type: 'sse',
          endpoint: { requestUri: expect.stringMatching(/^\/ofrep\/v1\/events\?token=[\w-]+\.[\w-]+$/) },
          inactivityDelaySec: 120,
        },
      ])
      const byKey = Object.fromEntries(body.flags.map((f) => [f.key, f]))
      expect(Object.keys(byKey).sort()).toEqual(
        ['bool-flag', 'killed-flag', 'num-flag', 'obj-flag', 'off-flag', 'plan-flag', 'rollout-flag'].sort(),
      )
      for (const entry of body.flags) expectSuccessShape(entry)
      expect(byKey['plan-flag']).toEqual({
        key: 'plan-flag',
        value: 'P',
        reason: 'TARGETING_MATCH',
        variant: 'pro',
        metadata: { flagSetId: 'production', version: version('plan-flag'), ruleId: 'pro-rule' },
      })
      expect(byKey['killed-flag']).toMatchObject({ value: false, reason: 'DISABLED', metadata: { killed: true } })
      expect(byKey['off-flag']).toMatchObject({ value: false, reason: 'DISABLED' })

      // without a targetingKey: accepted, only the rollout fails
      const anonymous = (await json(await evaluate('', { context: { plan: 'pro' } }))) as {
        flags: Record<string, unknown>[]
      }
      const failed = anonymous.flags.filter((f) => 'errorCode' in f)
      expect(failed).toEqual([
        {
          key: 'rollout-flag',
          errorCode: 'TARGETING_KEY_MISSING',
          errorDetails: expect.any(String),
          metadata: { version: version('rollout-flag') },
        },
      ])
      for (const entry of anonymous.flags)
        if ('errorCode' in entry) expectFailureShape(entry)
        else expectSuccessShape(entry)
    })

    it('400 for a body that is not JSON or not {"context": {...}}, without a key', async () => {
      for (const [body, errorCode] of [
        ['{', 'PARSE_ERROR'],
        ['[]', 'INVALID_CONTEXT'],
        ['"x"', 'INVALID_CONTEXT'],
        ['{"context": []}', 'INVALID_CONTEXT'],
        ['{"context": false}', 'INVALID_CONTEXT'],
      ]) {
        const res = await evaluate('', body!)
        expect(res.status, body).toBe(400)
        const answer = await json(res)
        expect(answer).toMatchObject({ errorCode })
        expect('key' in answer).toBe(false)
        expect(typeof answer.errorDetails).toBe('string')
      }
    })

    it('gives contexts with the same targetingKey different ETags when their results differ, equal ones when not', async () => {
      const etag = async (context: unknown) => (await evaluate('', { context })).headers.get('etag')!
      const pro = await etag({ targetingKey: 'u1', plan: 'pro' })
      const free = await etag({ targetingKey: 'u1', plan: 'free' })
      expect(pro).not.toBe(free)
      // an attribute no flag reads changes nothing
      expect(await etag({ targetingKey: 'u1', plan: 'pro', country: 'de' })).toBe(pro)
      expect(await etag({ targetingKey: 'u1', plan: 'pro', country: 'fr' })).toBe(pro)
      expect(await etag({ plan: 'pro', targetingKey: 'u1' })).toBe(pro)

      const cached = await evaluate('', { context: { targetingKey: 'u1', plan: 'pro' } }, { 'if-none-match': pro })
      expect(cached.status).toBe(304)
      expect(cached.headers.get('etag')).toBe(pro)
      expect(await cached.text()).toBe('')
      const other = await evaluate('', { context: { targetingKey: 'u1', plan: 'free' } }, { 'if-none-match': pro })
      expect(other.status).toBe(200)
      expect(other.headers.get('etag')).toBe(free)

      // a change that this context sees: a new ETag, and the old one no longer matches
      await targeting('num-flag', { enabled: true, offVariant: 'low', fallthrough: { variant: 'low' } })
      const after = await evaluate('', { context: { targetingKey: 'u1', plan: 'pro' } }, { 'if-none-match': pro })
      expect(after.status).toBe(200)
      expect(after.headers.get('etag')).not.toBe(pro)
      await targeting('num-flag', { enabled: true, offVariant: 'low', fallthrough: { variant: 'high' } })
    })
  })

  describe('event stream', () => {
    const streamUrl = async (secret = serverKey) => {
      const body = (await json(await evaluate('', { context: { targetingKey: 'u1' } }, {}, secret))) as {
        eventStreams: { endpoint: { requestUri: string } }[]
      }
      return body.eventStreams[0]!.endpoint.requestUri
    }

    it('the eventStreams URL sends refetchEvaluation after each change', async () => {
      const res = await h.app.request(await streamUrl())
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      const stream = new SseReader(res.body)
      expect(await stream.collect(50)).toEqual([])
      const before = Math.floor(Date.now() / 1000)
      await targeting('bool-flag', { enabled: true, offVariant: 'off', fallthrough: { variant: 'off' } })
      const event = await stream.next()
      expect(event.id).toBe(String(envVersion()))
      expect(event.event).toBe('message')
      const data = JSON.parse(event.data) as Record<string, unknown>
      expect(data).toEqual({ type: 'refetchEvaluation', etag: String(envVersion()), lastModified: expect.any(Number) })
      expect(Number.isInteger(data.lastModified)).toBe(true)
      expect(data.lastModified as number).toBeGreaterThanOrEqual(before - 1)
      expect(data.lastModified as number).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000))
      await targeting('bool-flag', { enabled: true, offVariant: 'off', fallthrough: { variant: 'on' } })
      expect(JSON.parse((await stream.next()).data)).toMatchObject({
        type: 'refetchEvaluation',
        etag: String(envVersion()),
      })
      await stream.cancel()
    })

    it('a reconnect that missed changes is told to refetch at once', async () => {
      const url = await streamUrl()
      const missedFrom = envVersion()
      await targeting('num-flag', { enabled: true, offVariant: 'low', fallthrough: { variant: 'high' } })
      const stream = new SseReader(
        (await h.app.request(url, { headers: { 'last-event-id': String(missedFrom) } })).body,
      )
      const event = await stream.next()
      expect(event.id).toBe(String(envVersion()))
      expect(JSON.parse(event.data)).toMatchObject({ type: 'refetchEvaluation', etag: String(envVersion()) })
      await stream.cancel()
      const current = new SseReader(
        (await h.app.request(url, { headers: { 'last-event-id': String(envVersion()) } })).body,
      )
      expect(await current.collect(100)).toEqual([])
      await current.cancel()
    })

    it('refuses missing, forged, foreign and expired tokens with 401', async () => {
      const url = new URL(await streamUrl(), 'http://localhost')
      const token = url.searchParams.get('token')!
      const keyId = (await h.auth.authenticate(serverKey))!.id
      const [payload, signature] = token.split('.') as [string, string]
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
      const forged = Buffer.from(JSON.stringify({ ...claims, e: 'staging' })).toString('base64url')
      const expired = await new StreamTokens(STREAM_SECRET, 600, () => Date.now() - 601_000).issue(keyId, 'production')
      const foreign = await new StreamTokens('another-secret').issue(keyId, 'production')
      const bad = [
        '',
        'abc',
        'a.b',
        'a.b.c',
        `${forged}.${signature}`,
        `${payload}.${signature}x`,
        `${payload}.${signature}.x`,
        `${payload}`,
        expired,
        foreign,
        '%%%.***',
      ]
      for (const t of bad) {
        const res = await h.app.request(`/ofrep/v1/events?token=${encodeURIComponent(t)}`)
        await expectProblem(res, 401)
      }
      await expectProblem(await h.app.request('/ofrep/v1/events'), 401)
      expect(h.delivery.counts().events).toBe(0)
    })

    it('closes on revocation, and a revoked key’s URL is refused', async () => {
      const secret = await h.key('server', 'production')
      const url = await streamUrl(secret)
      const stream = new SseReader((await h.app.request(url)).body)
      expect(await stream.collect(30)).toEqual([])
      expect(h.delivery.counts().events).toBe(1)
      const id = (await h.auth.authenticate(secret))!.id
      await ok(h.call('DELETE', `${A}/keys/${id}`))
      expect(await stream.ends(200)).toBe(true)
      await expectProblem(await h.app.request(url), 401)
      expect(h.delivery.counts().events).toBe(0)
    })

    it('a client key’s stream is refused from origins the key does not allow', async () => {
      const url = await streamUrl(clientKey)
      await expectProblem(await h.app.request(url, { headers: { origin: 'https://evil.example.com' } }), 403)
      const res = await h.app.request(url, { headers: { origin: 'https://app.example.com' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
      await res.body!.cancel()
    })
  })

  describe('CORS', () => {
    const preflight = (origin: string, path = '/ofrep/v1/evaluate/flags') =>
      h.app.request(path, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-api-key, content-type, if-none-match',
        },
      })

    it('answers a preflight from an allowed origin with ACAO and Expose-Headers: ETag, Retry-After', async () => {
      for (const path of ['/ofrep/v1/evaluate/flags', '/ofrep/v1/evaluate/flags/bool-flag', '/client/v1/stream']) {
        const res = await preflight('https://app.example.com', path)
        expect(res.status, path).toBe(204)
        expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
        expect(res.headers.get('access-control-expose-headers')).toBe('ETag, Retry-After')
        expect(res.headers.get('access-control-allow-methods')).toContain('POST')
        const allowHeaders = res.headers.get('access-control-allow-headers')!.toLowerCase()
        for (const header of ['x-api-key', 'content-type', 'if-none-match', 'authorization'])
          expect(allowHeaders).toContain(header)
        expect(res.headers.get('vary')).toContain('Origin')
      }
    })

    it('refuses a preflight from any other origin with 403 and no ACAO', async () => {
      for (const origin of [
        'https://evil.example.com',
        'https://app.example.com.evil.com',
        'null',
        'http://app.example.com',
      ]) {
        const res = await preflight(origin)
        expect(res.status, origin).toBe(403)
        expect(res.headers.get('access-control-allow-origin')).toBeNull()
      }
    })

    it('lets an allowed origin read the answer (ETag exposed) and refuses others with 403, no ACAO', async () => {
      const allowed = await evaluate(
        '',
        { context: { targetingKey: 'u1' } },
        { origin: 'https://app.example.com' },
        clientKey,
      )
      expect(allowed.status).toBe(200)
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
      expect(allowed.headers.get('access-control-expose-headers')).toBe('ETag, Retry-After')
      for (const path of ['', '/bool-flag']) {
        const refused = await evaluate(
          path,
          { context: { targetingKey: 'u1' } },
          { origin: 'https://evil.example.com' },
          clientKey,
        )
        await expectProblem(refused, 403)
        expect(refused.headers.get('access-control-allow-origin')).toBeNull()
      }
    })
  })

  it('answers malformed requests with 4xx, never 5xx', async () => {
    const cases: [string, RequestInit, number][] = [
      ['/ofrep/v1/evaluate/flags', { method: 'POST', body: '{}' }, 401],
      [
        '/ofrep/v1/evaluate/flags/bool-flag',
        { method: 'POST', headers: { authorization: 'Bearer x' }, body: '{}' },
        401,
      ],
      [
        '/ofrep/v1/evaluate/flags',
        { method: 'POST', headers: { authorization: `Bearer ${ADMIN_SECRET}` }, body: '{}' },
        403,
      ],
      ['/ofrep/v1/evaluate/flags', { headers: { authorization: `Bearer ${serverKey}` } }, 404],
      ['/ofrep/v1/evaluate/flags/bool-flag', { method: 'PUT', headers: { authorization: `Bearer ${serverKey}` } }, 404],
      ['/ofrep/v1/evaluate', { method: 'POST', headers: { authorization: `Bearer ${serverKey}` }, body: '{}' }, 404],
      ['/ofrep/v1/events', { method: 'POST' }, 404],
      [
        '/ofrep/v1/evaluate/flags',
        {
          method: 'POST',
          headers: { authorization: `Bearer ${serverKey}` },
          body: JSON.stringify({ context: { blob: 'x'.repeat(2 * 1024 * 1024) } }),
        },
        413,
      ],
      [
        '/ofrep/v1/evaluate/flags/bool-flag',
        {
          method: 'POST',
          headers: { authorization: `Bearer ${serverKey}` },
          body: JSON.stringify({ context: { blob: 'x'.repeat(2 * 1024 * 1024) } }),
        },
        413,
      ],
    ]
    for (const [path, init, status] of cases) {
      const res = await h.app.request(path, init)
      await expectProblem(res, status)
    }
    // deep nesting and odd encodings are parse or context errors, not crashes
    for (const body of [
      '['.repeat(100_000),
      `{"context":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
      '\uFEFF{}',
      '{"context":{"targetingKey":"\uD800"}}',
    ]) {
      const res = await evaluate('/bool-flag', body)
      expect(res.status, body.slice(0, 20)).toBeLessThan(500)
    }
  })
})

describe('OFREP rate limiting', () => {
  it('answers 429 with Retry-After past the evaluation rate, readable by allowed origins', async () => {
    const h = await createHarness({ environments: ['production'], evaluationRateLimit: { perSecond: 0.5, burst: 2 } })
    try {
      const key = await h.key('client', 'production', ['https://app.example.com'])
      const call = () =>
        h.app.request('/ofrep/v1/evaluate/flags', {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, origin: 'https://app.example.com' },
          body: '{"context":{}}',
        })
      expect((await call()).status).toBe(200)
      expect((await call()).status).toBe(200)
      const limited = await call()
      await expectProblem(limited, 429)
      const retryAfter = Number(limited.headers.get('retry-after'))
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2).toBe(true)
      expect(limited.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
      expect(limited.headers.get('access-control-expose-headers')).toBe('ETag, Retry-After')
      // the limit is per key: another key is not affected
      const other = await h.key('server', 'production')
      const res = await h.app.request('/ofrep/v1/evaluate/flags', {
        method: 'POST',
        headers: { authorization: `Bearer ${other}` },
        body: '{}',
      })
      expect(res.status).toBe(200)
    } finally {
      await h.close()
    }
  })
})
