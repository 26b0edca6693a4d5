/**
 * `components` of the OpenAPI document: JSON Schema generated from the zod schemas the routes validate with, the
 * shared headers, and the problem+json error responses every operation refers to.
 */
import { FLAG_TYPES } from '@vane/engine'
import {
  clauseSchema,
  cohortRolloutSchema,
  flagObjectSchema,
  keySchema,
  prerequisiteSchema,
  rolloutSchema,
  ruleSchema,
  serveSchema,
  variantSchema,
} from '@vane/engine/schema'
import { z } from 'zod'
import * as input from '../../control/schemas.js'
import { MEMBERS_BODY_LIMIT } from '../cohorts.js'
import type { Header, JsonSchema, Ref, ResponseObject } from './types.js'

const PROBLEM_JSON = 'application/problem+json'
export const ref = (id: string): JsonSchema => ({ $ref: `#/components/schemas/${id}` })
export const mib = (bytes: number) => `${bytes / (1024 * 1024)} MiB (${bytes} bytes)`

/** The zod schemas of every request and response, with the ids they get under `components.schemas`. */
function schemaRegistry() {
  const registry = z.registry<{ id?: string; description?: string }>()
  const add = <T extends z.ZodType>(id: string, schema: T, description?: string): T => {
    registry.add(schema, { id, ...(description !== undefined && { description }) })
    return schema
  }
  /** A field's description on a copy, so that the shared schema keeps none. */
  const described = <T extends z.ZodType>(schema: T, description: string): T => {
    const copy = schema.clone() as T
    registry.add(copy, { description })
    return copy
  }
  const timestamp = () => described(z.iso.datetime(), 'RFC 3339 timestamp, UTC')
  const version = (what: string) => described(z.int().min(0), `${what}; the ETag is this number, quoted`)

  // shared pieces of the engine's model, referenced rather than repeated
  const jsonValue = add('JsonValue', flagObjectSchema.shape.variants.valueType, 'Any JSON value.')
  add('Clause', clauseSchema, 'A condition on one context attribute; see docs/evaluation.md for the operators.')
  add('Rollout', rolloutSchema, 'Weights in thousandths of a percent, summing to exactly 100000.')
  add('Serve', serveSchema, 'Exactly one of `variant` (a fixed variant) or `rollout` (a weighted split).')
  add('Rule', ruleSchema, '`enabled: false` skips the rule: how a cohort is switched off for one flag.')
  add('Prerequisite', prerequisiteSchema)
  add('CohortRollout', cohortRolloutSchema, 'A sticky share (`weight` in thousandths of a percent) of the matches.')

  // request bodies: the very schemas the routes validate with
  add('EnvironmentInput', input.environmentInput)
  add('FlagDefinitionInput', input.flagDefinitionInput, "The definition every environment shares. `type` can't change.")
  add(
    'TargetingInput',
    input.targetingInput,
    'Replaces the targeting of one flag in one environment. The kill switch is not part of it.',
  )
  add('CohortInput', input.cohortInput, 'Lists given here replace the stored lists; lists left out stay as they are.')
  add('MembersInput', input.membersInput, 'Give `include`, `exclude` or both.')
  add('KillInput', input.killInput)
  add(
    'UnkillInput',
    input.unkillInput,
    'Lifts the direct kill; kills by tag or trigger stay. `all: true` lifts every kill of the flag.',
  )
  add('KillByTagInput', input.killByTagInput)
  add(
    'KeyInput',
    input.keyInput,
    '`server` and `client` keys need `environment`; `admin` keys must not have one; only `client` keys take `allowedOrigins` and `secureMode`.',
  )
  add('TriggerInput', input.triggerInput)
  add(
    'TriggerFireInput',
    input.triggerFireInput,
    'Optional. `action` wins; otherwise an Alertmanager `status: "resolved"` unkills and anything else kills.',
  )

  // responses
  const keyString = () => keySchema.clone()
  const environment = add(
    'Environment',
    z.object({
      key: keyString(),
      name: z.string(),
      version: version('Increases by one per change affecting this environment'),
      createdAt: timestamp(),
    }),
  )
  add('EnvironmentList', z.object({ items: z.array(environment) }))
  const flag = add(
    'Flag',
    z.object({
      key: keyString(),
      type: z.enum(FLAG_TYPES),
      variants: z.record(variantSchema, jsonValue),
      description: z.string().nullable(),
      tags: z.array(z.string()),
      owner: z.string().nullable(),
      archived: z.boolean(),
      version: version("The definition's version"),
      createdAt: timestamp(),
      updatedAt: timestamp(),
    }),
    "A flag's definition, shared by every environment.",
  )
  add('FlagList', z.object({ items: z.array(flag) }))
  const kill = add(
    'Kill',
    z.object({
      source: z.enum(['direct', 'tag', 'trigger']),
      tag: described(z.string(), '`tag`: the tag killed; `trigger` on a tag: its tag').optional(),
      trigger: described(z.uuid(), "`trigger`: the trigger's id").optional(),
      reason: z.string(),
      actor: described(z.string(), 'Name of the key, or `trigger:<name>`'),
      at: timestamp(),
    }),
    "One active kill. Only the matching unkill lifts it: the direct unkill, the unkill of its tag, its trigger's `resolved` (or `all`).",
  )
  add(
    'Targeting',
    z.object({
      environment: keyString(),
      flagKey: keyString(),
      enabled: z.boolean(),
      killed: described(z.boolean(), 'True while any kill is active'),
      killReason: described(z.string().nullable(), 'The reason of the latest active kill'),
      kills: described(z.array(kill), 'The active kills, oldest first'),
      offVariant: variantSchema,
      fallthrough: serveSchema,
      rules: z.array(ruleSchema),
      targets: z.record(variantSchema, z.array(z.string())),
      prerequisites: z.array(prerequisiteSchema),
      version: version("The targeting's version in this environment (0: never configured)"),
      updatedAt: timestamp(),
    }),
    "A flag's targeting in one environment, including the kill switch.",
  )
  const cohortFields = {
    key: keyString(),
    description: z.string().nullable(),
    clauses: z.array(clauseSchema),
    rollout: cohortRolloutSchema.nullable(),
    version: version("The cohort's version"),
    createdAt: timestamp(),
    updatedAt: timestamp(),
  }
  const cohort = add('Cohort', z.object(cohortFields), 'A cohort without its member lists.')
  add('CohortList', z.object({ items: z.array(cohort) }))
  const counts = add('MemberCounts', z.object({ include: z.int().min(0), exclude: z.int().min(0) }))
  add('CohortDetail', z.object({ ...cohortFields, members: counts }), 'A cohort with the sizes of its member lists.')
  add(
    'MembersChanged',
    z.object({
      key: keyString(),
      version: version("The cohort's new version"),
      added: counts.optional(),
      removed: counts.optional(),
    }),
    '`added` after POST, `removed` after DELETE: how many keys were new (or present).',
  )
  const apiKeyFields = {
    id: z.uuid(),
    name: z.string(),
    kind: z.enum(['admin', 'server', 'client']),
    environment: z.string().nullable(),
    prefix: described(z.string(), 'The first characters of the secret, to recognise it'),
    allowedOrigins: z.array(z.string()),
    createdAt: timestamp(),
    revokedAt: timestamp().nullable(),
    secureMode: described(
      z.boolean(),
      'Client keys in secure mode evaluate only contexts sent with the HMAC of their targetingKey (docs/protocol.md)',
    ),
  }
  const apiKey = add(
    'ApiKey',
    z.object(apiKeyFields),
    'A key as listings show it: never its secret, hash or secure-mode secret.',
  )
  add('ApiKeyList', z.object({ items: z.array(apiKey) }))
  add(
    'ApiKeyCreated',
    z.object({
      ...apiKeyFields,
      secret: described(z.string(), 'Shown once, here; only its SHA-256 is stored'),
      secureModeSecret: described(
        z.string(),
        'Only with `secureMode: true`, shown once, here: the key of the HMAC-SHA256 your backend computes over each targetingKey (`secureModeHash` in @vane/sdk-node). Keep it on the server.',
      ).optional(),
    }),
  )
  const triggerFields = {
    id: z.uuid(),
    environment: keyString(),
    flagKey: described(keyString().nullable(), 'The flag it kills; null for a trigger on a tag'),
    tag: described(z.string().nullable(), 'The tag whose flags it kills; null for a trigger on a flag'),
    name: z.string(),
    prefix: z.string(),
    createdAt: timestamp(),
    revokedAt: timestamp().nullable(),
  }
  const trigger = add('Trigger', z.object(triggerFields))
  add('TriggerList', z.object({ items: z.array(trigger) }))
  add(
    'TriggerCreated',
    z.object({
      ...triggerFields,
      secret: described(z.string(), 'Shown once, here'),
      url: described(z.url(), 'Where alerting tools POST; built from the URL of this request'),
    }),
  )
  add(
    'TriggerFired',
    z.object({
      trigger: z.string(),
      environment: keyString(),
      flag: described(keyString(), 'A trigger on a flag: the flag').optional(),
      tag: described(z.string(), 'A trigger on a tag: the tag').optional(),
      killed: described(z.boolean(), 'On a flag: whether it is killed now (other kills may keep it so)'),
      changed: described(z.array(z.string()), 'On a tag: the flags that gained or lost its kill').optional(),
      stillKilled: described(z.array(z.string()), 'On a tag, after `resolved`: those other kills keep off').optional(),
    }),
  )
  add(
    'KillByTagResult',
    z.object({
      tag: z.string(),
      killed: z.boolean(),
      changed: described(z.array(z.string()), 'Flags that gained (kill) or lost (unkill) the kill of this tag'),
      stillKilled: described(
        z.array(z.string()),
        'After an unkill: the changed flags that other kills (direct, another tag, a trigger) keep off',
      ).optional(),
    }),
  )
  const auditEntry = add(
    'AuditEntry',
    z.object({
      id: z.int().min(1),
      at: timestamp(),
      actor: described(z.string(), 'Name of the key, or `trigger:<name>`'),
      action: described(
        z.string(),
        'e.g. `flag.create`, `targeting.update`, `rule.disable`, `flag.kill`, `key.revoke`',
      ),
      entityType: described(
        z.string(),
        '`environment`, `flag`, `cohort`, `key` or `tag` (triggers are audited on their flag or tag)',
      ),
      entityKey: z.string(),
      environment: z.string().nullable(),
      before: jsonValue,
      after: jsonValue,
      reason: z.string().nullable(),
    }),
  )
  add(
    'AuditPage',
    z.object({
      items: z.array(auditEntry),
      nextCursor: described(
        z.string(),
        'Pass as `cursor` for the next (older) page; absent on the last page',
      ).optional(),
    }),
    'Newest first.',
  )
  const issue = add(
    'ProblemIssue',
    z.object({
      pointer: described(z.string(), 'RFC 6901 JSON Pointer to the failing field ("" is the whole body)'),
      message: z.string(),
    }),
  )
  add(
    'Problem',
    z.object({
      type: described(z.string(), '`urn:vane:problem:<code>`'),
      title: z.string(),
      status: z.int().min(400).max(599),
      detail: z.string(),
      instance: described(z.string(), 'The request path'),
      issues: z.array(issue).optional(),
      requestId: z.string().optional(),
    }),
    'RFC 9457 problem details; `issues` lists every failing field.',
  )
  const variantImpact = add(
    'VariantImpact',
    z.object({
      variant: variantSchema,
      requests: described(z.int().min(0), 'Requests (root spans) that ran under the variant'),
      errors: described(z.int().min(0), 'Of those, the ones whose span status was ERROR'),
      errorRate: described(z.number().min(0).max(1).nullable(), '`errors / requests`; null without requests'),
      latencyMs: described(
        z.object({ p50: z.number(), p95: z.number(), p99: z.number() }).nullable(),
        'p50, p95 and p99 in milliseconds, each within 1 % of the true value (DDSketch); null without requests',
      ),
    }),
  )
  add(
    'FlagImpact',
    z.object({
      environment: keyString(),
      flag: keyString(),
      from: described(z.iso.datetime(), 'Start of the first minute included: the requested start, rounded down'),
      to: described(z.iso.datetime(), 'End of the range (exclusive)'),
      variants: described(
        z.array(variantImpact),
        'Every variant of the flag in definition order, then variants seen in reports that the flag no longer has',
      ),
    }),
    'Outcomes reported by server SDKs, merged over the minute windows that overlap the range.',
  )
  add('Health', z.object({ status: z.literal('ok'), version: z.string() }))
  add(
    'Readiness',
    z.object({
      ready: described(z.boolean(), 'Start-up finished: migrations ran and evaluators are loaded'),
      database: z.enum(['up', 'down']),
      environments: described(z.int().min(0), 'Environments with a loaded evaluator'),
    }),
  )
  return registry
}

/** JSON Schema for every registered zod schema, with references between them as `#/components/schemas/…`. */
export function componentSchemas(): Record<string, JsonSchema> {
  const registry = schemaRegistry()
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
    metadata: registry,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> }
  // anything zod could not name (a cycle outside the registry) becomes a component of its own
  const shared = (schemas.__shared?.$defs ?? {}) as Record<string, JsonSchema>
  delete schemas.__shared
  for (const [name, schema] of Object.entries(shared)) schemas[`Shared_${name}`] = schema
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite)
    if (typeof value !== 'object' || value === null) return value
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      // components carry no $id/$schema: their $refs resolve against this document
      if (k === '$id' || k === '$schema') continue
      out[k] =
        k === '$ref' && typeof v === 'string'
          ? v.replace(/^#\/components\/schemas\/__shared#\/\$defs\//, '#/components/schemas/Shared_')
          : rewrite(v)
    }
    return out
  }
  const result = rewrite(schemas) as Record<string, JsonSchema>
  // refinements JSON Schema can express
  const serve = result.Serve
  if (serve !== undefined) serve.oneOf = [{ required: ['variant'] }, { required: ['rollout'] }]
  const members = result.MembersInput
  if (members !== undefined) members.anyOf = [{ required: ['include'] }, { required: ['exclude'] }]
  return result
}

export const HEADERS: Record<string, Header> = {
  ETag: {
    description: 'The resource\'s version, quoted (`"3"`). Send it back as `If-Match`.',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
  'WWW-Authenticate': { description: '`Bearer realm="vane"`', schema: { type: 'string' } },
  Location: { description: 'Path of the created resource.', schema: { type: 'string' } },
  'X-Request-Id': { description: 'Request id; also in logs and in problem bodies.', schema: { type: 'string' } },
}

function problemResponse(description: string, example: object, headers?: Record<string, Ref>): ResponseObject {
  return {
    description,
    ...(headers !== undefined && { headers }),
    content: { [PROBLEM_JSON]: { schema: ref('Problem'), example } },
  }
}

export function errorResponses(bodyLimit: number): Record<string, ResponseObject> {
  const p = (code: string, status: number, title: string, detail: string, instance: string, issues?: object[]) => ({
    type: `urn:vane:problem:${code}`,
    title,
    status,
    detail,
    instance,
    ...(issues !== undefined && { issues }),
    requestId: '0b9f6a9e-2c4e-4a59-9d0b-6f1f0f4f9a11',
  })
  const header = (name: string): Ref => ({ $ref: `#/components/headers/${name}` })
  return {
    BadRequest: problemResponse(
      'The body is not JSON, or `If-Match` is not an ETag this API sent.',
      p('bad_request', 400, 'Bad request', 'the body is not valid JSON: …', '/admin/v1/flags/new-checkout'),
    ),
    Unauthorized: problemResponse(
      'No key, or an unknown or revoked one.',
      p(
        'unauthorized',
        401,
        'Missing or unknown API key',
        'send an API key as "Authorization: Bearer <key>"',
        '/admin/v1/flags',
      ),
      { 'WWW-Authenticate': header('WWW-Authenticate') },
    ),
    Forbidden: problemResponse(
      'A key of the wrong kind (the admin API takes admin keys only).',
      p(
        'forbidden',
        403,
        'This key may not do that',
        'a server key cannot use this endpoint (needs: admin)',
        '/admin/v1/flags',
      ),
    ),
    NotFound: problemResponse(
      'The environment, flag, cohort, rule, key or trigger does not exist (archived flags count as missing).',
      p('not_found', 404, 'Not found', 'flag "new-checkout" does not exist', '/admin/v1/flags/new-checkout'),
    ),
    Conflict: problemResponse(
      'The request contradicts the stored state (an existing environment, a flag type change, a cohort still in use).',
      p(
        'conflict',
        409,
        'Conflict',
        'flag "new-checkout" is a boolean flag; a flag\'s type cannot change',
        '/admin/v1/flags/new-checkout',
        [{ pointer: '/type', message: 'must stay "boolean"' }],
      ),
    ),
    PreconditionFailed: problemResponse(
      '`If-Match` names a version that is no longer current; nothing was changed. Read again, then retry.',
      p(
        'precondition_failed',
        412,
        'Precondition failed: the resource changed since you read it',
        'flag "new-checkout" is at version 2, not 1: read it again, then retry',
        '/admin/v1/flags/new-checkout',
      ),
    ),
    PayloadTooLarge: problemResponse(
      `The body exceeds ${mib(bodyLimit)} (cohort member uploads: ${mib(MEMBERS_BODY_LIMIT)}).`,
      p(
        'payload_too_large',
        413,
        'Request body too large',
        `request bodies are limited to ${bodyLimit} bytes`,
        '/admin/v1/flags/new-checkout',
      ),
    ),
    UnsupportedMediaType: problemResponse(
      'The body is not sent as `application/json` (or `application/*+json`).',
      p(
        'unsupported_media_type',
        415,
        'Unsupported media type',
        'send JSON with "Content-Type: application/json", not "text/plain"',
        '/admin/v1/flags/new-checkout',
      ),
    ),
    Validation: problemResponse(
      "Every failing field, each with a JSON Pointer into the body (or, for a change that would break an environment, into that environment's targeting). A key written twice in one object, or a `__proto__` key, is refused too, pointing at the key.",
      p(
        'validation',
        422,
        'Invalid request',
        'the change would leave production invalid',
        '/admin/v1/environments/production/flags/new-checkout',
        [
          {
            pointer: '/rules/0/serve/rollout/weights',
            message: 'weights must sum to 100000 (thousandths of a percent), got 95000',
          },
          { pointer: '/fallthrough/variant', message: 'unknown variant "maybe"' },
        ],
      ),
    ),
    RateLimited: problemResponse(
      'Over the per-key rate (default 100 requests/s with bursts of 200; `VANE_RATE_LIMIT`).',
      p('rate_limited', 429, 'Too many requests', 'this key may make 100 requests per second', '/admin/v1/flags'),
      { 'Retry-After': header('Retry-After') },
    ),
    Unavailable: problemResponse(
      'The database is unreachable. Writes fail; evaluation keeps serving from memory.',
      p(
        'unavailable',
        503,
        'Service unavailable',
        'the database is unreachable; evaluation keeps serving',
        '/admin/v1/flags/new-checkout',
      ),
      { 'Retry-After': header('Retry-After') },
    ),
  }
}
