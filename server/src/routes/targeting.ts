import { Hono } from 'hono'
import { getTargeting, putTargeting, setRuleEnabled } from '../control/flags.js'
import { killFlag, killTag, unkillFlag, unkillTag } from '../control/kills.js'
import { killByTagInput, killInput, tagParam, targetingInput, triggerInput, unkillInput } from '../control/schemas.js'
import { createTrigger, listTriggers, revokeTrigger } from '../control/triggers.js'
import type { AppEnv } from '../http/env.js'
import { etag, ifMatch, readJson, validate } from '../http/request.js'
import type { TriggerTarget } from '../storage/repository.js'
import type { RouteDeps } from './deps.js'

/** Per-environment targeting, rule toggles, the kill switch and kill triggers (of one flag, or of a tag). */
export function targetingRoutes(deps: RouteDeps) {
  const flagTarget = (key: string): TriggerTarget => ({ flagKey: key })
  const tagTarget = (tag: string): TriggerTarget => ({ tag: validate(tagParam, tag, 'the tag in the path') })
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
    .post('/environments/:env/flags/:key/kill', async (c) => {
      const { reason } = await readJson(c, killInput)
      const { env, key } = c.req.param()
      const config = await killFlag(deps, c.get('apiKey'), env, key, reason)
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .post('/environments/:env/flags/:key/unkill', async (c) => {
      const { reason, all } = await readJson(c, unkillInput)
      const { env, key } = c.req.param()
      const config = await unkillFlag(deps, c.get('apiKey'), env, key, reason, { all })
      return c.json(config, 200, { ETag: etag(config.version) })
    })
    .post('/environments/:env/kill', async (c) => {
      const { tag, reason } = await readJson(c, killByTagInput)
      const changed = await killTag(deps, c.get('apiKey'), c.req.param('env'), tag, reason)
      return c.json({ tag, killed: true, changed })
    })
    .post('/environments/:env/unkill', async (c) => {
      const { tag, reason } = await readJson(c, killByTagInput)
      const lifted = await unkillTag(deps, c.get('apiKey'), c.req.param('env'), tag, reason)
      return c.json({ tag, killed: false, ...lifted })
    })
    .get('/environments/:env/flags/:key/triggers', async (c) => {
      return c.json({ items: await listTriggers(deps, c.req.param('env'), flagTarget(c.req.param('key'))) })
    })
    .post('/environments/:env/flags/:key/triggers', async (c) => {
      const { name } = await readJson(c, triggerInput)
      const { env, key } = c.req.param()
      const created = await createTrigger(deps, c.get('apiKey'), env, flagTarget(key), name)
      const url = triggerUrl(created.path, deps.publicUrl)
      return c.json({ ...created.trigger, secret: created.secret, url }, 201)
    })
    .delete('/environments/:env/flags/:key/triggers/:id', async (c) => {
      const { env, key, id } = c.req.param()
      return c.json(await revokeTrigger(deps, c.get('apiKey'), env, flagTarget(key), id))
    })
    .get('/environments/:env/tags/:tag/triggers', async (c) => {
      return c.json({ items: await listTriggers(deps, c.req.param('env'), tagTarget(c.req.param('tag'))) })
    })
    .post('/environments/:env/tags/:tag/triggers', async (c) => {
      const { name } = await readJson(c, triggerInput)
      const { env, tag } = c.req.param()
      const created = await createTrigger(deps, c.get('apiKey'), env, tagTarget(tag), name)
      const url = triggerUrl(created.path, deps.publicUrl)
      return c.json({ ...created.trigger, secret: created.secret, url }, 201)
    })
    .delete('/environments/:env/tags/:tag/triggers/:id', async (c) => {
      const { env, tag, id } = c.req.param()
      return c.json(await revokeTrigger(deps, c.get('apiKey'), env, tagTarget(tag), id))
    })
}

/** Absolute under the configured public URL, else the path alone (never from the request's `Host`). */
const triggerUrl = (path: string, publicUrl: string | undefined) =>
  publicUrl === undefined ? path : new URL(path, publicUrl).toString()
