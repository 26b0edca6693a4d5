import { Hono } from 'hono'
import { checkSecureMode } from '../control/secure-mode.js'
import { type ClientValue, clientValue, type Delivery } from '../delivery/delivery.js'
import { encodeEvent } from '../delivery/sse.js'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { evaluationBodyLimit, evaluatorFor, readStreamBody } from '../http/evaluation.js'
import { checkJsonKeys } from '../http/json-keys.js'
import { clientAddress, sseResponse } from '../http/node-path.js'
import type { EvaluatorHub } from '../live/hub.js'

export interface ClientDeps {
  hub: EvaluatorHub
  delivery: Delivery
}

/**
 * `POST /client/v1/stream`: evaluated values for one context (sent in the
 * body, never the URL), then only the flags whose value or variant changed for it.
 */
export function clientRoutes(deps: ClientDeps) {
  return new Hono<AppEnv>().post('/stream', evaluationBodyLimit, async (c) => {
    const evaluator = evaluatorFor(c, deps.hub)
    const { text, bytes } = await readStreamBody(c, deps.delivery.limits.contextBytes)
    let body: unknown
    try {
      body = text.trim() === '' ? {} : JSON.parse(text)
    } catch {
      throw new VaneError('bad_request', 'the body is not JSON; send {"context": {...}}')
    }
    checkJsonKeys(text, body)
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new VaneError('validation', 'send {"context": {...}}', [{ pointer: '', message: 'must be an object' }])
    const context = (body as { context?: unknown }).context ?? {}
    if (typeof context !== 'object' || context === null || Array.isArray(context))
      throw new VaneError('validation', '"context" must be an object', [
        { pointer: '/context', message: 'must be an object' },
      ])
    const hash = (body as { hash?: unknown }).hash
    await checkSecureMode(c.get('apiKey'), context as Record<string, unknown>, hash, 'body')
    const environment = evaluator.environment
    const connection = deps.delivery.open(
      'client',
      environment,
      c.get('apiKey'),
      async (stream) => {
        const latest = deps.hub.get(environment) ?? evaluator
        const values: Record<string, ClientValue> = {}
        for (const [key, result] of Object.entries(latest.evaluateAll(context))) values[key] = clientValue(result)
        stream.send(encodeEvent('put', JSON.stringify({ flags: values }), latest.version))
        stream.remember(values)
        stream.setVersion(latest.version)
      },
      { address: clientAddress(c), context: context as Record<string, unknown>, contextBytes: bytes },
    )
    return sseResponse(c, connection)
  })
}
