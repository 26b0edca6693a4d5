import { Hono } from 'hono'
import { createKey, publicKey, revokeKey } from '../control/keys.js'
import { keyInput } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { readJson } from '../http/request.js'
import type { RouteDeps } from './deps.js'

export function keyRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>()
    .get('/keys', async (c) => c.json({ items: (await deps.store.listApiKeys()).map(publicKey) }))
    .post('/keys', async (c) => {
      const input = await readJson(c, keyInput)
      const { key, secret, secureModeSecret } = await createKey(deps, c.get('apiKey'), input)
      // the only time the secrets are shown
      return c.json({ ...key, secret, ...(secureModeSecret !== undefined && { secureModeSecret }) }, 201)
    })
    .delete('/keys/:id', async (c) => c.json(await revokeKey(deps, c.get('apiKey'), c.req.param('id'), deps.auth)))
}
