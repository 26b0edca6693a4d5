import { Hono } from 'hono'
import { createEnvironment } from '../control/environments.js'
import { environmentInput } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { readJson } from '../http/request.js'
import type { RouteDeps } from './deps.js'

export function environmentRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>()
    .get('/environments', async (c) => c.json({ items: await deps.store.listEnvironments() }))
    .post('/environments', async (c) => {
      const input = await readJson(c, environmentInput)
      const env = await createEnvironment(deps, c.get('apiKey'), input.key, input.name)
      return c.json(env, 201, { Location: `/admin/v1/environments/${env.key}` })
    })
}
