import type { JsonValue } from '@vane/engine'
import { isVaneError, VaneError } from '../http/errors.js'
import { defaultConfig, toEngineFlag } from '../storage/engine-model.js'
import type { FlagConfigRecord, FlagRecord, StoreTx } from '../storage/repository.js'
import { type Actor, bodyPointer, type ControlDeps, checkVersion, type WriteBatch, write } from './batch.js'
import type { FlagDefinitionInput, TargetingInput } from './schemas.js'

type IfMatch = number | '*' | undefined

const DEFINITION_FIELDS = new Set(['type', 'variants', 'description', 'tags', 'owner', 'key'])

/**
 * Engine pointers are into the merged flag (`/value/...`); point at the body or the environment's targeting.
 * Another flag that still needs something of this one keeps its snapshot pointer (`/flags/<other>/…`).
 */
function definitionPointer(key: string, environment: string) {
  const body = bodyPointer('flags', key, 'prerequisites')
  return (pointer: string) => {
    const rest = body(pointer)
    if (rest.startsWith('/flags/')) return rest
    const field = rest.split('/')[1] ?? ''
    return DEFINITION_FIELDS.has(field) ? rest : `/environments/${environment}/targeting${rest}`
  }
}

export async function requireEnvironment(tx: StoreTx, environment: string): Promise<void> {
  if ((await tx.getEnvironment(environment)) === undefined)
    throw new VaneError('not_found', `environment "${environment}" does not exist`)
}

export async function requireFlag(tx: StoreTx, key: string): Promise<FlagRecord> {
  const flag = await tx.getFlag(key)
  if (flag === undefined || flag.archived) throw new VaneError('not_found', `flag "${key}" does not exist`)
  return flag
}

/** Creates or replaces a flag's definition; a definition change reaches every environment. */
export async function putFlag(
  deps: ControlDeps,
  actor: Actor,
  key: string,
  input: FlagDefinitionInput,
  ifMatch: IfMatch,
): Promise<{ flag: FlagRecord; created: boolean }> {
  return write(deps, actor, 'all', async (batch) => {
    const { tx } = batch
    const current = await tx.getFlag(key)
    const live = current?.archived ? undefined : current
    checkVersion(ifMatch, live?.version, `flag "${key}"`)
    const flag: FlagRecord = {
      key,
      type: input.type,
      variants: input.variants,
      description: input.description ?? null,
      tags: input.tags ?? [],
      owner: input.owner ?? null,
      archived: false,
      version: (current?.version ?? 0) + 1,
      createdAt: live?.createdAt ?? batch.now,
      updatedAt: batch.now,
    }
    if (current !== undefined && current.type !== flag.type && !current.archived)
      throw new VaneError('conflict', `flag "${key}" is a ${current.type} flag; a flag's type cannot change`, [
        { pointer: '/type', message: `must stay "${current.type}"` },
      ])
    await tx.upsertFlag(flag)
    for (const env of await tx.listEnvironments()) {
      const config = await tx.getFlagConfig(env.key, key)
      const merged = toEngineFlag(flag, config)
      await batch.change(env.key, 'flag', key, 'put', merged as unknown as JsonValue, definitionPointer(key, env.key))
    }
    await batch.audit({
      action: live === undefined ? 'flag.create' : 'flag.update',
      entityType: 'flag',
      entityKey: key,
      before: (live ?? null) as unknown as JsonValue,
      after: flag as unknown as JsonValue,
    })
    return { flag, created: live === undefined }
  })
}

/** Archives a flag: it disappears from every environment; its history stays. */
export async function archiveFlag(deps: ControlDeps, actor: Actor, key: string, ifMatch: IfMatch): Promise<FlagRecord> {
  return write(deps, actor, 'all', async (batch) => {
    const { tx } = batch
    const current = await requireFlag(tx, key)
    checkVersion(ifMatch, current.version, `flag "${key}"`)
    const flag: FlagRecord = { ...current, archived: true, version: current.version + 1, updatedAt: batch.now }
    await tx.upsertFlag(flag)
    try {
      for (const env of await tx.listEnvironments()) await batch.change(env.key, 'flag', key, 'delete', null)
    } catch (error) {
      // like a cohort in use: the conflict is with other flags, named in the issues
      if (isVaneError(error) && error.code === 'validation')
        throw new VaneError(
          'conflict',
          `flag "${key}" is a prerequisite of other flags; remove those first`,
          error.issues,
        )
      throw error
    }
    await batch.audit({
      action: 'flag.archive',
      entityType: 'flag',
      entityKey: key,
      before: current as unknown as JsonValue,
      after: flag as unknown as JsonValue,
    })
    return flag
  })
}

/** A flag's targeting in an environment (the default, disabled one when never configured). */
export async function getTargeting(tx: StoreTx, environment: string, key: string): Promise<FlagConfigRecord> {
  await requireEnvironment(tx, environment)
  const flag = await requireFlag(tx, key)
  return (await tx.getFlagConfig(environment, key)) ?? defaultConfig(flag, environment)
}

/**
 * Replaces the targeting with `update(current)`, validates it through the
 * engine, and records one change. Returns the unchanged config when `update`
 * returns undefined (an idempotent no-op writes nothing).
 * @internal
 */
export async function changeTargeting(
  batch: WriteBatch,
  environment: string,
  key: string,
  ifMatch: IfMatch,
  action: string,
  reason: string | null,
  update: (current: FlagConfigRecord) => FlagConfigRecord | undefined,
): Promise<FlagConfigRecord> {
  const { tx } = batch
  const current = await getTargeting(tx, environment, key)
  checkVersion(ifMatch, current.version, `targeting of "${key}" in ${environment}`)
  const updated = update(current)
  if (updated === undefined) return current
  const next: FlagConfigRecord = {
    ...updated,
    environment,
    flagKey: key,
    version: current.version + 1,
    updatedAt: batch.now,
  }
  const flag = await requireFlag(tx, key)
  await tx.upsertFlagConfig(next)
  await batch.change(
    environment,
    'flag',
    key,
    'put',
    toEngineFlag(flag, next) as unknown as JsonValue,
    bodyPointer('flags', key, 'prerequisites'),
  )
  await batch.audit({
    action,
    entityType: 'flag',
    entityKey: key,
    environment,
    reason,
    before: current as unknown as JsonValue,
    after: next as unknown as JsonValue,
  })
  return next
}

export function putTargeting(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  key: string,
  input: TargetingInput,
  ifMatch: IfMatch,
): Promise<FlagConfigRecord> {
  return write(deps, actor, [environment], (batch) =>
    changeTargeting(batch, environment, key, ifMatch, 'targeting.update', null, (current) => ({
      ...current,
      enabled: input.enabled,
      offVariant: input.offVariant,
      fallthrough: input.fallthrough,
      rules: input.rules ?? [],
      targets: input.targets ?? {},
      prerequisites: input.prerequisites ?? [],
    })),
  )
}

/** Switches one rule (a cohort's targeting on this flag) on or off. */
export function setRuleEnabled(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  key: string,
  ruleId: string,
  enabled: boolean,
  ifMatch: IfMatch,
): Promise<FlagConfigRecord> {
  return write(deps, actor, [environment], (batch) =>
    changeTargeting(batch, environment, key, ifMatch, enabled ? 'rule.enable' : 'rule.disable', null, (current) => {
      const rule = current.rules.find((r) => r.id === ruleId)
      if (rule === undefined)
        throw new VaneError('not_found', `flag "${key}" has no rule "${ruleId}" in ${environment}`)
      if ((rule.enabled !== false) === enabled) return undefined
      return { ...current, rules: current.rules.map((r) => (r.id === ruleId ? { ...r, enabled } : r)) }
    }),
  )
}
