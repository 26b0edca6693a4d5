import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { BODY_LIMIT } from '../../app.js'
import * as input from '../../control/schemas.js'
import { createHarness, type Harness } from '../../testing/harness.js'
import { renderDocsMarkdown, resolve } from './docs-page.js'
import { buildOpenApiDocument } from './document.js'
import type { JsonSchema, Method, OpenApiDocument } from './types.js'

/** Mounted by the Node runtime (`runtime.ts`, through `extend`), so absent from a bare `createApp`. */
const RUNTIME_ROUTES = new Set(['get /metrics'])
/**
 * The delivery endpoints (OFREP, SDK and client streams) are documented with
 * the delivery work, not here. Take a prefix off this list once its routes are
 * in the document.
 */
const DOCUMENTED_ELSEWHERE = ['/ofrep/', '/sdk/', '/client/']

/** The request body schema of each component, as the routes use them. */
const BODY_SCHEMAS: Record<string, z.ZodType> = {
  EnvironmentInput: input.environmentInput,
  FlagDefinitionInput: input.flagDefinitionInput,
  TargetingInput: input.targetingInput,
  CohortInput: input.cohortInput,
  MembersInput: input.membersInput,
  KillInput: input.killInput,
  UnkillInput: input.unkillInput,
  KillByTagInput: input.killByTagInput,
  KeyInput: input.keyInput,
  TriggerInput: input.triggerInput,
  TriggerFireInput: input.triggerFireInput,
}

const SAMPLE_PARAMS: Record<string, string> = {
  env: 'production',
  key: 'sample',
  ruleId: 'r1',
  id: '00000000-0000-4000-8000-000000000000',
  secret: 'vane_trigger_nope',
  tag: 'sample',
}

/** `/a/:x/:action{kill|unkill}` → `/a/{x}/kill`, `/a/{x}/unkill`. */
function openApiPaths(honoPath: string): string[] {
  let paths = ['']
  for (const segment of honoPath.split('/').slice(1)) {
    const param = /^:(\w+)(?:\{(.+)\})?$/.exec(segment)
    const alternatives =
      param === null
        ? [segment]
        : param[2] !== undefined && /^[\w.-]+(\|[\w.-]+)*$/.test(param[2])
          ? param[2].split('|')
          : [`{${param[1]}}`]
    paths = paths.flatMap((p) => alternatives.map((a) => `${p}/${a}`))
  }
  return paths
}

/** Markdown as written, whatever a formatter did to table padding and blank lines. */
function normalise(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('|')
        ? line
            .trim()
            .split(/(?<!\\)\|/)
            .map((cell) => cell.trim().replace(/^:?-+:?$/, '---'))
            .join('|')
        : line.trimEnd(),
    )
    .filter((line) => line !== '')
    .join('\n')
}

const isStrict = (schema: z.ZodType) =>
  (schema._zod.def as { catchall?: z.ZodType }).catchall?._zod.def.type === 'never'

function operations(doc: OpenApiDocument) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    (Object.keys(item) as Method[]).map((method) => ({ method, path, op: item[method]! })),
  )
}

describe('OpenAPI document', () => {
  let h: Harness
  let doc: OpenApiDocument
  let text: string
  beforeAll(async () => {
    h = await createHarness()
    const res = await h.app.request('/admin/v1/openapi.json')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    text = await res.text()
    doc = JSON.parse(text)
  })
  afterAll(() => h.close())

  it('is OpenAPI 3.1 JSON, served without a key and built once', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    expect(doc.info.title).toBeTruthy()
    expect(Object.keys(doc.paths).length).toBeGreaterThan(20)
    const again = await h.app.request('/admin/v1/openapi.json', { headers: { authorization: 'Bearer wrong' } })
    expect(again.status).toBe(200)
    expect(await again.text()).toBe(text)
  })

  it('documents every route the app registers, and only those', () => {
    const registered = new Set<string>()
    for (const route of h.app.routes) {
      if (route.method === 'ALL') continue // middleware
      for (const path of openApiPaths(route.path)) registered.add(`${route.method.toLowerCase()} ${path}`)
    }
    const pending = (entry: string) => DOCUMENTED_ELSEWHERE.some((prefix) => entry.split(' ')[1]!.startsWith(prefix))
    const documented = new Set(operations(doc).map(({ method, path }) => `${method} ${path}`))
    const missing = [...registered].filter((r) => !documented.has(r) && !pending(r))
    expect(missing, 'routes without documentation: add them to routes/openapi/operations.ts').toEqual([])
    const stale = [...documented].filter((d) => !registered.has(d) && !RUNTIME_ROUTES.has(d))
    expect(stale, 'documented routes the app does not have').toEqual([])
    expect(documented.has('post /hooks/v1/triggers/{secret}')).toBe(true)
    for (const path of ['/healthz', '/readyz', '/metrics']) expect(documented.has(`get ${path}`)).toBe(true)
  })

  it('declares every path parameter, and unique operation ids', () => {
    const ids = new Set<string>()
    for (const { path, op } of operations(doc)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)
      expect(declared, `${op.operationId}`).toEqual(names)
      expect(ids.has(op.operationId), op.operationId).toBe(false)
      ids.add(op.operationId)
    }
  })

  it('resolves every $ref inside the document', () => {
    const pointers: string[] = []
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk)
      else if (typeof value === 'object' && value !== null)
        for (const [k, v] of Object.entries(value)) {
          if (k === '$ref') pointers.push(v as string)
          else walk(v)
        }
    }
    walk(doc)
    expect(pointers.length).toBeGreaterThan(50)
    for (const pointer of new Set(pointers)) {
      expect(pointer, pointer).toMatch(/^#\//)
      let node: unknown = doc
      for (const part of pointer.slice(2).split('/'))
        node = (node as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')]
      expect(node, `unresolved ${pointer}`).toBeDefined()
    }
    expect(text).not.toContain('"$id"')
  })

  it('documents auth, ETags and problem responses where they apply', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' })
    const problem = doc.components.schemas.Problem!
    expect(problem.properties).toHaveProperty('issues')
    const issue = doc.components.schemas.ProblemIssue!
    expect(issue.properties).toHaveProperty('pointer')
    for (const { method, path, op } of operations(doc)) {
      const statuses = Object.keys(op.responses)
      const admin = path.startsWith('/admin/v1/') && op.security === undefined
      if (admin) expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403', '429']))
      else expect(statuses, `${method} ${path}`).not.toContain('401')
      if (op.requestBody !== undefined && admin)
        expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['400', '413', '415', '422']))
      const ifMatch = (op.parameters ?? []).some((p) => p.name === 'If-Match')
      expect(statuses.includes('412'), `${method} ${path}`).toBe(ifMatch)
      for (const status of statuses.filter((s) => Number(s) >= 400 && !(path === '/readyz' && s === '503'))) {
        const response = resolve(doc, op.responses[status]!)
        expect(Object.keys(response.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json'])
      }
    }
    const putFlag = doc.paths['/admin/v1/flags/{key}']!.put!
    expect(putFlag.parameters?.map((p) => p.name)).toContain('If-Match')
    expect(resolve(doc, putFlag.responses['200']!).headers).toHaveProperty('ETag')
  })

  it('takes request bodies from the route schemas, rejecting unknown fields where they are strict', async () => {
    let strict = 0
    for (const { method, path, op } of operations(doc)) {
      if (op.requestBody === undefined) continue
      const media = Object.values(op.requestBody.content)[0]!
      const name = String(media.schema.$ref).split('/').pop()!
      const zod = BODY_SCHEMAS[name]
      expect(zod, `${method} ${path}: no zod schema for ${name}`).toBeDefined()
      const schema = doc.components.schemas[name] as JsonSchema
      const shape = (zod as unknown as { shape: Record<string, unknown> }).shape
      expect(Object.keys(schema.properties as object).sort(), name).toEqual(Object.keys(shape).sort())
      expect(schema.additionalProperties === false, `${name}: additionalProperties`).toBe(isStrict(zod!))
      if (schema.additionalProperties !== false) continue
      strict++
      // and the server does reject them
      const url = path.replace(/\{(\w+)\}/g, (_, p: string) => SAMPLE_PARAMS[p] ?? 'x')
      const res = await h.call(method.toUpperCase(), url, { zzUnknown: 1 })
      expect(res.status, `${method} ${path}`).toBe(422)
      const body = (await res.json()) as { issues: { pointer: string; message: string }[] }
      expect(
        body.issues.some((i) => i.pointer === '/zzUnknown' || i.message.includes('zzUnknown')),
        `${method} ${path}: ${JSON.stringify(body.issues)}`,
      ).toBe(true)
    }
    expect(strict).toBeGreaterThanOrEqual(10)
    expect(doc.components.schemas.TriggerFireInput!.additionalProperties).not.toBe(false)
  })

  it('serves a self-contained reference page without a key', async () => {
    const res = await h.app.request('/admin/v1/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await res.text()
    expect(html).not.toMatch(/<(script|img|iframe)[^>]+src=|<link\b|@import|url\(/i)
    expect(html).not.toMatch(/(src|href)="https?:/i)
    for (const { method, path } of operations(doc))
      expect(html).toContain(`${method.toUpperCase()}</span><span class="path">${path}<`)
    expect(html).toContain('id="schema-targetinginput"')
  })

  it('is the reference in docs/admin-api.md (VANE_UPDATE_DOCS=1 rewrites it)', () => {
    const file = fileURLToPath(new URL('../../../../docs/admin-api.md', import.meta.url))
    const [start, end] = ['<!-- reference:start (generated from the OpenAPI document) -->', '<!-- reference:end -->']
    const markdown = readFileSync(file, 'utf8')
    const from = markdown.indexOf(start)
    const to = markdown.indexOf(end)
    expect(from, 'docs/admin-api.md lacks the reference markers').toBeGreaterThan(0)
    const generated = renderDocsMarkdown(buildOpenApiDocument({ bodyLimit: BODY_LIMIT }))
    const current = markdown.slice(from + start.length, to)
    if (process.env.VANE_UPDATE_DOCS === '1' && normalise(current) !== normalise(generated))
      writeFileSync(file, `${markdown.slice(0, from + start.length)}\n\n${generated}\n${markdown.slice(to)}`)
    else
      expect(
        normalise(current),
        'docs/admin-api.md is stale: run VANE_UPDATE_DOCS=1 npx vitest run server/src/routes/openapi/document.test.ts',
      ).toBe(normalise(generated))
  })
})
