/**
 * @module test/support/snapshot
 * Puts an engine `Snapshot` (e.g. a conformance spec file's) into a running Vane server through the admin API
 * only, the way an operator would: environment, cohorts, flag definitions, per-environment targeting, kill
 * switches, archiving.
 *
 * Flag definitions and cohorts are global on a server (only targeting is per environment), so two snapshots
 * that define the same key differently cannot share a server; callers use one server per snapshot.
 *
 * The server assigns versions itself (a flag's version is its definition's version plus its targeting's), so
 * the snapshot's `version` numbers cannot be reproduced; {@link LoadedSnapshot.versions} has what the server
 * reports instead.
 */
import type { Clause, Cohort, Flag, Snapshot } from '@vane/engine'
import type { Vane } from './server.js'

export interface LoadedSnapshot {
  environment: string
  /** Flag key → the flag version the admin API reports (definition version + targeting version), live flags only. */
  versions: Record<string, number>
  /** Archived flags the server archived. */
  archived: string[]
  /**
   * Archived flags the server refused to archive (409 or 422) because a live flag still lists them as prerequisites;
   * they stay live on the server, so cases that depend on them cannot be reproduced.
   */
  archiveRefused: string[]
}

const enc = encodeURIComponent

/** Cohort keys referenced through `inCohort` clauses. */
function cohortRefs(clauses: readonly Clause[] | undefined): string[] {
  return (clauses ?? []).flatMap((c) => (c.op === 'inCohort' ? c.values.map(String) : []))
}

/** Cohorts in an order where every `inCohort` reference is created before the cohort that uses it. */
function cohortOrder(cohorts: Record<string, Cohort>): Cohort[] {
  const done = new Set<string>()
  const out: Cohort[] = []
  const visit = (key: string) => {
    const cohort = cohorts[key]
    if (cohort === undefined || done.has(key)) return
    done.add(key)
    for (const ref of cohortRefs(cohort.clauses)) visit(ref)
    out.push(cohort)
  }
  for (const key of Object.keys(cohorts)) visit(key)
  return out
}

/** Drops `undefined` fields, so bodies carry only what the snapshot states. */
function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
}

/** The definition half of a snapshot flag (`PUT /admin/v1/flags/{key}`). */
export function definitionOf(flag: Flag) {
  return defined({
    type: flag.type,
    variants: flag.variants,
    description: flag.description,
    tags: flag.tags,
    owner: flag.owner,
  })
}

/** The targeting half of a snapshot flag (`PUT /admin/v1/environments/{env}/flags/{key}`). */
export function targetingOf(flag: Flag) {
  return defined({
    enabled: flag.enabled,
    offVariant: flag.offVariant,
    fallthrough: flag.fallthrough,
    rules: flag.rules,
    targets: flag.targets,
    prerequisites: flag.prerequisites,
  })
}

/**
 * Creates `environment` (default: the snapshot's) on `vane` and loads the snapshot into it. Every request must
 * succeed, except archiving a flag that live flags still need, which is recorded in `archiveRefused`.
 */
export async function loadSnapshot(
  vane: Vane,
  snapshot: Snapshot,
  environment = snapshot.environment,
): Promise<LoadedSnapshot> {
  const env = enc(environment)
  await vane.admin('POST', '/admin/v1/environments', { key: environment }, [201])
  for (const cohort of cohortOrder(snapshot.cohorts)) {
    const { key, version: _version, ...body } = cohort
    await vane.admin('PUT', `/admin/v1/cohorts/${enc(key)}`, defined(body), [200, 201])
  }
  const flags = Object.values(snapshot.flags)
  // definitions first: targeting may then name any flag as a prerequisite, in any order
  for (const flag of flags) await vane.admin('PUT', `/admin/v1/flags/${enc(flag.key)}`, definitionOf(flag), [200, 201])
  for (const flag of flags) {
    await vane.admin('PUT', `/admin/v1/environments/${env}/flags/${enc(flag.key)}`, targetingOf(flag), [200])
    if (flag.killed === true)
      await vane.admin('POST', `/admin/v1/environments/${env}/flags/${enc(flag.key)}/kill`, { reason: 'spec' }, [200])
  }
  const archived: string[] = []
  const archiveRefused: string[] = []
  for (const flag of flags.filter((f) => f.archived === true)) {
    const reply = await vane.admin('DELETE', `/admin/v1/flags/${enc(flag.key)}`, undefined, [200, 409, 422])
    if (reply.status === 200) archived.push(flag.key)
    else archiveRefused.push(flag.key)
  }
  const versions: Record<string, number> = {}
  for (const flag of flags) {
    if (archived.includes(flag.key)) continue
    const definition = await vane.admin('GET', `/admin/v1/flags/${enc(flag.key)}`, undefined, [200])
    const targeting = await vane.admin('GET', `/admin/v1/environments/${env}/flags/${enc(flag.key)}`, undefined, [200])
    versions[flag.key] =
      (definition.json as { version: number }).version + (targeting.json as { version: number }).version
  }
  return { environment, versions, archived, archiveRefused }
}
