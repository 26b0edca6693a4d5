import type { JsonValue } from '@vane/engine'
import { isVaneError, VaneError } from '../http/errors.js'
import { toEngineCohort } from '../storage/engine-model.js'
import type { CohortRecord, MemberList, StoreTx } from '../storage/repository.js'
import { type Actor, bodyPointer, type ControlDeps, checkVersion, write } from './batch.js'
import type { CohortInput, MembersInput } from './schemas.js'

type IfMatch = number | '*' | undefined

export async function requireCohort(tx: StoreTx, key: string): Promise<CohortRecord> {
  const cohort = await tx.getCohort(key)
  if (cohort === undefined) throw new VaneError('not_found', `cohort "${key}" does not exist`)
  return cohort
}

/** Creates or replaces a cohort; lists given in the body replace the stored lists. */
export function putCohort(
  deps: ControlDeps,
  actor: Actor,
  key: string,
  input: CohortInput,
  ifMatch: IfMatch,
): Promise<{ cohort: CohortRecord; created: boolean }> {
  return write(deps, actor, 'all', async (batch) => {
    const { tx } = batch
    const current = await tx.getCohort(key)
    checkVersion(ifMatch, current?.version, `cohort "${key}"`)
    const cohort: CohortRecord = {
      key,
      description: input.description ?? null,
      clauses: (input.clauses ?? []) as CohortRecord['clauses'],
      rollout: (input.rollout ?? null) as CohortRecord['rollout'],
      version: (current?.version ?? 0) + 1,
      createdAt: current?.createdAt ?? batch.now,
      updatedAt: batch.now,
    }
    await tx.upsertCohort(cohort)
    for (const list of ['include', 'exclude'] as const) {
      const given = input[list]
      if (given === undefined) continue
      const existing = (await tx.getCohortMembers(key))[list]
      const keep = new Set(given)
      await tx.removeCohortMembers(
        key,
        list,
        existing.filter((k) => !keep.has(k)),
      )
      await tx.addCohortMembers(key, list, given)
    }
    // lists not given are kept: the change then carries the definition alone, so that editing a cohort of a
    // million keys does not copy them into the change log and out to every stream
    const membersGiven = input.include !== undefined || input.exclude !== undefined
    const engineCohort = membersGiven
      ? toEngineCohort(cohort, await tx.getCohortMembers(key))
      : toEngineCohort(cohort, { include: [], exclude: [] })
    const op = membersGiven ? 'put' : 'define'
    const pointer = bodyPointer('cohorts', key, 'clauses')
    for (const env of await tx.listEnvironments())
      await batch.change(env.key, 'cohort', key, op, engineCohort as unknown as JsonValue, pointer)
    await batch.audit({
      action: current === undefined ? 'cohort.create' : 'cohort.update',
      entityType: 'cohort',
      entityKey: key,
      before: (current ?? null) as unknown as JsonValue,
      after: cohort as unknown as JsonValue,
    })
    return { cohort, created: current === undefined }
  })
}

/** Deletes a cohort no flag uses; one still referenced is a conflict naming the references. */
export function deleteCohort(deps: ControlDeps, actor: Actor, key: string, ifMatch: IfMatch): Promise<void> {
  return write(deps, actor, 'all', async (batch) => {
    const { tx } = batch
    const current = await requireCohort(tx, key)
    checkVersion(ifMatch, current.version, `cohort "${key}"`)
    try {
      for (const env of await tx.listEnvironments()) await batch.change(env.key, 'cohort', key, 'delete', null)
    } catch (error) {
      if (isVaneError(error) && error.code === 'validation')
        throw new VaneError('conflict', `cohort "${key}" is still used; remove those references first`, error.issues)
      throw error
    }
    await tx.deleteCohort(key)
    await batch.audit({
      action: 'cohort.delete',
      entityType: 'cohort',
      entityKey: key,
      before: current as unknown as JsonValue,
      after: null,
    })
  })
}

/**
 * Adds or removes member keys in bulk. The change log and the streams carry
 * only the delta, so a cohort of millions costs what changed, not its size.
 */
export function changeMembers(
  deps: ControlDeps,
  actor: Actor,
  key: string,
  input: MembersInput,
  mode: 'add' | 'remove',
): Promise<{ cohort: CohortRecord; changed: Record<MemberList, number> }> {
  return write(deps, actor, 'all', async (batch) => {
    const { tx } = batch
    const current = await requireCohort(tx, key)
    const changed = { include: 0, exclude: 0 }
    for (const list of ['include', 'exclude'] as const) {
      const keys = input[list]
      if (keys === undefined || keys.length === 0) continue
      changed[list] =
        mode === 'add' ? await tx.addCohortMembers(key, list, keys) : await tx.removeCohortMembers(key, list, keys)
    }
    if (changed.include === 0 && changed.exclude === 0) return { cohort: current, changed }
    const cohort: CohortRecord = { ...current, version: current.version + 1, updatedAt: batch.now }
    await tx.upsertCohort(cohort)
    const delta: Record<string, string[]> = {}
    if (input.include !== undefined) delta.include = input.include
    if (input.exclude !== undefined) delta.exclude = input.exclude
    const payload = { [mode]: delta } as JsonValue
    for (const env of await tx.listEnvironments()) await batch.change(env.key, 'cohort', key, 'members', payload)
    await batch.audit({
      action: mode === 'add' ? 'cohort.members.add' : 'cohort.members.remove',
      entityType: 'cohort',
      entityKey: key,
      // a million keys do not belong in an audit row: record the counts
      before: { version: current.version },
      after: { version: cohort.version, [mode === 'add' ? 'added' : 'removed']: changed },
    })
    return { cohort, changed }
  })
}
