import type { JsonValue } from '@vane/engine'
import { VaneError } from '../http/errors.js'
import type { FlagConfigRecord, TriggerRecord } from '../storage/repository.js'
import { type Actor, type ControlDeps, write } from './batch.js'
import { requireEnvironment, requireFlag, setKilled } from './flags.js'
import { constantTimeEqual, hashSecret, randomSecret, secretPrefix } from './secrets.js'

export type PublicTrigger = Omit<TriggerRecord, 'hash'>

function publicTrigger(record: TriggerRecord): PublicTrigger {
  const { hash: _hash, ...rest } = record
  return rest
}

/** The path an alerting tool POSTs to; the secret is the credential. */
export const triggerPath = (secret: string) => `/hooks/v1/triggers/${secret}`

export async function createTrigger(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  flagKey: string,
  name: string,
): Promise<{ trigger: PublicTrigger; secret: string; path: string }> {
  const secret = randomSecret('vane_trigger_')
  const record: TriggerRecord = {
    id: crypto.randomUUID(),
    environment,
    flagKey,
    name,
    hash: await hashSecret(secret),
    prefix: secretPrefix(secret),
    createdAt: '',
    revokedAt: null,
  }
  await write(deps, actor, [], async (batch) => {
    await requireEnvironment(batch.tx, environment)
    await requireFlag(batch.tx, flagKey)
    record.createdAt = batch.now
    await batch.tx.insertTrigger(record)
    await batch.audit({
      action: 'trigger.create',
      entityType: 'flag',
      entityKey: flagKey,
      environment,
      before: null,
      after: publicTrigger(record) as unknown as JsonValue,
    })
  })
  return { trigger: publicTrigger(record), secret, path: triggerPath(secret) }
}

export async function listTriggers(deps: ControlDeps, environment: string, flagKey: string): Promise<PublicTrigger[]> {
  await requireEnvironment(deps.store, environment)
  await requireFlag(deps.store, flagKey)
  return (await deps.store.listTriggers(environment, flagKey)).map(publicTrigger)
}

export async function revokeTrigger(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  flagKey: string,
  id: string,
): Promise<PublicTrigger> {
  return write(deps, actor, [], async (batch) => {
    const current = (await batch.tx.listTriggers(environment, flagKey)).find((t) => t.id === id)
    if (current === undefined) throw new VaneError('not_found', `trigger "${id}" does not exist on "${flagKey}"`)
    if (current.revokedAt !== null) return publicTrigger(current)
    await batch.tx.revokeTrigger(id, batch.now)
    const after = { ...current, revokedAt: batch.now }
    await batch.audit({
      action: 'trigger.revoke',
      entityType: 'flag',
      entityKey: flagKey,
      environment,
      before: publicTrigger(current) as unknown as JsonValue,
      after: publicTrigger(after) as unknown as JsonValue,
    })
    return publicTrigger(after)
  })
}

/** Fires a trigger: kills or unkills its flag, audited under the trigger's name. Idempotent. */
export async function fireTrigger(
  deps: ControlDeps,
  secret: string,
  action: 'kill' | 'unkill',
  reason: string | undefined,
): Promise<{ trigger: PublicTrigger; targeting: FlagConfigRecord }> {
  const hash = await hashSecret(secret)
  const trigger = await deps.store.getTriggerByHash(hash)
  if (trigger === undefined || trigger.revokedAt !== null || !constantTimeEqual(trigger.hash, hash))
    throw new VaneError('not_found', 'no such trigger (it may have been revoked)')
  const actor: Actor = { name: `trigger:${trigger.name}` }
  const targeting = await setKilled(
    deps,
    actor,
    trigger.environment,
    trigger.flagKey,
    action === 'kill',
    reason ?? `${action} by trigger "${trigger.name}"`,
  )
  return { trigger: publicTrigger(trigger), targeting }
}
