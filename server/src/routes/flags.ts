import { Hono } from 'hono'
import { archiveFlag, putFlag, requireFlag } from '../control/flags.js'
import { flagDefinitionInput } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { etag, ifMatch, readJson, validKey } from '../http/request.js'
import type { RouteDeps } from './deps.js'

export function flagRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>()
    .get('/flags', async (c) => {
      const includeArchived = c.req.query('archived') === 'true'
      return c.json({ items: await deps.store.listFlags({ includeArchived }) })
    })
    .get('/flags/:key', async (c) => {
      const flag = await requireFlag(deps.store, c.req.param('key'))
      return c.json(flag, 200, { ETag: etag(flag.version) })
    })
    .put('/flags/:key', async (c) => {
      const key = c.req.param('key')
      const input = await readJson(c, flagDefinitionInput)
      const { flag, created } = await putFlag(deps, c.get('apiKey'), validKey(key), input, ifMatch(c))
      return c.json(flag, created ? 201 : 200, { ETag: etag(flag.version) })
    })
    .delete('/flags/:key', async (c) => {
      const flag = await archiveFlag(deps, c.get('apiKey'), c.req.param('key'), ifMatch(c))
      return c.json(flag, 200, { ETag: etag(flag.version) })
    })
}
