/**
 * @module test/integration/write-log
 * The consistency check of one environment's write log (change log against audit log) that the crash and
 * concurrency suites end with.
 */
import type { AuditRow, ChangeRow, DatabaseView } from './databases.js'

/**
 * Checks the write log of one environment of a single-environment deployment and returns the changes paired
 * with their audit entries. Throws (with what is wrong) unless: the versions are exactly 1..N, the
 * environment's version is N, and the audit entries that stand for changes (flags and cohorts) are exactly
 * one per change, in the same order, for the same entity, written by the same transaction (same timestamp).
 */
export async function checkWriteLog(
  db: DatabaseView,
  environment: string,
): Promise<{ changes: ChangeRow[]; pairs: [ChangeRow, AuditRow][] }> {
  const changes = await db.changes(environment)
  const problems: string[] = []
  const versions = changes.map((c) => c.version)
  const expected = versions.map((_, i) => i + 1)
  if (JSON.stringify(versions) !== JSON.stringify(expected)) {
    const missing = expected.filter((v) => !versions.includes(v))
    const duplicated = versions.filter((v, i) => versions.indexOf(v) !== i)
    problems.push(
      `change_log versions of ${environment} are not 1..${versions.length}: missing ${missing.join(',') || '-'}, duplicated ${duplicated.join(',') || '-'}, first ${versions.slice(0, 10).join(',')}`,
    )
  }
  const envVersion = await db.environmentVersion(environment)
  if (envVersion !== changes.length)
    problems.push(`environment ${environment} is at version ${envVersion} but has ${changes.length} changes`)

  const audits = (await db.audits()).filter(
    (a) =>
      (a.entityType === 'flag' || a.entityType === 'cohort') &&
      (a.environment === null || a.environment === environment),
  )
  if (audits.length !== changes.length)
    problems.push(`${changes.length} changes but ${audits.length} flag/cohort audit entries`)
  const pairs: [ChangeRow, AuditRow][] = []
  for (let i = 0; i < Math.min(changes.length, audits.length); i++) {
    const change = changes[i]!
    const audit = audits[i]!
    pairs.push([change, audit])
    if (change.entity !== audit.entityType || change.key !== audit.entityKey || change.createdAt !== audit.at) {
      problems.push(
        `change ${change.version} (${change.entity} ${change.key} at ${change.createdAt}) does not match audit #${audit.id} (${audit.action} ${audit.entityType} ${audit.entityKey} at ${audit.at})`,
      )
      if (problems.length > 20) break
    }
  }
  if (problems.length > 0) throw new Error(`write log of ${environment} is inconsistent:\n${problems.join('\n')}`)
  return { changes, pairs }
}
