import { type EvaluationResult, murmur3, murmur3Finish, murmur3Round } from '@vane/engine'
import { type Context, Hono } from 'hono'
import { checkSecureMode } from '../control/secure-mode.js'
import type { Delivery } from '../delivery/delivery.js'
import { encodeEvent } from '../delivery/sse.js'
import type { StreamTokens } from '../delivery/tokens.js'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { evaluationBodyLimit, evaluatorFor, readEvaluationBody } from '../http/evaluation.js'
import { checkJsonKeys } from '../http/json-keys.js'
import { clientAddress, headOnly, markAuthenticated, sseResponse } from '../http/node-path.js'
import type { EvaluatorHub } from '../live/hub.js'
import type { Store } from '../storage/repository.js'

export interface OfrepDeps {
  hub: EvaluatorHub
  delivery: Delivery
  tokens: StreamTokens
  /** Looks up the key an event-stream token names (a relay hands in its own). */
  store: Pick<Store, 'getApiKey'>
  onEvaluate?: (endpoint: 'ofrep' | 'ofrep-bulk', flags: number) => void
  /**
   * The server's address as clients reach it (behind a proxy), for the absolute `eventStreams` URL. Unset, the
   * stream is given as a path, which OFREP providers resolve against their own base URL: never the request's
   * `Host`, which a client chooses.
   */
  publicUrl?: string | undefined
}

/** An OFREP evaluation error: OFREP's body, built with every other error answer (`http/errors.ts`). */
const ofrepError = (
  code: 'bad_request' | 'not_found',
  key: string | undefined,
  errorCode: string,
  errorDetails: string,
  metadata?: Record<string, string | number | boolean>,
) => new VaneError(code, errorDetails, [], {}, { key, errorCode, metadata })

/** The context from `{ "context": {...} }`; a missing context is an empty one. */
async function readContext(c: Context<AppEnv>, key?: string): Promise<Record<string, unknown>> {
  const text = await readEvaluationBody(c)
  let body: unknown
  try {
    body = text.trim() === '' ? {} : JSON.parse(text)
  } catch (error) {
    throw ofrepError(
      'bad_request',
      key,
      'PARSE_ERROR',
      `the body is not JSON: ${error instanceof Error ? error.message : error}`,
    )
  }
  checkJsonKeys(text, body)
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw ofrepError('bad_request', key, 'INVALID_CONTEXT', 'send {"context": {...}}')
  const context = (body as { context?: unknown }).context ?? {}
  if (typeof context !== 'object' || context === null || Array.isArray(context))
    throw ofrepError('bad_request', key, 'INVALID_CONTEXT', '"context" must be an object')
  return context as Record<string, unknown>
}

function success(key: string, result: EvaluationResult, flagSetId: string) {
  const metadata: Record<string, string | number | boolean> = { flagSetId }
  if (result.flagVersion !== undefined) metadata.version = result.flagVersion
  if (result.killed) metadata.killed = true
  if (result.ruleId !== undefined) metadata.ruleId = result.ruleId
  return { key, value: result.value, reason: result.reason, variant: result.variant, metadata }
}

function failure(key: string, result: EvaluationResult) {
  return {
    key,
    errorCode: result.errorCode,
    errorDetails: result.errorMessage,
    ...(result.flagVersion !== undefined && { metadata: { version: result.flagVersion } }),
  }
}

/** One entry of a bulk answer: its JSON text and two 32-bit hashes of it (seeds 0 and {@link SEED2}). */
interface Entry {
  key: string
  environment: string
  json: string
  h1: number
  h2: number
}

const SEED2 = 0x9747b28c

/**
 * Entries of successful results, per result object. The engine precomputes its results and
 * returns the same frozen object for the same outcome, so a bulk answer for a new user
 * mostly reuses text and hashes computed once, instead of re-serialising and re-hashing
 * 500 entries (~60 KB) per request. Errors are fresh objects: never cached.
 */
const entries = new WeakMap<EvaluationResult, Entry>()

function entryOf(key: string, result: EvaluationResult, environment: string): Entry {
  const cacheable = result.errorCode === undefined && Object.isFrozen(result)
  if (cacheable) {
    const hit = entries.get(result)
    if (hit !== undefined && hit.key === key && hit.environment === environment) return hit
  }
  const json = JSON.stringify(result.errorCode === undefined ? success(key, result, environment) : failure(key, result))
  const entry = { key, environment, json, h1: murmur3(json), h2: murmur3(json, SEED2) }
  if (cacheable) entries.set(result, entry)
  return entry
}

/** One lane of the fingerprint, finished over the number of entries folded in. */
const fingerprint = (h: number, entries: number) => murmur3Finish(h, 0, entries).toString(36)

/** Client keys in secure mode need `X-Vane-Hash`; checked only for them, off the hot path of every other key. */
const secureMode = (c: Context<AppEnv>, context: Record<string, unknown>) =>
  checkSecureMode(c.get('apiKey'), context, c.req.header('x-vane-hash'), 'header')

/** OpenFeature Remote Evaluation Protocol: single and bulk evaluation, and the bulk change stream. */
export function ofrepRoutes(deps: OfrepDeps) {
  return new Hono<AppEnv>()
    .post('/evaluate/flags/:key', evaluationBodyLimit, async (c) => {
      const key = c.req.param('key')
      const evaluator = evaluatorFor(c, deps.hub)
      const context = await readContext(c, key)
      if (c.get('apiKey').secureModeSecret) await secureMode(c, context)
      const result = evaluator.evaluate(key, context)
      deps.onEvaluate?.('ofrep', 1)
      if (result.errorCode === 'FLAG_NOT_FOUND')
        throw ofrepError('not_found', key, 'FLAG_NOT_FOUND', `flag "${key}" not found`)
      if (result.errorCode !== undefined)
        throw ofrepError(
          'bad_request',
          key,
          result.errorCode,
          result.errorMessage ?? result.errorCode,
          result.flagVersion === undefined ? undefined : { version: result.flagVersion },
        )
      return c.json(success(key, result, evaluator.environment))
    })
    .post('/evaluate/flags', evaluationBodyLimit, async (c) => {
      const evaluator = evaluatorFor(c, deps.hub)
      const context = await readContext(c)
      if (c.get('apiKey').secureModeSecret) await secureMode(c, context)
      const parts: string[] = []
      // a 64-bit fingerprint of the entries in order: derived from what this context gets,
      // so another context with the same key never reuses it
      let h1 = 0
      let h2 = SEED2
      const environment = evaluator.environment
      evaluator.evaluateEach(context, (key, result) => {
        const entry = entryOf(key, result, environment)
        parts.push(entry.json)
        h1 = murmur3Round(h1, entry.h1)
        h2 = murmur3Round(h2, entry.h2)
      })
      deps.onEvaluate?.('ofrep-bulk', parts.length)
      const flagsJson = `[${parts.join(',')}]`
      const etag = `"${fingerprint(h1, parts.length)}-${fingerprint(h2, parts.length)}"`
      const headers = { ETag: etag, 'Cache-Control': 'no-cache' }
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers)
      const token = await deps.tokens.issue(c.get('apiKey').id, evaluator.environment)
      const path = `/ofrep/v1/events?token=${token}`
      const eventStream = {
        type: 'sse',
        ...(deps.publicUrl === undefined
          ? { endpoint: { requestUri: path } }
          : { url: new URL(path, deps.publicUrl).toString() }),
        inactivityDelaySec: 120,
      }
      const metadata = JSON.stringify({ flagSetId: evaluator.environment, version: evaluator.version })
      return c.body(
        `{"flags":${flagsJson},"metadata":${metadata},"eventStreams":[${JSON.stringify(eventStream)}]}`,
        200,
        {
          ...headers,
          'Content-Type': 'application/json',
        },
      )
    })
}

/**
 * `GET /ofrep/v1/events?token=…`: notifies OFREP providers to re-fetch after
 * each change. The signed token stands in for the key a browser's EventSource cannot send.
 */
export function ofrepEventRoutes(deps: OfrepDeps) {
  return new Hono<AppEnv>().get('/events', async (c) => {
    const claims = await deps.tokens.verify(c.req.query('token') ?? '')
    if (claims === undefined)
      throw new VaneError(
        'unauthorized',
        'the stream token is missing, invalid or expired: evaluate again for a fresh URL',
      )
    const key = await deps.store.getApiKey(claims.k)
    if (key === undefined || key.revokedAt !== null)
      throw new VaneError('unauthorized', 'the key behind this stream was revoked')
    c.set('apiKey', key)
    markAuthenticated(c)
    const origin = c.req.header('origin')
    if (origin !== undefined && key.kind === 'client' && !key.allowedOrigins.includes(origin))
      throw new VaneError('forbidden', `origin ${origin} is not allowed for this client key`)
    const head = headOnly(c)
    if (head !== undefined) return head
    const last = Number(c.req.header('last-event-id'))
    const connection = deps.delivery.open(
      'events',
      claims.e,
      key,
      async (stream) => {
        const current = deps.hub.get(claims.e)?.version ?? 0
        stream.setVersion(current)
        // a reconnect that missed changes refetches at once
        if (Number.isFinite(last) && last < current)
          stream.send(
            encodeEvent('message', JSON.stringify({ type: 'refetchEvaluation', etag: String(current) }), current),
          )
      },
      { address: clientAddress(c) },
    )
    return sseResponse(c, connection)
  })
}
