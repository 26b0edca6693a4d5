import { Hono } from 'hono'
import type { Delivery } from '../delivery/delivery.js'
import { shippedSnapshot } from '../delivery/shipping.js'
import type { AppEnv } from '../http/env.js'
import { evaluatorFor } from '../http/evaluation.js'
import { clientAddress, headOnly, sseResponse } from '../http/node-path.js'
import type { EvaluatorHub } from '../live/hub.js'

export interface SdkDeps {
  hub: EvaluatorHub
  delivery: Delivery
}

const snapshotCache = new WeakMap<object, string>()

/**
 * The ruleset for server SDKs that evaluate locally: a stream (`put`, then
 * `patch`/`delete` with `id` = environment version) and a snapshot to poll.
 */
export function sdkRoutes(deps: SdkDeps) {
  return new Hono<AppEnv>()
    .get('/stream', (c) => {
      const evaluator = evaluatorFor(c, deps.hub)
      const head = headOnly(c)
      if (head !== undefined) return head
      const environment = evaluator.environment
      const lastEventId = c.req.header('last-event-id') ?? c.req.query('lastEventId')
      const after = lastEventId === undefined || !/^\d{1,15}$/.test(lastEventId) ? undefined : Number(lastEventId)
      const connection = deps.delivery.open(
        'sdk',
        environment,
        c.get('apiKey'),
        async (stream) => {
          const current = deps.hub.get(environment) ?? evaluator
          const missed = after === undefined ? undefined : await deps.delivery.missedSince(environment, after)
          if (missed === undefined) {
            // re-read after the await: the put must be at least as new as anything held back
            const latest = deps.hub.get(environment) ?? current
            stream.send(deps.delivery.putEvent(latest))
            stream.setVersion(latest.version)
            return
          }
          const last = missed.at(-1)
          // up to date: what it already has must not come again if the feed delivers it late
          if (last === undefined) {
            stream.setVersion(after ?? 0)
            return
          }
          // one chunk: a backlog larger than the queue bound still reaches a consumer that has nothing queued,
          // so a client dropped as slow can always resume (sent one by one, it would be dropped again at once)
          const events = deps.delivery.sdkEvents(missed)
          if (events === undefined) {
            // read from the change log: which cohorts the client holds at `after` is not known here, a put is exact
            const latest = deps.hub.get(environment) ?? current
            stream.send(deps.delivery.putEvent(latest))
            stream.setVersion(latest.version)
            return
          }
          stream.send(events)
          stream.setVersion(last.version)
        },
        { address: clientAddress(c) },
      )
      return sseResponse(c, connection)
    })
    .get('/snapshot', (c) => {
      const evaluator = evaluatorFor(c, deps.hub)
      const etag = `"${evaluator.environment}-${evaluator.version}"`
      if (c.req.header('if-none-match') === etag) return c.body(null, 304, { ETag: etag })
      const body = snapshotCache.get(evaluator) ?? JSON.stringify(shippedSnapshot(evaluator))
      snapshotCache.set(evaluator, body)
      return c.body(body, 200, { ETag: etag, 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' })
    })
}
