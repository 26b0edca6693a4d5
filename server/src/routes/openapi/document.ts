/**
 * The OpenAPI 3.1 document of Vane's admin API, generated from the zod schemas the routes validate with (so a
 * field added to a schema is documented at once): `components.ts` and `operations.ts` hold its parts,
 * `docs-page.ts` renders it, `routes.ts` serves both without a key (they describe the API, they expose no data).
 */
import { componentSchemas, errorResponses, HEADERS, mib } from './components.js'
import { operationPaths } from './operations.js'
import type { OpenApiDocument, OpenApiOptions } from './types.js'

/** Builds the whole document; {@link openApiRoutes} calls it once, on the first request. */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiDocument {
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
    paths: operationPaths(),
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
