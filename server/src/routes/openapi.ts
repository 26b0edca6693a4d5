/**
 * The OpenAPI 3.1 document of Vane's HTTP API, generated from the zod schemas
 * the routes validate with (so a field added to a schema is documented at
 * once), and the reference page rendered from it. Both are served without a
 * key: they describe the API, they do not expose data.
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
import { Hono } from 'hono'
import { z } from 'zod'
import * as input from '../control/schemas.js'
import type { AppEnv } from '../env.js'
import { MEMBERS_BODY_LIMIT } from './cohorts.js'
import { renderDocsHtml } from './docs-page.js'

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1). */
export type JsonSchema = { [keyword: string]: unknown }
export interface Ref {
  $ref: string
}
export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  description: string
  schema: JsonSchema
}
export interface MediaType {
  schema: JsonSchema
  example?: unknown
}
export interface Header {
  description: string
  schema: JsonSchema
}
export interface ResponseObject {
  description: string
  headers?: Record<string, Header | Ref>
  content?: Record<string, MediaType>
}
export interface Operation {
  operationId: string
  summary: string
  description?: string
  tags: string[]
  security?: Record<string, string[]>[]
  parameters?: Parameter[]
  requestBody?: { required: boolean; description?: string; content: Record<string, MediaType> }
  responses: Record<string, ResponseObject | Ref>
}
export type Method = 'get' | 'put' | 'post' | 'delete'
export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } }
  jsonSchemaDialect: string
  tags: { name: string; description: string }[]
  security: Record<string, string[]>[]
  paths: Record<string, Partial<Record<Method, Operation>>>
  components: {
    schemas: Record<string, JsonSchema>
    responses: Record<string, ResponseObject>
    headers: Record<string, Header>
    securitySchemes: Record<string, Record<string, string>>
  }
}

export interface OpenApiOptions {
  /** The cap on admin request bodies (`BODY_LIMIT` in app.ts). */
  bodyLimit: number
  /** Reported as `info.version`. */
  version?: string
}

const PROBLEM_JSON = 'application/problem+json'
const ref = (id: string): JsonSchema => ({ $ref: `#/components/schemas/${id}` })
const mib = (bytes: number) => `${bytes / (1024 * 1024)} MiB (${bytes} bytes)`

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
function componentSchemas(): Record<string, JsonSchema> {
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

const HEADERS: Record<string, Header> = {
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

function errorResponses(bodyLimit: number): Record<string, ResponseObject> {
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
      "Every failing field, each with a JSON Pointer into the body (or, for a change that would break an environment, into that environment's targeting).",
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

const ERROR_NAMES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  412: 'PreconditionFailed',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Validation',
  429: 'RateLimited',
  503: 'Unavailable',
}

const PATH_PARAMS: Record<string, { description: string; schema: JsonSchema }> = {
  env: { description: 'Environment key, e.g. `production`.', schema: { type: 'string' } },
  key: { description: 'Flag or cohort key: `^[a-z0-9][a-z0-9._-]{0,127}$`.', schema: { type: 'string' } },
  ruleId: { description: "The rule's `id`.", schema: { type: 'string' } },
  id: { description: 'The id (a UUID) from the creating response or the listing.', schema: { type: 'string' } },
  secret: { description: 'The trigger secret (`vane_trigger_…`): the credential.', schema: { type: 'string' } },
  tag: { description: 'A tag, as flags carry it (1 to 64 characters).', schema: { type: 'string' } },
}

const IF_MATCH: Parameter = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description:
    'Optional optimistic concurrency: the `ETag` you read (`"3"`, `W/"3"` or `3`), or `*` for "exists". A stale value gets 412 and changes nothing.',
  schema: { type: 'string' },
}

/** One operation, before the common parts (auth errors, parameters) are added. */
interface OperationSpec {
  method: Method
  path: string
  id: string
  tag: string
  summary: string
  description?: string
  /** Public endpoints need no key. */
  public?: boolean
  query?: Parameter[]
  ifMatch?: boolean
  body?: { schema: string; example: unknown; description?: string; required?: boolean; anyType?: boolean }
  ok: { status: number; description: string; schema?: string; etag?: boolean; location?: boolean; content?: string }
  also?: { status: number; description: string; schema: string; etag?: boolean }
  errors: number[]
}

const REVOKE_TRIGGER =
  'Its URL stops working at once; the kills it made stay until lifted (`unkill` with `all: true`). Idempotent.'

const TARGETING_EXAMPLE = {
  enabled: true,
  offVariant: 'off',
  targets: { on: ['qa-user'] },
  rules: [
    { id: 'beta', cohorts: ['beta-testers'], serve: { variant: 'on' } },
    {
      id: 'eu-rollout',
      clauses: [{ attribute: 'country', op: 'in', values: ['DE', 'FR'] }],
      serve: { rollout: { weights: { on: 10000, off: 90000 } } },
    },
  ],
  fallthrough: { variant: 'off' },
}

function operationSpecs(auditParameters: Parameter[], impactParameters: Parameter[]): OperationSpec[] {
  const envFlag = '/admin/v1/environments/{env}/flags/{key}'
  const envTag = '/admin/v1/environments/{env}/tags/{tag}'
  const toggles = (['enable', 'disable'] as const).map(
    (toggle): OperationSpec => ({
      method: 'post',
      path: `${envFlag}/rules/{ruleId}/${toggle}`,
      id: `${toggle}Rule`,
      tag: 'Targeting',
      summary: `${toggle === 'enable' ? 'Enable' : 'Disable'} one rule (switch a cohort ${toggle === 'enable' ? 'on' : 'off'} for a flag)`,
      description: `Sets the rule's \`enabled\` to ${toggle === 'enable'}; everything else stays. Idempotent: when it already is, nothing is written.`,
      ifMatch: true,
      ok: { status: 200, description: 'The targeting after the change.', schema: 'Targeting', etag: true },
      errors: [400, 404, 412],
    }),
  )
  const kills = (['kill', 'unkill'] as const).flatMap((action): OperationSpec[] => [
    {
      method: 'post',
      path: `${envFlag}/${action}`,
      id: `${action}Flag`,
      tag: 'Kill switch',
      summary: action === 'kill' ? 'Kill one flag (serve its off variant)' : 'Unkill one flag (restore its targeting)',
      description:
        action === 'kill'
          ? 'The kill switch: adds the direct kill; the flag serves `offVariant` (reason `DISABLED`) whatever else is configured, while any kill is active. Targeting stays intact. Takes no `If-Match`: a kill never fails on a stale read. Idempotent: a second direct kill keeps the first reason.'
          : 'Lifts the direct kill. Kills by tag or trigger stay, and the answer lists them in `kills` (`killed` stays true); `all: true` lifts every kill. Once none is left, the targeting in force before the kill serves again, unchanged. Idempotent.',
      body: {
        schema: action === 'kill' ? 'KillInput' : 'UnkillInput',
        example: { reason: action === 'kill' ? 'INC-1234: checkout errors spiking' : 'INC-1234: fixed in 4.2.1' },
      },
      ok: { status: 200, description: 'The targeting after the change.', schema: 'Targeting', etag: true },
      errors: [404],
    },
    {
      method: 'post',
      path: `/admin/v1/environments/{env}/${action}`,
      id: `${action}ByTag`,
      tag: 'Kill switch',
      summary: `${action === 'kill' ? 'Kill' : 'Unkill'} every flag carrying a tag`,
      description:
        action === 'kill'
          ? 'Adds a kill of this tag to every live flag carrying it, in one transaction. Each is audited with the reason.'
          : 'Lifts the kills of this tag (from every flag that has one, even if the tag was removed since), in one transaction. Flags killed for another reason stay killed: see `stillKilled`.',
      body: {
        schema: 'KillByTagInput',
        example: {
          tag: 'payments',
          reason: action === 'kill' ? 'INC-1235: payment provider down' : 'INC-1235: provider recovered',
        },
      },
      ok: { status: 200, description: 'Which flags changed.', schema: 'KillByTagResult' },
      errors: [404],
    },
  ])
  return [
    {
      method: 'get',
      path: '/admin/v1/environments',
      id: 'listEnvironments',
      tag: 'Environments',
      summary: 'List environments',
      ok: { status: 200, description: 'Every environment.', schema: 'EnvironmentList' },
      errors: [],
    },
    {
      method: 'post',
      path: '/admin/v1/environments',
      id: 'createEnvironment',
      tag: 'Environments',
      summary: 'Create an environment',
      description: 'Every existing flag starts there disabled, serving its off variant.',
      body: { schema: 'EnvironmentInput', example: { key: 'production', name: 'Production' } },
      ok: { status: 201, description: 'Created.', schema: 'Environment', location: true },
      errors: [409],
    },
    {
      method: 'get',
      path: '/admin/v1/flags',
      id: 'listFlags',
      tag: 'Flags',
      summary: 'List flag definitions',
      query: [
        {
          name: 'archived',
          in: 'query',
          required: false,
          description: '`true` to include archived flags.',
          schema: { type: 'string', enum: ['true', 'false'] },
        },
      ],
      ok: { status: 200, description: 'The flags, by key.', schema: 'FlagList' },
      errors: [],
    },
    {
      method: 'get',
      path: '/admin/v1/flags/{key}',
      id: 'getFlag',
      tag: 'Flags',
      summary: "Read a flag's definition",
      ok: { status: 200, description: 'The definition.', schema: 'Flag', etag: true },
      errors: [404],
    },
    {
      method: 'put',
      path: '/admin/v1/flags/{key}',
      id: 'putFlag',
      tag: 'Flags',
      summary: "Create or replace a flag's definition",
      description:
        "Shared by every environment; new environments start disabled. A flag's type never changes (409). A definition that would break an environment's targeting (a variant still served) is refused with pointers `/environments/{env}/targeting/…`. PUT on an archived key revives it.",
      ifMatch: true,
      body: {
        schema: 'FlagDefinitionInput',
        example: {
          type: 'boolean',
          variants: { on: true, off: false },
          description: 'The new checkout flow',
          tags: ['checkout', 'payments'],
          owner: 'team-payments',
        },
      },
      ok: { status: 200, description: 'Replaced.', schema: 'Flag', etag: true },
      also: { status: 201, description: 'Created.', schema: 'Flag', etag: true },
      errors: [409, 412],
    },
    {
      method: 'delete',
      path: '/admin/v1/flags/{key}',
      id: 'archiveFlag',
      tag: 'Flags',
      summary: 'Archive a flag',
      description:
        'The flag disappears from every environment (evaluates as not found); its history and audit trail stay.',
      ifMatch: true,
      ok: { status: 200, description: 'The archived definition.', schema: 'Flag', etag: true },
      errors: [400, 404, 412],
    },
    {
      method: 'get',
      path: envFlag,
      id: 'getTargeting',
      tag: 'Targeting',
      summary: "Read a flag's targeting in an environment",
      description: 'A flag never configured in the environment reads as disabled, at version 0.',
      ok: { status: 200, description: 'The targeting.', schema: 'Targeting', etag: true },
      errors: [404],
    },
    {
      method: 'put',
      path: envFlag,
      id: 'putTargeting',
      tag: 'Targeting',
      summary: "Replace a flag's targeting in an environment",
      description:
        'Validated through the engine before it is stored: variants, cohorts and prerequisites must exist and form no cycle. Does not touch the kill switch.',
      ifMatch: true,
      body: { schema: 'TargetingInput', example: TARGETING_EXAMPLE },
      ok: { status: 200, description: 'The new targeting.', schema: 'Targeting', etag: true },
      errors: [404, 412],
    },
    ...toggles,
    ...kills.filter((s) => s.id.endsWith('Flag')),
    ...kills.filter((s) => s.id.endsWith('ByTag')),
    {
      method: 'get',
      path: `${envFlag}/impact`,
      id: 'getImpact',
      tag: 'Impact',
      summary: 'Requests, error rate and latency per variant',
      description:
        'What server SDKs reported (`POST /sdk/v1/outcomes`, docs/observability.md) about requests that ran under each variant: the control and the canary side by side. Reports are kept per minute; the range takes every minute that overlaps it. Without a query: the last 15 minutes.',
      query: impactParameters,
      ok: { status: 200, description: 'Per variant, merged over the range.', schema: 'FlagImpact' },
      errors: [404, 422],
    },
    {
      method: 'get',
      path: `${envFlag}/triggers`,
      id: 'listTriggers',
      tag: 'Kill switch',
      summary: "List a flag's kill triggers",
      ok: {
        status: 200,
        description: 'The triggers, revoked ones included; never their secrets.',
        schema: 'TriggerList',
      },
      errors: [404],
    },
    {
      method: 'post',
      path: `${envFlag}/triggers`,
      id: 'createTrigger',
      tag: 'Kill switch',
      summary: 'Create a kill trigger (a secret URL for alerting tools)',
      description: 'The response holds the secret and the URL once; store them in the alerting tool.',
      body: { schema: 'TriggerInput', example: { name: 'alertmanager-checkout-errors' } },
      ok: { status: 201, description: 'Created.', schema: 'TriggerCreated' },
      errors: [404],
    },
    {
      method: 'delete',
      path: `${envFlag}/triggers/{id}`,
      id: 'revokeTrigger',
      tag: 'Kill switch',
      summary: 'Revoke a kill trigger',
      description: REVOKE_TRIGGER,
      ok: { status: 200, description: 'The revoked trigger.', schema: 'Trigger' },
      errors: [404],
    },
    {
      method: 'get',
      path: `${envTag}/triggers`,
      id: 'listTagTriggers',
      tag: 'Kill switch',
      summary: "List a tag's kill triggers",
      ok: {
        status: 200,
        description: 'The triggers, revoked ones included; never their secrets.',
        schema: 'TriggerList',
      },
      errors: [404, 422],
    },
    {
      method: 'post',
      path: `${envTag}/triggers`,
      id: 'createTagTrigger',
      tag: 'Kill switch',
      summary: 'Create a kill trigger for every flag carrying a tag',
      description:
        "Firing adds the trigger's kill to every live flag carrying the tag at that moment; `resolved` lifts that kill only. The response holds the secret and the URL once.",
      body: { schema: 'TriggerInput', example: { name: 'alertmanager-payments-errors' } },
      ok: { status: 201, description: 'Created.', schema: 'TriggerCreated' },
      errors: [404],
    },
    {
      method: 'delete',
      path: `${envTag}/triggers/{id}`,
      id: 'revokeTagTrigger',
      tag: 'Kill switch',
      summary: "Revoke a tag's kill trigger",
      description: REVOKE_TRIGGER,
      ok: { status: 200, description: 'The revoked trigger.', schema: 'Trigger' },
      errors: [404, 422],
    },
    {
      method: 'get',
      path: '/admin/v1/cohorts',
      id: 'listCohorts',
      tag: 'Cohorts',
      summary: 'List cohorts',
      ok: { status: 200, description: 'The cohorts, without member lists.', schema: 'CohortList' },
      errors: [],
    },
    {
      method: 'get',
      path: '/admin/v1/cohorts/{key}',
      id: 'getCohort',
      tag: 'Cohorts',
      summary: 'Read a cohort',
      ok: { status: 200, description: 'The cohort with its list sizes.', schema: 'CohortDetail', etag: true },
      errors: [404],
    },
    {
      method: 'put',
      path: '/admin/v1/cohorts/{key}',
      id: 'putCohort',
      tag: 'Cohorts',
      summary: 'Create or replace a cohort',
      description:
        'Cohorts are shared by every environment. For large lists use the members endpoints, which send only the delta to SDKs.',
      ifMatch: true,
      body: {
        schema: 'CohortInput',
        example: { description: 'Opted into betas', include: ['user-1', 'user-2'] },
      },
      ok: { status: 200, description: 'Replaced.', schema: 'Cohort', etag: true },
      also: { status: 201, description: 'Created.', schema: 'Cohort', etag: true },
      errors: [412],
    },
    {
      method: 'delete',
      path: '/admin/v1/cohorts/{key}',
      id: 'deleteCohort',
      tag: 'Cohorts',
      summary: 'Delete a cohort no flag uses',
      description: 'A cohort still referenced by a rule or clause is a 409 whose `issues` point at the references.',
      ifMatch: true,
      ok: { status: 204, description: 'Deleted.' },
      errors: [400, 404, 409, 412],
    },
    ...(['post', 'delete'] as const).map(
      (method): OperationSpec => ({
        method,
        path: '/admin/v1/cohorts/{key}/members',
        id: method === 'post' ? 'addCohortMembers' : 'removeCohortMembers',
        tag: 'Cohorts',
        summary: method === 'post' ? 'Add member keys in bulk' : 'Remove member keys in bulk',
        description: `Up to ${mib(MEMBERS_BODY_LIMIT)} of keys per request (a million keys fit). Only the delta reaches SDKs. Duplicates are ignored; a request that changes nothing writes nothing.`,
        body: {
          schema: 'MembersInput',
          example: method === 'post' ? { include: ['user-3', 'user-4'], exclude: ['user-9'] } : { include: ['user-4'] },
        },
        ok: { status: 200, description: 'How many keys changed.', schema: 'MembersChanged', etag: true },
        errors: [404],
      }),
    ),
    {
      method: 'get',
      path: '/admin/v1/keys',
      id: 'listKeys',
      tag: 'Keys',
      summary: 'List API keys',
      ok: { status: 200, description: 'Every key, revoked ones included; never secrets.', schema: 'ApiKeyList' },
      errors: [],
    },
    {
      method: 'post',
      path: '/admin/v1/keys',
      id: 'createKey',
      tag: 'Keys',
      summary: 'Create an API key',
      description:
        "`admin` keys use this API; `server` keys (one environment) read rules and stream them; `client` keys (one environment, publishable) get evaluated values only. The secret is in the response once. A client key created with `secureMode: true` also gets a `secureModeSecret` (once): it then evaluates only contexts whose `targetingKey` comes with its HMAC (docs/protocol.md), so a browser cannot ask for another user's values.",
      body: { schema: 'KeyInput', example: { kind: 'server', name: 'checkout-service', environment: 'production' } },
      ok: { status: 201, description: 'Created; `secret` is shown only here.', schema: 'ApiKeyCreated' },
      errors: [],
    },
    {
      method: 'delete',
      path: '/admin/v1/keys/{id}',
      id: 'revokeKey',
      tag: 'Keys',
      summary: 'Revoke an API key',
      description: 'Takes effect at once on this instance, within 5 s on others (key lookups are cached). Idempotent.',
      ok: { status: 200, description: 'The revoked key.', schema: 'ApiKey' },
      errors: [404],
    },
    {
      method: 'get',
      path: '/admin/v1/audit',
      id: 'listAudit',
      tag: 'Audit',
      summary: 'Read the audit log',
      description:
        'Who changed what, when and why, with the state before and after. Newest first; page with `nextCursor`.',
      query: auditParameters,
      ok: { status: 200, description: 'One page.', schema: 'AuditPage' },
      errors: [422],
    },
    {
      method: 'post',
      path: '/hooks/v1/triggers/{secret}',
      id: 'fireTrigger',
      tag: 'Hooks',
      public: true,
      summary: 'Fire a kill trigger',
      description:
        "No API key: the secret in the URL is the credential. The body is optional and may be of any content type; a body that is not JSON counts as empty, so it kills. Point an Alertmanager webhook receiver here: `firing` adds the trigger's own kill, `resolved` lifts that kill and no other. Audited as `trigger:<name>`.",
      body: {
        schema: 'TriggerFireInput',
        required: false,
        anyType: true,
        example: { version: '4', status: 'firing', receiver: 'vane-kill', alerts: [] },
      },
      ok: { status: 200, description: 'The state of the flag (or the flags of the tag) now.', schema: 'TriggerFired' },
      errors: [404, 413, 422, 503],
    },
    {
      method: 'get',
      path: '/healthz',
      id: 'health',
      tag: 'Operations',
      public: true,
      summary: 'Liveness',
      description: 'Answers while the process runs; touches nothing else.',
      ok: { status: 200, description: 'Alive.', schema: 'Health' },
      errors: [],
    },
    {
      method: 'get',
      path: '/readyz',
      id: 'ready',
      tag: 'Operations',
      public: true,
      summary: 'Readiness',
      description: 'Ready once migrations ran and every environment is loaded; reports the database separately.',
      ok: { status: 200, description: 'Ready.', schema: 'Readiness' },
      also: { status: 503, description: 'Still starting.', schema: 'Readiness' },
      errors: [],
    },
    {
      method: 'get',
      path: '/metrics',
      id: 'metrics',
      tag: 'Operations',
      public: true,
      summary: 'Prometheus metrics',
      description:
        'Served by `vane serve` (the Node runtime). Metric names start with `vane_`; see docs/operations.md.',
      ok: {
        status: 200,
        description: 'Prometheus text exposition format.',
        content: 'text/plain; version=0.0.4; charset=utf-8',
      },
      errors: [],
    },
    {
      method: 'get',
      path: '/admin/v1/openapi.json',
      id: 'openapi',
      tag: 'Documentation',
      public: true,
      summary: 'This OpenAPI document',
      ok: { status: 200, description: 'OpenAPI 3.1.', content: 'application/json' },
      errors: [],
    },
    {
      method: 'get',
      path: '/admin/v1/docs',
      id: 'docs',
      tag: 'Documentation',
      public: true,
      summary: 'The API reference as a web page',
      ok: { status: 200, description: 'A self-contained HTML page.', content: 'text/html; charset=utf-8' },
      errors: [],
    },
  ]
}

function toOperation(spec: OperationSpec): Operation {
  const headerRef = (name: string): Ref => ({ $ref: `#/components/headers/${name}` })
  const okHeaders: Record<string, Ref> = { 'X-Request-Id': headerRef('X-Request-Id') }
  if (spec.ok.etag === true) okHeaders.ETag = headerRef('ETag')
  if (spec.ok.location === true) okHeaders.Location = headerRef('Location')
  const responses: Operation['responses'] = {
    [String(spec.ok.status)]: {
      description: spec.ok.description,
      headers: okHeaders,
      ...(spec.ok.schema !== undefined && {
        content: { 'application/json': { schema: ref(spec.ok.schema) } },
      }),
      ...(spec.ok.content !== undefined && {
        content: {
          [spec.ok.content]: { schema: { type: spec.ok.content.startsWith('application/json') ? 'object' : 'string' } },
        },
      }),
    },
  }
  if (spec.also !== undefined)
    responses[String(spec.also.status)] = {
      description: spec.also.description,
      headers: spec.also.etag === true ? { ...okHeaders, ETag: headerRef('ETag') } : okHeaders,
      content: { 'application/json': { schema: ref(spec.also.schema) } },
    }
  const errors = new Set(spec.errors)
  if (spec.public !== true) for (const status of [401, 403, 429, 503]) errors.add(status)
  if (spec.body !== undefined && spec.public !== true) for (const status of [400, 413, 415, 422]) errors.add(status)
  if (spec.ifMatch === true) for (const status of [400, 412]) errors.add(status)
  if (spec.method === 'put' && spec.path.endsWith('{key}')) errors.add(422) // the key in the path is validated
  for (const status of [...errors].sort((a, b) => a - b))
    responses[String(status)] = { $ref: `#/components/responses/${ERROR_NAMES[status]}` }

  const parameters: Parameter[] = [...spec.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name: name!,
    in: 'path' as const,
    required: true,
    ...(PATH_PARAMS[name!] ?? { description: name!, schema: { type: 'string' } }),
  }))
  if (spec.ifMatch === true) parameters.push(IF_MATCH)
  parameters.push(...(spec.query ?? []))

  const op: Operation = {
    operationId: spec.id,
    summary: spec.summary,
    ...(spec.description !== undefined && { description: spec.description }),
    tags: [spec.tag],
    ...(spec.public === true && { security: [] }),
    ...(parameters.length > 0 && { parameters }),
    responses,
  }
  if (spec.body !== undefined)
    op.requestBody = {
      required: spec.body.required ?? true,
      ...(spec.body.description !== undefined && { description: spec.body.description }),
      content: {
        [spec.body.anyType === true ? '*/*' : 'application/json']: {
          schema: ref(spec.body.schema),
          example: spec.body.example,
        },
      },
    }
  return op
}

function impactParameters(): Parameter[] {
  const schema = z.toJSONSchema(input.impactQuery, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' })
  const descriptions: Record<string, string> = {
    window: 'A range ending now. Default `15m` when neither `window` nor `from` is given.',
    from: 'Start of a custom range (RFC 3339), instead of `window`; at most 24 hours before `to`',
    to: 'End of the custom range (RFC 3339, exclusive); default: now',
  }
  return Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    in: 'query' as const,
    required: false,
    description: descriptions[name] ?? name,
    schema: s,
  }))
}

function auditParameters(): Parameter[] {
  const schema = z.toJSONSchema(input.auditQuery, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' })
  const descriptions: Record<string, string> = {
    entity:
      '`type` or `type:key`: `flag`, `flag:new-checkout`, `cohort:beta-testers`, `key`, `environment:production`.',
    since: 'Only entries at or after this RFC 3339 time (with `Z` or an offset).',
    cursor: "The previous page's `nextCursor`: only older entries.",
    limit: 'Entries per page.',
  }
  return Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    in: 'query' as const,
    required: false,
    description: descriptions[name] ?? name,
    schema: s,
  }))
}

/** Builds the whole document; {@link openApiRoutes} calls it once, on the first request. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {}
  for (const spec of operationSpecs(auditParameters(), impactParameters())) {
    const item = paths[spec.path] ?? {}
    item[spec.method] = toOperation(spec)
    paths[spec.path] = item
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Vane admin API',
      version: options.version ?? '0.1.0',
      description: [
        'Manage environments, flags, per-environment targeting, cohorts, the kill switch, API keys and the audit log, and read the impact of each variant.',
        'Authenticate with an admin key as `Authorization: Bearer <key>` (or `X-API-Key: <key>`).',
        'Errors are RFC 9457 `application/problem+json`; `issues[].pointer` is a JSON Pointer to each failing field.',
        'Writes take an optional `If-Match` with the `ETag` you read; a stale one gets 412 and changes nothing.',
        `Request bodies are limited to ${mib(options.bodyLimit)}; each key to 100 requests/s by default (429 with Retry-After beyond).`,
      ].join('\n\n'),
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [
      { name: 'Environments', description: '`production`, `staging`, …: each has its own targeting and version.' },
      { name: 'Flags', description: 'Definitions (type, variants, tags), shared by every environment.' },
      { name: 'Targeting', description: 'Per environment: on/off, individual targets, rules, fallthrough.' },
      { name: 'Kill switch', description: 'Kill and unkill one flag or every flag with a tag; kill triggers.' },
      {
        name: 'Impact',
        description: 'Per-variant requests, errors and latency, from the outcome reports of server SDKs.',
      },
      { name: 'Cohorts', description: 'Reusable segments, shared by every environment, with bulk member lists.' },
      { name: 'Keys', description: 'Admin, server and client API keys.' },
      { name: 'Audit', description: 'Who changed what, when and why.' },
      { name: 'Hooks', description: 'Secret URLs for alerting tools; no API key.' },
      { name: 'Operations', description: 'Health, readiness and metrics; no API key.' },
      { name: 'Documentation', description: 'This document and the reference page; no API key.' },
    ],
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    components: {
      schemas: componentSchemas(),
      responses: errorResponses(options.bodyLimit),
      headers: HEADERS,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An admin key: `Authorization: Bearer vane_admin_…`.' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in `X-API-Key`.' },
      },
    },
  }
}

/**
 * `GET /openapi.json` and `GET /docs`, to mount under `/admin/v1` before the
 * admin middleware (they need no key). The document and the page are built on
 * the first request and then served from memory.
 */
export function openApiRoutes(options: OpenApiOptions) {
  let doc: { json: string; html: string } | undefined
  const built = () => {
    if (doc === undefined) {
      const document = buildOpenApiDocument(options)
      doc = { json: JSON.stringify(document), html: renderDocsHtml(document) }
    }
    return doc
  }
  return new Hono<AppEnv>()
    .get('/openapi.json', (c) =>
      c.body(built().json, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-cache' }),
    )
    .get('/docs', (c) =>
      c.body(built().html, 200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-cache',
        // nothing but this page: inline style and the one inline script, no network
        'Content-Security-Policy':
          "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      }),
    )
}
