import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { flagImpact, impactRange, type OutcomeDeps, recordReport } from '../control/outcomes.js'
import { impactQuery, outcomeReportInput } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { readJson, validate } from '../http/request.js'

/**
 * Cap on an outcome report's body: the SDK's default 1,000 series with sketches of a few KB each fit many
 * times over; 5,000 series of 64 KB sketches (the per-field limits) would not, and need not.
 */
export const OUTCOMES_BODY_LIMIT = 16 * 1024 * 1024

/** Refuses outcome reports over {@link OUTCOMES_BODY_LIMIT} (413), on the server and on a relay passing them on. */
export const outcomesBodyLimit = bodyLimit({
  maxSize: OUTCOMES_BODY_LIMIT,
  onError: () => {
    throw new VaneError('payload_too_large', `outcome reports are limited to ${OUTCOMES_BODY_LIMIT} bytes`)
  },
})

/** `POST /sdk/v1/outcomes`: per-variant outcome reports of server SDKs (server keys; the key's environment). */
export function outcomeRoutes(deps: OutcomeDeps) {
  return new Hono<AppEnv>().post('/outcomes', outcomesBodyLimit, async (c) => {
    const environment = c.get('apiKey').environment
    if (environment === null) throw new VaneError('forbidden', 'report outcomes with a server key of one environment')
    const report = await readJson(c, outcomeReportInput)
    return c.json(await recordReport(deps, environment, report), 202)
  })
}

/** `GET /environments/{env}/flags/{key}/impact`: requests, error rate and latency per variant (admin). */
export function impactRoutes(deps: OutcomeDeps) {
  return new Hono<AppEnv>().get('/environments/:env/flags/:key/impact', async (c) => {
    const query = validate(impactQuery, c.req.query(), 'the query')
    const range = impactRange(query, deps.now?.() ?? new Date())
    return c.json(await flagImpact(deps.store, c.req.param('env'), c.req.param('key'), range))
  })
}
