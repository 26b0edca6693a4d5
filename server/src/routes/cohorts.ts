import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { changeMembers, deleteCohort, putCohort, requireCohort } from '../control/cohorts.js'
import { cohortInput } from '../control/schemas.js'
import type { AppEnv } from '../http/env.js'
import { VaneError } from '../http/errors.js'
import { etag, ifMatch, readJson, validKey } from '../http/request.js'
import type { RouteDeps } from './deps.js'
import { readMemberKeys } from './member-keys.js'

/** Member uploads may carry a million keys in one request. */
export const MEMBERS_BODY_LIMIT = 64 * 1024 * 1024

const membersLimit = bodyLimit({
  maxSize: MEMBERS_BODY_LIMIT,
  onError: () => {
    throw new VaneError('payload_too_large', `send at most ${MEMBERS_BODY_LIMIT} bytes of keys per request`)
  },
})

export function cohortRoutes(deps: RouteDeps) {
  return new Hono<AppEnv>()
    .get('/cohorts', async (c) => c.json({ items: await deps.store.listCohorts() }))
    .get('/cohorts/:key', async (c) => {
      const cohort = await requireCohort(deps.store, c.req.param('key'))
      const members = await deps.store.countCohortMembers(cohort.key)
      return c.json({ ...cohort, members }, 200, { ETag: etag(cohort.version) })
    })
    .put('/cohorts/:key', async (c) => {
      const input = await readJson(c, cohortInput)
      const { cohort, created } = await putCohort(
        deps,
        c.get('apiKey'),
        validKey(c.req.param('key')),
        input,
        ifMatch(c),
      )
      return c.json(cohort, created ? 201 : 200, { ETag: etag(cohort.version) })
    })
    .delete('/cohorts/:key', async (c) => {
      await deleteCohort(deps, c.get('apiKey'), c.req.param('key'), ifMatch(c))
      return c.body(null, 204)
    })
    .on(['POST', 'DELETE'], '/cohorts/:key/members', membersLimit, async (c) => {
      const input = await readMemberKeys(c)
      const mode = c.req.method === 'POST' ? 'add' : 'remove'
      const { cohort, changed } = await changeMembers(deps, c.get('apiKey'), c.req.param('key'), input, mode)
      return c.json(
        { key: cohort.key, version: cohort.version, [mode === 'add' ? 'added' : 'removed']: changed },
        200,
        {
          ETag: etag(cohort.version),
        },
      )
    })
}
