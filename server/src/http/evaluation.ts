/** What every evaluation and stream route (OFREP, SDK, client) reads from its request: the body, and the evaluator. */
import type { Evaluator } from '@vane/engine'
import type { Context, MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { EvaluatorHub } from '../live/hub.js'
import type { AppEnv } from './env.js'
import { VaneError } from './errors.js'
import { isNodeRequest, readNodeBody } from './node-path.js'
import { readText } from './request.js'

const EVALUATION_BODY_LIMIT = 1024 * 1024
const tooLarge = () =>
  new VaneError('payload_too_large', `evaluation request bodies are limited to ${EVALUATION_BODY_LIMIT} bytes`)

const honoBodyLimit = bodyLimit({
  maxSize: EVALUATION_BODY_LIMIT,
  onError: () => {
    throw tooLarge()
  },
})

/**
 * The other half of {@link readEvaluationBody}, which routes must read their body with: evaluation requests carry
 * one context, and bodies over 1 MiB (as on the admin API) are refused. Elsewhere this middleware refuses them
 * before they are read; on Node it lets the request through and `readEvaluationBody` enforces the limit while
 * reading straight from the IncomingMessage (hono's middleware would build a full fetch Request for every one).
 */
export const evaluationBodyLimit: MiddlewareHandler<AppEnv> = (c, next) =>
  isNodeRequest(c) ? next() : honoBodyLimit(c, next)

/** The body of an evaluation request as text, within the limit. */
export async function readEvaluationBody(c: Context<AppEnv>): Promise<string> {
  const text = isNodeRequest(c) ? await readNodeBody(c, EVALUATION_BODY_LIMIT) : await readText(c)
  if (text === undefined) throw tooLarge()
  return text
}

const utf8 = new TextEncoder()

/**
 * The body of a client-stream request as text, and its size in bytes, within `maxBytes`: far below the one-shot
 * limit, since a stream keeps its context for as long as it stays open.
 */
export async function readStreamBody(c: Context<AppEnv>, maxBytes: number): Promise<{ text: string; bytes: number }> {
  const text = isNodeRequest(c) ? await readNodeBody(c, maxBytes) : await readText(c)
  const bytes = text === undefined ? Number.POSITIVE_INFINITY : utf8.encode(text).byteLength
  if (text === undefined || bytes > maxBytes)
    throw new VaneError(
      'payload_too_large',
      `stream contexts are limited to ${maxBytes} bytes (one-shot evaluations take up to ${EVALUATION_BODY_LIMIT}): send only the attributes your flags target`,
    )
  return { text, bytes }
}

/** The environment's evaluator for the request's key. */
export function evaluatorFor(c: Context<AppEnv>, hub: EvaluatorHub): Evaluator {
  const environment = c.get('apiKey').environment
  if (environment === null) throw new VaneError('forbidden', 'evaluate with a server or client key of one environment')
  const evaluator = hub.get(environment)
  if (evaluator === undefined) throw new VaneError('unavailable', `environment "${environment}" is not loaded`)
  return evaluator
}
