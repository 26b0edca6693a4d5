import { Hono } from 'hono'
import { triggerFireInput } from '../control/schemas.js'
import { fireTrigger } from '../control/triggers.js'
import type { AppEnv } from '../http/env.js'
import { checkJsonKeys } from '../http/json-keys.js'
import { readText, validate } from '../http/request.js'
import type { RouteDeps } from './deps.js'

/** Kill triggers: the secret in the URL is the credential, so alerting tools need no API key. */
export function hookRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>().post('/triggers/:secret', async (c) => {
    const text = await readText(c)
    let body: unknown = {}
    try {
      body = text.trim() === '' ? {} : JSON.parse(text)
    } catch {
      body = {}
    }
    checkJsonKeys(text, body)
    const input = validate(triggerFireInput, typeof body === 'object' && body !== null ? body : {})
    const action = input.action ?? (input.status === 'resolved' ? 'unkill' : 'kill')
    const { trigger, ...fired } = await fireTrigger(deps, c.req.param('secret'), action, input.reason)
    return c.json({ trigger: trigger.name, environment: trigger.environment, ...fired })
  })
}
