/**
 * Renders the OpenAPI document as a self-contained HTML page (no CDN, no
 * external script: servers often have no internet) and as markdown for
 * docs/admin-api.md. Both show the same thing: every operation with its
 * parameters, body and responses, then every schema.
 */
import type { JsonSchema, Method, OpenApiDocument, Operation, Parameter, ResponseObject } from './types.js'

const METHODS: Method[] = ['get', 'put', 'post', 'delete']

export interface OperationEntry {
  method: Method
  path: string
  op: Operation
}

/** Operations grouped by their tag, in the document's tag order. */
export function operationsByTag(doc: OpenApiDocument): { tag: string; description: string; ops: OperationEntry[] }[] {
  const all: OperationEntry[] = []
  for (const [path, item] of Object.entries(doc.paths))
    for (const method of METHODS) {
      const op = item[method]
      if (op !== undefined) all.push({ method, path, op })
    }
  return doc.tags.map((t) => ({
    tag: t.name,
    description: t.description,
    ops: all.filter((e) => e.op.tags.includes(t.name)),
  }))
}

const refName = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1)

/** Follows a `$ref` into `components`. */
export function resolve<T>(doc: OpenApiDocument, value: T | { $ref: string }): T {
  if (typeof value === 'object' && value !== null && '$ref' in value) {
    const [, , section, name] = value.$ref.split('/')
    const components = doc.components as unknown as Record<string, Record<string, T>>
    const target = components[section ?? '']?.[name ?? '']
    if (target === undefined) throw new Error(`unresolved $ref ${value.$ref}`)
    return target
  }
  return value as T
}

/** A one-line type for a schema: `string`, `Rule[]`, `{ [name]: JsonValue }`, `"a" | "b"`. */
function typeOf(schema: JsonSchema, link: (name: string) => string): string {
  if (typeof schema.$ref === 'string') return link(refName(schema.$ref))
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  const union = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined
  if (Array.isArray(union) && schema.type === undefined) return union.map((s) => typeOf(s, link)).join(' | ')
  switch (schema.type) {
    case 'array':
      return `${typeOf((schema.items ?? {}) as JsonSchema, link)}[]`
    case 'object': {
      const extra = schema.additionalProperties
      if (schema.properties === undefined && typeof extra === 'object' && extra !== null)
        return `{ [name]: ${typeOf(extra as JsonSchema, link)} }`
      return 'object'
    }
    case undefined:
      return 'any'
    default:
      return Array.isArray(schema.type) ? schema.type.join(' | ') : String(schema.type)
  }
}

/** Constraints worth reading: pattern, bounds, default, format. */
function constraints(schema: JsonSchema): string[] {
  const out: string[] = []
  const item = (schema.type === 'array' ? schema.items : undefined) as JsonSchema | undefined
  if (typeof schema.format === 'string') out.push(`format ${schema.format}`)
  else if (typeof schema.pattern === 'string') out.push(`pattern \`${schema.pattern}\``)
  for (const [k, label] of [
    ['minLength', 'min length'],
    ['maxLength', 'max length'],
    ['minimum', '≥'],
    ['exclusiveMinimum', '>'],
    ['maximum', '≤'],
    ['minItems', 'min items'],
    ['maxItems', 'max items'],
  ] as const)
    if (typeof schema[k] === 'number' && Math.abs(schema[k] as number) !== Number.MAX_SAFE_INTEGER)
      out.push(`${label} ${schema[k]}`)
  if (schema.default !== undefined) out.push(`default ${JSON.stringify(schema.default)}`)
  if (schema.additionalProperties === false) out.push('no other fields')
  const keys = schema.propertyNames as JsonSchema | undefined
  if (typeof keys?.pattern === 'string') out.push(`names \`${keys.pattern}\``)
  if (item !== undefined && item.$ref === undefined) out.push(...constraints(item).map((c) => `items: ${c}`))
  return out
}

interface Row {
  name: string
  type: string
  required: boolean
  notes: string
}

function propertyRows(schema: JsonSchema, link: (name: string) => string): Row[] {
  const required = new Set((schema.required ?? []) as string[])
  return Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>).map(([name, s]) => ({
    name,
    type: typeOf(s, link),
    required: required.has(name),
    notes: [typeof s.description === 'string' ? s.description : '', ...constraints(s)].filter(Boolean).join('; '),
  }))
}

function schemaNotes(schema: JsonSchema): string {
  const notes: string[] = []
  if (typeof schema.description === 'string') notes.push(schema.description)
  if (schema.additionalProperties === false) notes.push('Unknown fields are rejected (422).')
  else if (schema.properties !== undefined && schema.additionalProperties !== undefined)
    notes.push('Other fields are accepted and ignored.')
  return notes.join(' ')
}

function responseLine(
  doc: OpenApiDocument,
  status: string,
  value: ResponseObject | { $ref: string },
  link: (n: string) => string,
) {
  const response = resolve(doc, value)
  const media = Object.entries(response.content ?? {})[0]
  const body =
    media === undefined
      ? ''
      : media[1].schema.$ref !== undefined
        ? ` ${typeOf(media[1].schema, link)}`
        : ` \`${media[0]}\``
  return { status, body, description: response.description, headers: Object.keys(response.headers ?? {}) }
}

function curlOf(method: Method, path: string, op: Operation, base: string): string {
  const auth = op.security?.length === 0 ? '' : ' -H "Authorization: Bearer $KEY"'
  const media = Object.entries(op.requestBody?.content ?? {})[0]
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => `$${name.toUpperCase()}`)
  const body =
    media === undefined || media[1].example === undefined
      ? ''
      : ` -H 'Content-Type: application/json' -d '${JSON.stringify(media[1].example)}'`
  return `curl -sS${method === 'get' ? '' : ` -X ${method.toUpperCase()}`} "${base}${url}"${auth}${body}`
}

// ---------------------------------------------------------------- markdown

const mdCell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ')

/** The reference as markdown: docs/admin-api.md holds this between its reference markers. */
export function renderDocsMarkdown(doc: OpenApiDocument): string {
  const link = (name: string) => `[${name}](#schema-${name.toLowerCase()})`
  const lines: string[] = []
  for (const group of operationsByTag(doc)) {
    if (group.ops.length === 0) continue
    lines.push(`### ${group.tag}`, '', group.description, '')
    for (const { method, path, op } of group.ops) {
      lines.push(
        `#### \`${method.toUpperCase()} ${path}\``,
        '',
        `**${op.summary}.**${op.description ? ` ${op.description}` : ''}`,
        '',
      )
      if (op.security?.length === 0) lines.push('No API key.', '')
      const params = (op.parameters ?? []) as Parameter[]
      if (params.length > 0) {
        lines.push('| parameter | in | type | notes |', '|---|---|---|---|')
        for (const p of params)
          lines.push(
            `| \`${p.name}\`${p.required ? '' : ' (optional)'} | ${p.in} | ${mdCell(typeOf(p.schema, link))} | ${mdCell([p.description, ...constraints(p.schema)].join('; '))} |`,
          )
        lines.push('')
      }
      const media = Object.entries(op.requestBody?.content ?? {})[0]
      if (media !== undefined)
        lines.push(
          `Body${op.requestBody?.required ? '' : ' (optional)'}: ${typeOf(media[1].schema, link)} as \`${media[0]}\`.`,
          '',
        )
      const entries = Object.entries(op.responses)
      // shared error responses are references; an operation's own outcomes are written out
      const ok = entries.filter(([, r]) => !('$ref' in r)).map(([status, r]) => responseLine(doc, status, r, link))
      const errors = entries.filter(([, r]) => '$ref' in r).map(([status]) => status)
      for (const r of ok)
        lines.push(
          `- **${r.status}**${r.body}: ${r.description}${r.headers.length > 0 ? ` Headers: ${r.headers.map((h) => `\`${h}\``).join(', ')}.` : ''}`,
        )
      if (errors.length > 0) lines.push(`- Errors (problem+json): ${errors.join(', ')}`)
      lines.push('')
    }
  }
  lines.push('### Schemas', '')
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    lines.push(`#### <a id="schema-${name.toLowerCase()}"></a>${name}`, '')
    const notes = schemaNotes(schema)
    if (notes !== '') lines.push(notes, '')
    const rows = propertyRows(schema, link)
    if (rows.length > 0) {
      lines.push('| field | type | required | notes |', '|---|---|---|---|')
      for (const r of rows)
        lines.push(`| \`${r.name}\` | ${mdCell(r.type)} | ${r.required ? 'yes' : ''} | ${mdCell(r.notes)} |`)
    } else lines.push(`Type: ${typeOf(schema, link)}.`)
    lines.push('')
  }
  return `${lines.join('\n').trimEnd()}\n`
}

// ---------------------------------------------------------------- HTML

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')

/** Inline code spans of the descriptions, escaped. */
const prose = (text: string) => escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>')

/** Markdown-flavoured type text (`\|`, `[X](#schema-x)`) as HTML. */
function typeHtml(text: string): string {
  return escapeHtml(text).replace(
    /\[(\w+)\]\(#schema-([\w-]+)\)/g,
    (_, name: string, anchor: string) => `<a href="#schema-${anchor}">${name}</a>`,
  )
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1d2125;--muted:#5f6b76;--line:#d8dee4;--bg:#fff;--code:#f3f5f7;--accent:#0b62d6}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ec;--muted:#9aa5b1;--line:#343b43;--bg:#14171a;--code:#1e2328;--accent:#6aa8ff}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:1.5rem 2rem;border-bottom:1px solid var(--line)}main{padding:0 2rem 4rem;max-width:72rem}
h1{margin:0 0 .5rem;font-size:1.6rem}h2{margin:2.5rem 0 .25rem;font-size:1.3rem}h3{font-size:1rem;margin:0}
p{margin:.4rem 0}a{color:var(--accent)}code,pre{font:13px/1.45 ui-monospace,monospace;background:var(--code);border-radius:4px}
code{padding:0 .25em}pre{padding:.75rem;overflow:auto}
details.op{border:1px solid var(--line);border-radius:6px;margin:.5rem 0}details.op>summary{cursor:pointer;padding:.5rem .75rem;display:flex;gap:.75rem;align-items:baseline}
details.op>div{padding:0 .75rem .75rem}
.m{font:600 12px ui-monospace,monospace;padding:.15em .5em;border-radius:4px;color:#fff;min-width:4.2em;text-align:center}
.get{background:#1f7a4d}.post{background:#0b62d6}.put{background:#a35c00}.delete{background:#b3261e}
.path{font-family:ui-monospace,monospace}.sum{color:var(--muted)}
table{border-collapse:collapse;margin:.5rem 0;width:100%}th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted)}input{font:inherit;padding:.4rem .6rem;width:100%;max-width:28rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.muted{color:var(--muted)}`

/** Filters operations as you type; the page works without it. */
const SCRIPT = `
const box=document.getElementById('filter');
box.addEventListener('input',()=>{const q=box.value.toLowerCase();
for(const el of document.querySelectorAll('details.op'))el.hidden=q!==''&&!el.dataset.search.includes(q);
for(const s of document.querySelectorAll('section.tag'))s.hidden=[...s.querySelectorAll('details.op')].every(d=>d.hidden);});`

function rowsTable(head: string[], rows: string[][]): string {
  if (rows.length === 0) return ''
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

export function renderDocsHtml(doc: OpenApiDocument): string {
  const link = (name: string) => `[${name}](#schema-${name.toLowerCase()})`
  const sections = operationsByTag(doc)
    .filter((g) => g.ops.length > 0)
    .map((group) => {
      const ops = group.ops.map(({ method, path, op }) => {
        const params = (op.parameters ?? []) as Parameter[]
        const paramTable = rowsTable(
          ['parameter', 'in', 'type', 'notes'],
          params.map((p) => [
            `<code>${escapeHtml(p.name)}</code>${p.required ? '' : ' <span class="muted">optional</span>'}`,
            p.in,
            typeHtml(typeOf(p.schema, link)),
            [prose(p.description), ...constraints(p.schema).map(prose)].join('; '),
          ]),
        )
        const media = Object.entries(op.requestBody?.content ?? {})[0]
        const body =
          media === undefined
            ? ''
            : `<p><b>Body</b>${op.requestBody?.required ? '' : ' (optional)'}: ${typeHtml(typeOf(media[1].schema, link))} as <code>${escapeHtml(media[0])}</code></p>${
                media[1].example === undefined
                  ? ''
                  : `<pre>${escapeHtml(JSON.stringify(media[1].example, null, 2))}</pre>`
              }`
        const responses = rowsTable(
          ['status', 'body', 'meaning'],
          Object.entries(op.responses).map(([status, r]) => {
            const line = responseLine(doc, status, r, link)
            const headers = line.headers.length > 0 ? ` <span class="muted">(${line.headers.join(', ')})</span>` : ''
            return [`<b>${status}</b>`, typeHtml(line.body.trim()), prose(line.description) + headers]
          }),
        )
        const search = `${method} ${path} ${op.summary} ${op.tags.join(' ')}`.toLowerCase()
        return `<details class="op" id="${escapeHtml(op.operationId)}" data-search="${escapeHtml(search)}">
<summary><span class="m ${method}">${method.toUpperCase()}</span><span class="path">${escapeHtml(path)}</span><span class="sum">${prose(op.summary)}</span></summary>
<div>${op.description ? `<p>${prose(op.description)}</p>` : ''}${op.security?.length === 0 ? '<p class="muted">No API key.</p>' : ''}
<pre>${escapeHtml(curlOf(method, path, op, '$VANE'))}</pre>${paramTable}${body}${responses}</div></details>`
      })
      return `<section class="tag"><h2>${escapeHtml(group.tag)}</h2><p class="muted">${prose(group.description)}</p>${ops.join('\n')}</section>`
    })
  const schemas = Object.entries(doc.components.schemas).map(([name, schema]) => {
    const rows = propertyRows(schema, link)
    const table =
      rows.length > 0
        ? rowsTable(
            ['field', 'type', 'required', 'notes'],
            rows.map((r) => [
              `<code>${escapeHtml(r.name)}</code>`,
              typeHtml(r.type),
              r.required ? 'yes' : '',
              prose(r.notes),
            ]),
          )
        : `<p>Type: ${typeHtml(typeOf(schema, link))}</p>`
    const notes = schemaNotes(schema)
    return `<div id="schema-${escapeHtml(name.toLowerCase())}"><h3>${escapeHtml(name)}</h3>${notes ? `<p>${prose(notes)}</p>` : ''}${table}
<details><summary class="muted">JSON Schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details></div>`
  })
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(doc.info.title)} ${escapeHtml(doc.info.version)}</title><style>${STYLE}</style></head>
<body><header><h1>${escapeHtml(doc.info.title)} <span class="muted">${escapeHtml(doc.info.version)}</span></h1>
${doc.info.description
  .split('\n\n')
  .map((p) => `<p>${prose(p)}</p>`)
  .join('')}
<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}). Examples use <code>$VANE</code> for the server URL and <code>$KEY</code> for an admin key.</p>
<input id="filter" type="search" placeholder="Filter endpoints…" aria-label="Filter endpoints"></header>
<main>${sections.join('\n')}<section><h2>Schemas</h2>${schemas.join('\n')}</section></main>
<script>${SCRIPT}</script></body></html>`
}
