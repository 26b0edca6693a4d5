/** `paths` of the OpenAPI document: one spec per admin operation, completed with the errors and parameters all share. */
import { z } from 'zod'
import * as input from '../../control/schemas.js'
import { MEMBERS_BODY_LIMIT } from '../cohorts.js'
import { mib, ref } from './components.js'
import type { JsonSchema, Method, OpenApiDocument, Operation, Parameter, Ref } from './types.js'

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
        description: `Up to ${mib(MEMBERS_BODY_LIMIT)} of keys per request (a million keys fit). Only the delta reaches SDKs. Duplicates are ignored; a request that changes nothing writes nothing. Also takes \`text/plain\`: one key a line, into the list \`?list=\` names (\`include\`, the default, or \`exclude\`), read as it arrives.`,
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

/** Every operation, by path and method. */
export function operationPaths(): OpenApiDocument['paths'] {
  const paths: OpenApiDocument['paths'] = {}
  for (const spec of operationSpecs(auditParameters(), impactParameters())) {
    const item = paths[spec.path] ?? {}
    item[spec.method] = toOperation(spec)
    paths[spec.path] = item
  }
  return paths
}
