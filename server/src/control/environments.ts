import { compileSnapshot, type JsonValue } from '@vane/engine'
import { VaneError } from '../http/errors.js'
import { loadSnapshot } from '../live/hub.js'
import type { EnvironmentRecord } from '../storage/repository.js'
import { type Actor, type ControlDeps, write } from './batch.js'

/** Creates an environment; every existing flag starts there disabled. */
export async function createEnvironment(
  deps: ControlDeps,
  actor: Actor,
  key: string,
  name: string | undefined,
): Promise<EnvironmentRecord> {
  const record = await write(deps, actor, [], async (batch) => {
    // after any write to every environment that is under way: its flags are then in the snapshot read below
    await batch.tx.lockEnvironmentSet()
    if ((await batch.tx.getEnvironment(key)) !== undefined)
      throw new VaneError('conflict', `environment "${key}" already exists`)
    const env: EnvironmentRecord = { key, name: name ?? key, version: 0, createdAt: batch.now }
    await batch.tx.insertEnvironment(env)
    // staged like any write, so the evaluator is in place before a racing write to it can ask
    batch.staged.set(key, compileSnapshot(await loadSnapshot(batch.tx, key)))
    await batch.audit({
      action: 'environment.create',
      entityType: 'environment',
      entityKey: key,
      before: null,
      after: env as unknown as JsonValue,
    })
    return env
  })
  deps.feed.prime(key, record.version)
  return record
}
