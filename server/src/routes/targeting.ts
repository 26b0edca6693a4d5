import { Hono } from 'hono'
import { getTargeting, putTargeting, setKilled, setKilledByTag, setRuleEnabled } from '../control/flags.js'
import { killByTagInput, killInput, targetingInput, triggerInput } from '../control/schemas.js'
import { createTrigger, listTriggers, revokeTrigger } from '../control/triggers.js'
import type { AppEnv } from '../http/env.js'
import { etag, ifMatch, readJson } from '../http/request.js'
import type { RouteDeps } from './deps.js'

/** Per-environment targeting, rule toggles, the kill switch and kill triggers. */
export function targetingRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>()
    .get('/environments/:env/flags/:key', async (c) => {
      const config = await getTargeting(deps.store, c.req.param('env'), c.req.param('key'))
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .put('/environments/:env/flags/:key', async (c) => {
      const input = await readJson(c, targetingInput)
      const { env, key } = c.req.param()
      const config = await putTargeting(deps, c.get('apiKey'), env, key, input, ifMatch(c))
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .post('/environments/:env/flags/:key/rules/:ruleId/:toggle{enable|disable}', async (c) => {
      const { env, key, ruleId, toggle } = c.req.param()
      const enabled = toggle === 'enable'
      const config = await setRuleEnabled(deps, c.get('apiKey'), env, key, ruleId, enabled, ifMatch(c))
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .post('/environments/:env/flags/:key/:action{kill|unkill}', async (c) => {
      const { reason } = await readJson(c, killInput)
      const { env, key, action } = c.req.param()
      const config = await setKilled(deps, c.get('apiKey'), env, key, action === 'kill', reason)
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .post('/environments/:env/:action{kill|unkill}', async (c) => {
      const { tag, reason } = await readJson(c, killByTagInput)
      const { env, action } = c.req.param()
      const flags = await setKilledByTag(deps, c.get('apiKey'), env, tag, action === 'kill', reason)
      return c.json({ tag, killed: action === 'kill', changed: flags })
    })
    .get('/environments/:env/flags/:key/triggers', async (c) => {
      return c.json({ items: await listTriggers(deps, c.req.param('env'), c.req.param('key')) })
    })
    .post('/environments/:env/flags/:key/triggers', async (c) => {
      const { name } = await readJson(c, triggerInput)
      const { env, key } = c.req.param()
      const created = await createTrigger(deps, c.get('apiKey'), env, key, name)
      const url = new URL(created.path, deps.publicUrl ?? c.req.url).toString()
      return c.json({ ...created.trigger, secret: created.secret, url }, 201)
    })
    .delete('/environments/:env/flags/:key/triggers/:id', async (c) => {
      const { env, key, id } = c.req.param()
      return c.json(await revokeTrigger(deps, c.get('apiKey'), env, key, id))
    })
}
