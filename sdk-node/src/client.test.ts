/**
 * VaneClient on a fake platform: getters fuzzed with fast-check (arbitrary keys, defaults and contexts, hostile
 * ones included) before and after the first ruleset, with and without telemetry; waitForReady on a manual clock;
 * and the ordering rules of docs/protocol.md (stale patches dropped, a kill sent ahead is not undone).
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isPromise } from 'node:util/types'
import { logs as apiLogs } from '@opentelemetry/api'
import { logs as legacyLogs } from '@opentelemetry/api-logs'
import type { Flag, Snapshot, SnapshotPatch } from '@vane/engine'
import { type FakeBody, type FakeRequest, fakePlatform, never, settle, sseResponse } from '@vane/sdk-core/fakes'
import fc from 'fast-check'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ClientOptions, createClient, type VaneClient } from './client.js'

const STREAM = '/sdk/v1/stream'

function flag(key: string, version: number, fields: Partial<Flag> = {}): Flag {
  return {
    key,
    type: 'boolean',
    version,
    enabled: true,
    variants: { on: true, off: false },
    offVariant: 'off',
    fallthrough: { variant: 'on' },
    ...fields,
  }
}

/** Flags of every type, with rules that read the context in every way the engine can. */
const SNAPSHOT: Snapshot = {
  environment: 'production',
  version: 10,
  flags: {
    checkout: flag('checkout', 3),
    color: flag('color', 3, {
      type: 'string',
      variants: { red: 'red', blue: 'blue', green: 'green' },
      offVariant: 'red',
      targets: { green: ['user-1'] },
      rules: [
        { id: 'pro', clauses: [{ attribute: 'plan', op: 'eq', values: ['pro'] }], serve: { variant: 'blue' } },
        { id: 'beta', cohorts: ['beta'], serve: { variant: 'green' } },
        {
          id: 'mail',
          clauses: [{ attribute: 'user.email', op: 'matches', values: ['@example\\.com$'] }],
          serve: { variant: 'green' },
        },
      ],
      fallthrough: { rollout: { weights: { red: 50_000, blue: 50_000 }, bucketBy: 'org.id' } },
    }),
    limit: flag('limit', 2, {
      type: 'number',
      variants: { low: 10, high: 1000 },
      offVariant: 'low',
      rules: [
        {
          id: 'old',
          clauses: [{ attribute: 'version', op: 'semverLt', values: ['2.0.0'] }],
          serve: { variant: 'low' },
        },
      ],
      fallthrough: { variant: 'high' },
    }),
    layout: flag('layout', 1, {
      type: 'object',
      variants: { grid: { columns: 3 }, list: [1, 2] },
      offVariant: 'list',
      prerequisites: [{ flag: 'checkout', variants: ['on'] }],
      fallthrough: { variant: 'grid' },
    }),
  },
  cohorts: {
    beta: { key: 'beta', include: ['user-2'], clauses: [{ attribute: 'age', op: 'gte', values: [30] }] },
  },
}

/** Objects that throw, lie or loop when read: none of them may make a getter throw. */
function hostileContexts(): object[] {
  const throwing = new Proxy(
    {},
    {
      get: () => {
        throw new Error('get trap')
      },
      has: () => {
        throw new Error('has trap')
      },
      ownKeys: () => {
        throw new Error('ownKeys trap')
      },
      getOwnPropertyDescriptor: () => {
        throw new Error('descriptor trap')
      },
      getPrototypeOf: () => {
        throw new Error('prototype trap')
      },
    },
  )
  const revocable = Proxy.revocable({ targetingKey: 'user-1' }, {})
  revocable.revoke()
  const getter = Object.defineProperty({}, 'targetingKey', {
    enumerable: true,
    get: () => {
      throw new Error('targetingKey getter')
    },
  })
  const plan = Object.defineProperty({ targetingKey: 'user-3' }, 'plan', {
    enumerable: true,
    get: () => {
      throw new Error('plan getter')
    },
  })
  const cyclic: Record<string, unknown> = { targetingKey: 'user-4' }
  cyclic.self = cyclic
  cyclic.user = cyclic
  const bare = Object.assign(Object.create(null) as object, { targetingKey: 'user-5', plan: 'pro' })
  const primitive = {
    targetingKey: {
      toString: () => {
        throw new Error('toString')
      },
      [Symbol.toPrimitive]: () => {
        throw new Error('toPrimitive')
      },
    },
  }
  const protoKey = JSON.parse('{"__proto__": {"plan": "pro"}, "targetingKey": "user-6"}') as object
  return [throwing, revocable.proxy, getter, plan, cyclic, bare, primitive, protoKey, [], new Date(), () => {}]
}

/** Defaults no typed caller would pass, but a JavaScript one can. */
function hostileDefaults(): unknown[] {
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const revocable = Proxy.revocable({}, {})
  revocable.revoke()
  const toJson = {
    toJSON: () => {
      throw new Error('toJSON')
    },
  }
  return [cyclic, 10n, Symbol('default'), revocable.proxy, toJson, undefined, Number.NaN, () => 1]
}

const flagKeys = fc.oneof(
  fc.constantFrom('checkout', 'color', 'limit', 'layout', 'missing', '__proto__', 'constructor', 'toString', ''),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
)
/** fast-check inspects constants (to clone them), which hostile values punish: they are built inside the property. */
const HOSTILE_DEFAULTS = hostileDefaults()
const HOSTILE_CONTEXTS = hostileContexts()
const HOSTILE = { defaults: HOSTILE_DEFAULTS, contexts: HOSTILE_CONTEXTS }
const hostile = (of: keyof typeof HOSTILE) => fc.nat({ max: HOSTILE[of].length - 1 }).map((i) => ({ hostile: i, of }))
const defaults = fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostile('defaults'), fc.anything())
const contexts = fc.oneof(
  hostile('contexts'),
  fc.record(
    {
      targetingKey: fc.oneof(fc.string(), fc.constantFrom('user-1', 'user-2'), fc.anything()),
      plan: fc.constantFrom('pro', 'free', 7, null),
      age: fc.oneof(fc.integer(), fc.double(), fc.string()),
      version: fc.oneof(fc.constantFrom('1.2.3', 'v2.0.0', '2.0.0-rc.1', 'x'), fc.string()),
      user: fc.oneof(fc.record({ email: fc.oneof(fc.emailAddress(), fc.string()) }), fc.anything()),
      org: fc.oneof(fc.record({ id: fc.oneof(fc.string(), fc.integer(), fc.double()) }), fc.anything()),
    },
    { requiredKeys: [] },
  ),
  fc.object(),
  fc.anything(),
  fc.constant(undefined),
)

type Getter = (c: VaneClient, key: string, d: unknown, ctx: unknown) => unknown
const GETTERS: [string, Getter][] = [
  ['getBoolean', (c, k, d, x) => c.getBoolean(k, d as boolean, x as object)],
  ['getString', (c, k, d, x) => c.getString(k, d as string, x as object)],
  ['getNumber', (c, k, d, x) => c.getNumber(k, d as number, x as object)],
  ['getObject', (c, k, d, x) => c.getObject(k, d as never, x as object)],
  ['getBooleanDetails', (c, k, d, x) => c.getBooleanDetails(k, d as boolean, x as object)],
  ['getStringDetails', (c, k, d, x) => c.getStringDetails(k, d as string, x as object)],
  ['getNumberDetails', (c, k, d, x) => c.getNumberDetails(k, d as number, x as object)],
  ['getObjectDetails', (c, k, d, x) => c.getObjectDetails(k, d as never, x as object)],
  ['evaluate', (c, k, d, x) => c.evaluate(k, d as never, x as object)],
  ['evaluateAll', (c, _k, _d, x) => c.evaluateAll(x as object)],
]

let clients: VaneClient[] = []
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()))
  clients = []
})

/** A client on a fake platform whose stream requests get bodies the test writes into. */
function setup(options: Partial<ClientOptions> = {}) {
  const { clock, http, platform } = fakePlatform()
  const bodies: FakeBody[] = []
  http.handler = (request: FakeRequest) => {
    if (request.path !== STREAM) return new Response('', { status: 404 })
    const { response, body } = sseResponse(request)
    bodies.push(body)
    return response
  }
  const client = createClient({ url: 'http://vane.test/', sdkKey: 'vane_server_test', platform, ...options })
  clients.push(client)
  const events = { change: [] as string[][], ready: 0, stale: [] as Error[], error: [] as Error[] }
  client.on('change', (keys) => events.change.push(keys))
  client.on('ready', () => events.ready++)
  client.on('stale', (e) => events.stale.push(e))
  client.on('error', (e) => events.error.push(e))
  /** The stream body currently open. */
  const body = () => bodies.at(-1)!
  return { client, clock, http, bodies, body, events }
}

async function ready(t: ReturnType<typeof setup>, snapshot: Snapshot = SNAPSHOT) {
  // the client connects once its start-up reads are done (OpenTelemetry's, with telemetry on): bounded wait
  for (let i = 0; i < 1_000 && t.bodies.length === 0; i++) await settle(1)
  await settle()
  t.body().event('put', snapshot, snapshot.version)
  await t.client.waitForReady(1)
}

function unwrap(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'hostile' in value && 'of' in value) {
    const { hostile: i, of } = value as { hostile: number; of: keyof typeof HOSTILE }
    return HOSTILE[of][i]
  }
  return value
}

/** Every getter on every input: returns synchronously, never throws, never touches the network. */
function fuzzGetters(t: ReturnType<typeof setup>, expectNotReady: boolean) {
  const requests = t.http.requests.length
  fc.assert(
    fc.property(flagKeys, defaults, contexts, fc.constantFrom(...GETTERS), (key, d0, ctx0, [name, get]) => {
      const d = unwrap(d0)
      const ctx = unwrap(ctx0)
      let out: unknown
      try {
        out = get(t.client, key, d, ctx)
      } catch (error) {
        throw new Error(`${name}(${JSON.stringify(key)}) threw: ${String(error)}`)
      }
      // a synchronous answer, never a promise (checked without touching the value, which may be the hostile default)
      expect(isPromise(out)).toBe(false)
      if (expectNotReady && name.endsWith('Details'))
        expect(out).toMatchObject({ reason: 'ERROR', errorCode: 'PROVIDER_NOT_READY' })
    }),
    { numRuns: 3_000 },
  )
  expect(t.http.requests.length).toBe(requests)
}

describe('VaneClient getters', () => {
  /** Evaluation records reaching a global LoggerProvider through either logs API. */
  const records: { eventName?: string | undefined; attributes?: Record<string, unknown> | undefined }[] = []

  beforeAll(() => {
    const provider = {
      getLogger: () => ({
        emit: (r: { eventName?: string; attributes?: Record<string, unknown> }) => {
          if (records.length < 10) records.push(r)
        },
        enabled: () => true,
      }),
    }
    apiLogs.setGlobalLoggerProvider(provider as never)
    legacyLogs.setGlobalLoggerProvider(provider as never)
  })

  it('return the default with PROVIDER_NOT_READY before any ruleset, at once', async () => {
    const t = setup()
    t.http.handler = never
    await settle()
    expect(t.client.status).toBe('starting')
    expect(t.client.getBoolean('checkout', true)).toBe(true)
    expect(t.client.getStringDetails('color', 'grey', { targetingKey: 'user-1' })).toEqual({
      flagKey: 'color',
      value: 'grey',
      reason: 'ERROR',
      errorCode: 'PROVIDER_NOT_READY',
      errorMessage: expect.any(String),
      variant: undefined,
      ruleId: undefined,
      flagVersion: undefined,
    })
    expect(t.client.evaluateAll({ targetingKey: 'user-1' })).toEqual({})
    expect(t.client.snapshotInfo).toBeUndefined()
  })

  it('never throw and never wait before the first ruleset (fuzzed)', async () => {
    const t = setup()
    t.http.handler = never
    await settle()
    fuzzGetters(t, true)
  })

  it('never throw and never wait once a ruleset is loaded (fuzzed)', async () => {
    const t = setup()
    await ready(t)
    expect(t.client.getString('color', 'grey', { targetingKey: 'user-1' })).toBe('green')
    fuzzGetters(t, false)
    // still answering correctly afterwards
    expect(t.client.getString('color', 'grey', { targetingKey: 'x', plan: 'pro' })).toBe('blue')
    expect(t.client.getNumber('limit', 0, { version: '1.9.0' })).toBe(10)
    expect(t.client.getObject('layout', {}, {})).toEqual({ columns: 3 })
  })

  it('never throw with telemetry on: evaluation events read the context too (fuzzed)', async () => {
    const t = setup({ telemetry: { includeValue: true, spanEvents: true, reportIntervalMs: 0 } })
    await ready(t)
    // ready means the OpenTelemetry APIs have loaded: the first evaluation after it already emits its event
    t.client.getBoolean('checkout', false, { targetingKey: 'probe' })
    expect(records[0]?.eventName).toBe('feature_flag.evaluation')
    fuzzGetters(t, false)
  })

  it('keep answering from the last ruleset after close', async () => {
    const t = setup()
    await ready(t)
    await t.client.close()
    expect(t.client.status).toBe('closed')
    expect(t.client.getBoolean('checkout', false)).toBe(true)
  })
})

describe('VaneClient.waitForReady', () => {
  it('resolves as soon as the first ruleset arrives', async () => {
    const t = setup()
    const waiting = t.client.waitForReady(5_000)
    let settled = false
    void waiting.then(() => (settled = true))
    await t.clock.advance(1_000)
    expect(settled).toBe(false)
    t.body().event('put', SNAPSHOT, 10)
    await settle()
    expect(settled).toBe(true)
    await expect(waiting).resolves.toBeUndefined()
    expect(t.client.status).toBe('ready')
    expect(t.events.ready).toBe(1)
    expect(t.clock.time).toBe(1_000)
  })

  it('resolves at once when a ruleset is already loaded', async () => {
    const t = setup()
    await ready(t)
    await expect(t.client.waitForReady(0)).resolves.toBeUndefined()
  })

  it('rejects exactly when its timeout passes without a ruleset', async () => {
    const t = setup({ heartbeatTimeoutMs: 3_600_000 })
    t.http.handler = never
    const waiting = t.client.waitForReady(2_000)
    let outcome: unknown
    waiting.catch((error: unknown) => (outcome = error))
    await t.clock.advance(1_999)
    expect(outcome).toBeUndefined()
    await t.clock.advance(1)
    expect(outcome).toBeInstanceOf(Error)
    expect((outcome as Error).message).toMatch(/not ready within 2000 ms/)
    // getters still answer meanwhile
    expect(t.client.getBooleanDetails('checkout', false).errorCode).toBe('PROVIDER_NOT_READY')
  })

  it('uses a 10 s timeout by default', async () => {
    const t = setup({ heartbeatTimeoutMs: 3_600_000 })
    t.http.handler = never
    let outcome: unknown
    t.client.waitForReady().catch((error: unknown) => (outcome = error))
    await t.clock.advance(9_999)
    expect(outcome).toBeUndefined()
    await t.clock.advance(1)
    expect(outcome).toBeInstanceOf(Error)
  })

  it('rejects at once when the key is refused, and the client fails', async () => {
    const t = setup()
    t.http.handler = () => new Response('', { status: 401 })
    const waiting = t.client.waitForReady(60_000)
    await expect(waiting).rejects.toThrow(/refused \(401\)/)
    expect(t.clock.time).toBe(0)
    expect(t.client.status).toBe('failed')
    expect(t.events.error).toHaveLength(1)
    await t.clock.advance(3_600_000)
    expect(t.http.requests).toHaveLength(1)
  })

  it('rejects when the client is closed first', async () => {
    const t = setup()
    t.http.handler = never
    const waiting = t.client.waitForReady(60_000)
    await t.client.close()
    await expect(waiting).rejects.toThrow(/closed/)
  })

  it('does not leave its timer behind once resolved', async () => {
    const t = setup()
    const waiting = t.client.waitForReady(5_000)
    await settle()
    const before = t.clock.pending
    t.body().event('put', SNAPSHOT, 10)
    await waiting
    expect(t.clock.pending).toBe(before - 1)
  })
})

describe('VaneClient: applying the stream', () => {
  const put = (key: string, version: number, fields: Partial<Flag> = {}): SnapshotPatch => ({
    op: 'put',
    kind: 'flag',
    key,
    value: flag(key, version, fields),
  })
  const blue = { type: 'string', variants: { red: 'red', blue: 'blue' }, offVariant: 'red' } as const

  it('applies a newer patch and reports the changed flag', async () => {
    const t = setup()
    await ready(t)
    t.body().event('patch', { ...put('checkout', 4, { fallthrough: { variant: 'off' } }), version: 11 }, 11)
    await settle()
    expect(t.client.getBoolean('checkout', true)).toBe(false)
    expect(t.client.snapshotInfo).toEqual({ environment: 'production', version: 11 })
    // layout has checkout as a prerequisite, so it may change too
    expect(t.events.change).toEqual([['checkout', 'layout']])
  })

  it('drops ordered patches whose id is not past the version it holds (replays)', async () => {
    const t = setup()
    await ready(t)
    for (const id of [10, 9, 1]) t.body().event('patch', put('checkout', 9, { fallthrough: { variant: 'off' } }), id)
    t.body().event('delete', { op: 'delete', kind: 'flag', key: 'checkout', version: 10 }, 10)
    await settle()
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    expect(t.client.snapshotInfo?.version).toBe(10)
    expect(t.events.change).toEqual([])
  })

  it('drops a patch whose flag version is not newer, but still moves the resume point past it', async () => {
    const t = setup()
    await ready(t, {
      ...SNAPSHOT,
      flags: { ...SNAPSHOT.flags, paint: flag('paint', 5, { ...blue, fallthrough: { variant: 'red' } }) },
    })
    t.body().event('patch', put('paint', 5, { ...blue, fallthrough: { variant: 'blue' } }), 11)
    t.body().event('patch', put('paint', 4, { ...blue, fallthrough: { variant: 'blue' } }), 12)
    await settle()
    expect(t.client.getString('paint', 'x')).toBe('red')
    expect(t.events.change).toEqual([])
    expect(t.client.snapshotInfo?.version).toBe(12)
    // and the next connection resumes after it
    t.body().end()
    await t.clock.advance(1_000)
    expect(t.http.to(STREAM).at(-1)!.headers['last-event-id']).toBe('12')
  })

  it('applies a kill sent ahead (no id) at once, and neither older changes nor its ordered copy undo it', async () => {
    const t = setup()
    await ready(t)
    // the kill jumps the queue: flag version 6, no event id
    t.body().event('patch', { ...put('checkout', 6, { killed: true }), version: 13 })
    await settle()
    const killed = t.client.getBooleanDetails('checkout', true)
    expect(killed).toMatchObject({ value: false, variant: 'off', reason: 'DISABLED', flagVersion: 6 })
    expect(t.client.evaluate('checkout', true).killed).toBe(true)
    expect(t.events.change).toEqual([['checkout', 'layout']])
    // the environment version does not move: the ordered events are still to come
    expect(t.client.snapshotInfo?.version).toBe(10)

    // the backlog: two older changes to the same flag, then the kill's ordered copy
    t.body().event('patch', { ...put('checkout', 4, { fallthrough: { variant: 'on' } }), version: 11 }, 11)
    t.body().event('patch', { ...put('checkout', 5, { rules: [] }), version: 12 }, 12)
    t.body().event('patch', { ...put('checkout', 6, { killed: true }), version: 13 }, 13)
    await settle()
    expect(t.client.getBooleanDetails('checkout', true)).toMatchObject({ value: false, reason: 'DISABLED' })
    expect(t.client.snapshotInfo?.version).toBe(13)
    expect(t.events.change).toEqual([['checkout', 'layout']])

    // a later unkill (newer flag version) does apply
    t.body().event('patch', { ...put('checkout', 7), version: 14 }, 14)
    await settle()
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    expect(t.events.change).toEqual([
      ['checkout', 'layout'],
      ['checkout', 'layout'],
    ])

    t.body().end()
    await t.clock.advance(1_000)
    expect(t.http.to(STREAM).at(-1)!.headers['last-event-id']).toBe('14')
  })

  it('ignores an id-less patch that is not newer than the flag it holds', async () => {
    const t = setup()
    await ready(t)
    t.body().event('patch', put('checkout', 3, { killed: true }))
    t.body().event('patch', put('checkout', 2, { killed: true }))
    await settle()
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    expect(t.events.change).toEqual([])
  })

  it('ignores patches before the first ruleset', async () => {
    const t = setup()
    await settle()
    t.body().event('patch', put('checkout', 9), 11)
    await settle()
    expect(t.client.getBooleanDetails('checkout', false).errorCode).toBe('PROVIDER_NOT_READY')
    t.body().event('put', SNAPSHOT, 10)
    await settle()
    expect(t.client.getBoolean('checkout', false)).toBe(true)
  })

  it('reports an invalid patch as an error and keeps serving the previous ruleset', async () => {
    const t = setup()
    await ready(t)
    // a prerequisite that names a variant checkout no longer has
    t.body().event(
      'patch',
      put('checkout', 4, { variants: { yes: true, no: false }, offVariant: 'no', fallthrough: { variant: 'yes' } }),
      11,
    )
    t.body().event('patch', { op: 'put', kind: 'flag', key: 'checkout' }, 12)
    await settle()
    expect(t.events.error.length).toBeGreaterThanOrEqual(2)
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    expect(t.client.getObject('layout', {})).toEqual({ columns: 3 })
    // the stream is still the first one
    expect(t.http.to(STREAM)).toHaveLength(1)
  })

  it('reports the keys that differ when a fresh put replaces the ruleset', async () => {
    const t = setup()
    await ready(t)
    const { checkout: _gone, ...rest } = SNAPSHOT.flags
    const next: Snapshot = {
      ...SNAPSHOT,
      version: 20,
      flags: {
        ...rest,
        layout: { ...SNAPSHOT.flags.layout!, prerequisites: [], version: 2 },
        fresh: flag('fresh', 1),
      },
    }
    t.body().event('put', next, 20)
    await settle()
    expect(t.events.change).toHaveLength(1)
    expect(t.events.change[0]!.sort()).toEqual(['checkout', 'fresh', 'layout'])
    expect(t.client.getBooleanDetails('checkout', true).errorCode).toBe('FLAG_NOT_FOUND')
  })

  it('goes stale when the stream drops and ready again when it is back', async () => {
    const t = setup()
    await ready(t)
    t.body().fail(new TypeError('terminated'))
    await settle()
    expect(t.client.status).toBe('stale')
    expect(t.events.stale.map((e) => e.message)).toEqual(['terminated'])
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    await t.clock.advance(500)
    expect(t.client.status).toBe('ready')
    expect(t.events.ready).toBe(2)
  })

  it('emits ready again when polling brings it back from stale', async () => {
    const t = setup()
    const handler = t.http.handler
    await ready(t)
    t.http.handler = (request) =>
      request.path === STREAM
        ? new Response('', { status: 503 })
        : new Response(JSON.stringify({ ...SNAPSHOT, version: 11 }), { headers: { etag: '"production-11"' } })
    t.body().fail(new TypeError('terminated'))
    await t.clock.advance(10_000)
    expect(t.http.to('/sdk/v1/snapshot').length).toBeGreaterThanOrEqual(1)
    expect(t.client.snapshotInfo?.version).toBe(11)
    expect(t.client.status).toBe('ready')
    expect(t.events.stale).toHaveLength(1)
    expect(t.events.ready).toBe(2)
    t.http.handler = handler
  })
})

describe('VaneClient: bootstrap and persisted rulesets', () => {
  it('serves a bootstrap at once, but does not resume the stream from its version', async () => {
    const t = setup({ bootstrap: { ...SNAPSHOT, version: 3 } })
    await t.client.waitForReady(0)
    expect(t.client.getBoolean('checkout', false)).toBe(true)
    await settle()
    expect(t.http.to(STREAM)[0]!.headers['last-event-id']).toBeUndefined()
    // once the server's own put arrives, reconnects resume from it
    t.body().event('put', { ...SNAPSHOT, version: 12 }, 12)
    await settle()
    t.body().end()
    await t.clock.advance(1_000)
    expect(t.http.to(STREAM)[1]!.headers['last-event-id']).toBe('12')
  })

  it('resumes the stream from the snapshot it persisted itself', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vane-client-test-'))
    try {
      const file = join(dir, 'vane.json')
      await writeFile(file, JSON.stringify(SNAPSHOT))
      const t = setup({ persistTo: file })
      await t.client.waitForReady(0).catch(() => {})
      for (let i = 0; i < 200 && t.http.requests.length === 0; i++) await settle(1)
      expect(t.client.getBoolean('checkout', false)).toBe(true)
      expect(t.http.to(STREAM)[0]!.headers['last-event-id']).toBe('10')
      await t.client.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
