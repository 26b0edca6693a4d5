/**
 * The two directions between a change record (what the change log stores, the feed carries and `Delivery` encodes)
 * and a snapshot patch (what the engine applies and SDK streams send): a server turns its changes into patches, a
 * relay turns its upstream's patches back into changes. Each inverts the other.
 */
import type { SnapshotPatch } from '@vane/engine'
import type { ChangeRecord } from '../storage/repository.js'

/** The patch a change record stands for, as the engine applies it; {@link patchToChange} inverts it. */
export function changeToPatch(change: ChangeRecord): SnapshotPatch {
  const { entity, key, version } = change
  if (change.op === 'delete') return { op: 'delete', kind: entity, key, version }
  if (change.op === 'members') return { op: 'members', kind: 'cohort', key, version, ...(change.payload as object) }
  if (entity === 'flag') return { op: 'put', kind: 'flag', key, version, value: change.payload as never }
  if (change.op === 'define')
    return { op: 'put', kind: 'cohort', key, version, value: change.payload as never, keepMembers: true }
  return { op: 'put', kind: 'cohort', key, version, value: change.payload as never }
}

/** A patch from the upstream stream as the change record the local feed and Delivery carry; {@link changeToPatch} inverts it. */
export function patchToChange(
  environment: string,
  version: number,
  patch: SnapshotPatch,
  createdAt: string,
): ChangeRecord {
  const base = { environment, version, key: patch.key, createdAt }
  if (patch.op === 'delete') return { ...base, entity: patch.kind, op: 'delete', payload: null }
  if (patch.op === 'members') {
    const { op: _op, kind: _kind, key: _key, version: _version, ...delta } = patch
    return { ...base, entity: 'cohort', op: 'members', payload: JSON.parse(JSON.stringify(delta)) }
  }
  if (patch.kind === 'cohort' && patch.keepMembers === true)
    return { ...base, entity: 'cohort', op: 'define', payload: patch.value as never }
  return { ...base, entity: patch.kind, op: 'put', payload: patch.value as never }
}
