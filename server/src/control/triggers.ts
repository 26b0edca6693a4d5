import type { JsonValue } from '@vane/engine'
import { VaneError } from '../http/errors.js'
import type { StoreTx, TriggerRecord, TriggerTarget } from '../storage/repository.js'
import { type Actor, type ControlDeps, write } from './batch.js'
import { requireEnvironment, requireFlag } from './flags.js'
import { addKill, type KillMatch, killTagged, liftEverywhere, liftKills, newKill } from './kills.js'
import { constantTimeEqual, hashSecret, randomSecret, secretPrefix } from './secrets.js'

export type PublicTrigger = Omit<TriggerRecord, 'hash'>

function publicTrigger(record: TriggerRecord): PublicTrigger {
  const { hash: _hash, ...rest } = record
  return rest
}

/** The path an alerting tool POSTs to; the secret is the credential. */
export const triggerPath = (secret: string) => `/hooks/v1/triggers/${secret}`

/** Triggers are audited on what they act on: their flag, or their tag. */
const audited = (target: TriggerTarget) =>
  'tag' in target ? { entityType: 'tag', entityKey: target.tag } : { entityType: 'flag', entityKey: target.flagKey }

async function requireTarget(tx: StoreTx, environment: string, target: TriggerTarget): Promise<void> {
  await requireEnvironment(tx, environment)
  // a tag needs no flag carrying it yet: a trigger may be set up before the flags it will kill
  if ('flagKey' in target) await requireFlag(tx, target.flagKey)
}

const describeTarget = (target: TriggerTarget) => ('tag' in target ? `tag "${target.tag}"` : `"${target.flagKey}"`)

export async function createTrigger(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  target: TriggerTarget,
  name: string,
): Promise<{ trigger: PublicTrigger; secret: string; path: string }> {
  const secret = randomSecret('vane_trigger_')
  const record: TriggerRecord = {
    id: crypto.randomUUID(),
    environment,
    flagKey: 'flagKey' in target ? target.flagKey : null,
    tag: 'tag' in target ? target.tag : null,
    name,
    hash: await hashSecret(secret),
    prefix: secretPrefix(secret),
    createdAt: '',
    revokedAt: null,
  }
  await write(deps, actor, [], async (batch) => {
    await requireTarget(batch.tx, environment, target)
    record.createdAt = batch.now
    await batch.tx.insertTrigger(record)
    await batch.audit({
      action: 'trigger.create',
      ...audited(target),
      environment,
      before: null,
      after: publicTrigger(record) as unknown as JsonValue,
    })
  })
  return { trigger: publicTrigger(record), secret, path: triggerPath(secret) }
}

export async function listTriggers(
  deps: ControlDeps,
  environment: string,
  target: TriggerTarget,
): Promise<PublicTrigger[]> {
  await requireTarget(deps.store, environment, target)
  return (await deps.store.listTriggers(environment, target)).map(publicTrigger)
}

/** Revokes a trigger: its URL stops working. The kills it made stay until lifted (`unkill` with `all`). */
export async function revokeTrigger(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  target: TriggerTarget,
  id: string,
): Promise<PublicTrigger> {
  return write(deps, actor, [], async (batch) => {
    const current = (await batch.tx.listTriggers(environment, target)).find((t) => t.id === id)
    if (current === undefined)
      throw new VaneError('not_found', `trigger "${id}" does not exist on ${describeTarget(target)}`)
    if (current.revokedAt !== null) return publicTrigger(current)
    await batch.tx.revokeTrigger(id, batch.now)
    const after = { ...current, revokedAt: batch.now }
    await batch.audit({
      action: 'trigger.revoke',
      ...audited(target),
      environment,
      before: publicTrigger(current) as unknown as JsonValue,
      after: publicTrigger(after) as unknown as JsonValue,
    })
    return publicTrigger(after)
  })
}

/** What a firing did: for a flag trigger, whether the flag is killed now; for a tag trigger, which flags changed. */
export type TriggerFiring =
  | { trigger: PublicTrigger; flag: string; killed: boolean }
  | { trigger: PublicTrigger; tag: string; killed: boolean; changed: string[]; stillKilled?: string[] }

/**
 * Fires a trigger, audited under the trigger's name. `kill` adds the trigger's own kill to its flag (or to every
 * flag carrying its tag); `unkill` lifts that kill only, so a flag killed for another reason stays killed.
 * Idempotent.
 */
export async function fireTrigger(
  deps: ControlDeps,
  secret: string,
  action: 'kill' | 'unkill',
  reason: string | undefined,
): Promise<TriggerFiring> {
  const hash = await hashSecret(secret)
  const record = await deps.store.getTriggerByHash(hash)
  if (record === undefined || record.revokedAt !== null || !constantTimeEqual(record.hash, hash))
    throw new VaneError('not_found', 'no such trigger (it may have been revoked)')
  const trigger = publicTrigger(record)
  const actor: Actor = { name: `trigger:${record.name}` }
  const { environment } = record
  const why = reason ?? `${action} by trigger "${record.name}"`
  const own: KillMatch = { source: 'trigger', trigger: record.id }
  return write(deps, actor, [environment], async (batch): Promise<TriggerFiring> => {
    if (record.tag !== null) {
      if (action === 'unkill')
        return { trigger, tag: record.tag, killed: false, ...(await liftEverywhere(batch, environment, own, why)) }
      const kill = newKill(batch, actor, { source: 'trigger', trigger: record.id, tag: record.tag, reason: why })
      const changed = await killTagged(batch, environment, record.tag, kill)
      return { trigger, tag: record.tag, killed: true, changed }
    }
    const flag = record.flagKey ?? ''
    const { config } =
      action === 'kill'
        ? await addKill(
            batch,
            environment,
            flag,
            newKill(batch, actor, { source: 'trigger', trigger: record.id, reason: why }),
          )
        : await liftKills(batch, environment, flag, own, why)
    return { trigger, flag, killed: config.killed }
  })
}
