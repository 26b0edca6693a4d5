import { cohortSchema, flagObjectSchema, keySchema, variantSchema } from '@vane/engine/schema'
import { z } from 'zod'

/** `PUT /flags/{key}`: the definition every environment shares. */
export const flagDefinitionInput = flagObjectSchema.pick({
  type: true,
  variants: true,
  description: true,
  tags: true,
  owner: true,
})
export type FlagDefinitionInput = z.infer<typeof flagDefinitionInput>

/** `PUT /environments/{env}/flags/{key}`: targeting; the kill switch has its own endpoints. */
export const targetingInput = flagObjectSchema.pick({
  enabled: true,
  offVariant: true,
  fallthrough: true,
  rules: true,
  targets: true,
  prerequisites: true,
})
export type TargetingInput = z.infer<typeof targetingInput>

/** `PUT /cohorts/{key}`: lists given here replace the stored ones. */
export const cohortInput = cohortSchema.omit({ key: true, version: true })
export type CohortInput = z.infer<typeof cohortInput>

const memberKeys = z.array(z.string().min(1).max(1024)).max(5_000_000)
export const membersInput = z
  .strictObject({ include: memberKeys.optional(), exclude: memberKeys.optional() })
  .refine((v) => v.include !== undefined || v.exclude !== undefined, 'give "include" or "exclude" keys')
export type MembersInput = z.infer<typeof membersInput>

const reason = z.string().trim().min(1, 'say why: the reason goes into the audit log').max(1024)
const tag = z.string().min(1).max(64)
export const killInput = z.strictObject({ reason })
/** Unkill of one flag: lifts its direct kill, or with `all` every kill (by tag, by trigger) too. */
export const unkillInput = z.strictObject({ reason, all: z.boolean().optional() })
export const killByTagInput = z.strictObject({ tag, reason })
/** A tag named in a path (`/tags/{tag}/triggers`), as flags carry it. */
export const tagParam = tag

export const environmentInput = z.strictObject({
  key: keySchema,
  name: z.string().min(1).max(128).optional(),
})

/**
 * An origin a client key allows: an `http(s)` URL (its origin is kept), or the literal `"null"`. Pages from
 * `file:`, `data:`, `javascript:` or extension URLs present the origin `null`, as does every sandboxed iframe on
 * any site; so accepting such a URL would quietly allow all of those. `"null"` must be asked for by name.
 */
const allowedOrigin = z
  .string()
  .max(256)
  .superRefine((value, ctx) => {
    if (value === 'null') return
    let protocol: string
    try {
      protocol = new URL(value).protocol
    } catch {
      ctx.addIssue({ code: 'custom', message: 'Invalid URL: give an origin such as "https://app.example.com"' })
      return
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      ctx.addIssue({
        code: 'custom',
        message: `only http and https origins are allowed: a ${protocol} page presents the origin "null", as every sandboxed iframe does; to allow those anyway, list "null" itself`,
      })
  })

export const keyInput = z
  .strictObject({
    kind: z.enum(['admin', 'server', 'client']),
    name: z.string().trim().min(1).max(128),
    environment: keySchema.optional(),
    allowedOrigins: z.array(allowedOrigin).max(100).optional(),
    secureMode: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    if (v.kind !== 'admin' && v.environment === undefined)
      ctx.addIssue({ code: 'custom', message: `a ${v.kind} key belongs to one environment`, path: ['environment'] })
    if (v.kind === 'admin' && v.environment !== undefined)
      ctx.addIssue({ code: 'custom', message: 'admin keys span every environment', path: ['environment'] })
    if (v.kind !== 'client' && v.allowedOrigins !== undefined)
      ctx.addIssue({ code: 'custom', message: 'only client keys are used from browsers', path: ['allowedOrigins'] })
    if (v.kind !== 'client' && v.secureMode !== undefined)
      ctx.addIssue({ code: 'custom', message: 'secure mode is for client keys', path: ['secureMode'] })
  })
export type KeyInput = z.infer<typeof keyInput>

export const triggerInput = z.strictObject({ name: z.string().trim().min(1).max(128) })

/**
 * What a trigger URL accepts: nothing (kill), `{action, reason}`, or an
 * Alertmanager webhook (`status: firing` kills, `resolved` unkills).
 */
export const triggerFireInput = z
  .object({
    action: z.enum(['kill', 'unkill']).optional(),
    reason: z.string().max(1024).optional(),
    status: z.string().optional(),
  })
  .loose()

export const auditQuery = z.strictObject({
  entity: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  cursor: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
})

/** Most flag × variant series one outcome report may carry. */
export const MAX_OUTCOME_SERIES = 5_000
/** Largest sketch in a report, in bytes (before base64). */
export const MAX_SKETCH_BYTES = 64 * 1024

const epochMs = z.int().min(0).max(8.64e15)

/** `POST /sdk/v1/outcomes`: what an SDK saw per flag and variant between `start` and `end` (epoch ms). */
export const outcomeReportInput = z
  .strictObject({
    start: epochMs,
    end: epochMs,
    series: z
      .array(
        z.strictObject({
          flag: keySchema,
          variant: variantSchema,
          count: z.int().min(0).max(1e12),
          errors: z.int().min(0).max(1e12),
          sketch: z.base64().max(Math.ceil(MAX_SKETCH_BYTES / 3) * 4, `a sketch is at most ${MAX_SKETCH_BYTES} bytes`),
        }),
      )
      .max(MAX_OUTCOME_SERIES),
  })
  .superRefine((v, ctx) => {
    if (v.end < v.start) ctx.addIssue({ code: 'custom', message: 'must not be before "start"', path: ['end'] })
    v.series.forEach((s, i) => {
      if (s.count >= 0 && s.errors > s.count)
        ctx.addIssue({ code: 'custom', message: 'cannot exceed "count"', path: ['series', i, 'errors'] })
    })
  })
export type OutcomeReportInput = z.infer<typeof outcomeReportInput>

/** The `window` presets of the impact view, in minutes. */
export const IMPACT_WINDOWS = { '5m': 5, '15m': 15, '1h': 60, '6h': 360, '24h': 1440 } as const
/** The longest span `from`/`to` may cover, like the longest preset. */
export const MAX_IMPACT_MINUTES = 1440

const instant = z.iso.datetime({ offset: true })
export const impactQuery = z
  .strictObject({
    window: z.enum(Object.keys(IMPACT_WINDOWS) as [keyof typeof IMPACT_WINDOWS]).optional(),
    from: instant.optional(),
    to: instant.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.window !== undefined && (v.from !== undefined || v.to !== undefined))
      ctx.addIssue({ code: 'custom', message: 'give either "window" or "from" (and "to"), not both', path: ['window'] })
    if (v.to !== undefined && v.from === undefined)
      ctx.addIssue({ code: 'custom', message: '"to" needs "from"', path: ['from'] })
    if (v.from !== undefined && v.to !== undefined) {
      const span = Date.parse(v.to) - Date.parse(v.from)
      if (span <= 0) ctx.addIssue({ code: 'custom', message: 'must be after "from"', path: ['to'] })
      else if (span > MAX_IMPACT_MINUTES * 60_000)
        ctx.addIssue({
          code: 'custom',
          message: `the span may be at most ${MAX_IMPACT_MINUTES / 60} hours`,
          path: ['to'],
        })
    }
  })
