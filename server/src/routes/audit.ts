import { Hono } from 'hono'
import { auditQuery } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { validate } from '../http/request.js'
import type { RouteDeps } from './deps.js'

export function auditRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>().get('/audit', async (c) => {
    const q = validate(auditQuery, c.req.query(), 'the query')
    const items = await deps.store.listAudit({
      limit: q.limit + 1,
      ...(q.entity !== undefined && { entity: q.entity }),
      ...(q.since !== undefined && { since: new Date(q.since).toISOString() }),
      ...(q.cursor !== undefined && { before: q.cursor }),
    })
    const page = items.slice(0, q.limit)
    const next = items.length > q.limit ? page[page.length - 1]?.id : undefined
    return c.json({ items: page, ...(next !== undefined && { nextCursor: String(next) }) })
  })
}
