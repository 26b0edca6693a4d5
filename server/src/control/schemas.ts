import { cohortSchema, flagObjectSchema, keySchema } from '@vane/engine/schema'
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
export const killInput = z.strictObject({ reason })
export const killByTagInput = z.strictObject({ tag: z.string().min(1).max(64), reason })

export const environmentInput = z.strictObject({
  key: keySchema,
  name: z.string().min(1).max(128).optional(),
})

export const keyInput = z
  .strictObject({
    kind: z.enum(['admin', 'server', 'client']),
    name: z.string().trim().min(1).max(128),
    environment: keySchema.optional(),
    allowedOrigins: z.array(z.url().max(256)).max(100).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.kind !== 'admin' && v.environment === undefined)
      ctx.addIssue({ code: 'custom', message: `a ${v.kind} key belongs to one environment`, path: ['environment'] })
    if (v.kind === 'admin' && v.environment !== undefined)
      ctx.addIssue({ code: 'custom', message: 'admin keys span every environment', path: ['environment'] })
    if (v.kind !== 'client' && v.allowedOrigins !== undefined)
      ctx.addIssue({ code: 'custom', message: 'only client keys are used from browsers', path: ['allowedOrigins'] })
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
