import type { FlagConfigRecord, KillRecord } from '../storage/repository.js'
import { type Actor, type ControlDeps, type WriteBatch, write } from './batch.js'
import { changeTargeting, requireEnvironment } from './flags.js'

/**
 * Which active kills an unkill lifts: the direct one, one tag's, one trigger's, or every one (`all`). A kill is
 * lifted only by the unkill that matches it, so that lifting one incident's kill never revives a flag that
 * another incident killed.
 */
export type KillMatch =
  | { source: 'direct' }
  | { source: 'tag'; tag: string }
  | { source: 'trigger'; trigger: string }
  | { source: 'all' }

function matches(kill: KillRecord, match: KillMatch): boolean {
  switch (match.source) {
    case 'all':
      return true
    case 'direct':
      return kill.source === 'direct'
    case 'tag':
      return kill.source === 'tag' && kill.tag === match.tag
    case 'trigger':
      return kill.source === 'trigger' && kill.trigger === match.trigger
  }
}

/** The match that lifts exactly this kill. */
function identity(kill: KillRecord): KillMatch {
  if (kill.source === 'tag') return { source: 'tag', tag: kill.tag ?? '' }
  if (kill.source === 'trigger') return { source: 'trigger', trigger: kill.trigger ?? '' }
  return { source: 'direct' }
}

/** `killed` and `killReason` follow from the kill set: what the engine and older clients read. */
function withKills(config: FlagConfigRecord, kills: KillRecord[]): FlagConfigRecord {
  return { ...config, killed: kills.length > 0, killReason: kills.at(-1)?.reason ?? null, kills }
}

/** A new kill, by whoever runs the batch, now. */
export function newKill(batch: WriteBatch, actor: Actor, kill: Omit<KillRecord, 'actor' | 'at'>): KillRecord {
  return { ...kill, actor: actor.name, at: batch.now }
}

/**
 * Adds a kill to one flag, audited as `flag.kill`. Nothing is written when the same kill is already active: its
 * first reason stays. A kill added to a flag that another kill keeps off is still a change (the set grew).
 */
export async function addKill(
  batch: WriteBatch,
  environment: string,
  key: string,
  kill: KillRecord,
): Promise<{ config: FlagConfigRecord; changed: boolean }> {
  let changed = false
  const same = identity(kill)
  const config = await changeTargeting(batch, environment, key, undefined, 'flag.kill', kill.reason, (current) => {
    if (current.kills.some((k) => matches(k, same))) return undefined
    changed = true
    return withKills(current, [...current.kills, kill])
  })
  return { config, changed }
}

/** Lifts the matching kills of one flag, audited as `flag.unkill`; the flag stays killed while others remain. */
export async function liftKills(
  batch: WriteBatch,
  environment: string,
  key: string,
  match: KillMatch,
  reason: string,
): Promise<{ config: FlagConfigRecord; changed: boolean }> {
  let changed = false
  const config = await changeTargeting(batch, environment, key, undefined, 'flag.unkill', reason, (current) => {
    const remaining = current.kills.filter((k) => !matches(k, match))
    if (remaining.length === current.kills.length) return undefined
    changed = true
    return withKills(current, remaining)
  })
  return { config, changed }
}

/** What an unkill of many flags did. */
export interface LiftResult {
  /** Flags that lost the kill. */
  changed: string[]
  /** Of those, the flags that other kills keep off. */
  stillKilled: string[]
}

/** Adds `kill` to every live flag carrying `tag`, in the batch's transaction; returns the flags that gained it. */
export async function killTagged(
  batch: WriteBatch,
  environment: string,
  tag: string,
  kill: KillRecord,
): Promise<string[]> {
  await requireEnvironment(batch.tx, environment)
  const changed: string[] = []
  for (const flag of await batch.tx.listFlags()) {
    if (!flag.tags.includes(tag)) continue
    if ((await addKill(batch, environment, flag.key, kill)).changed) changed.push(flag.key)
  }
  return changed
}

/**
 * Lifts the matching kills from every live flag of the environment that has one, whether or not it still
 * carries the tag it was killed by: a tag removed during an incident must not leave its flag killed for good.
 */
export async function liftEverywhere(
  batch: WriteBatch,
  environment: string,
  match: KillMatch,
  reason: string,
): Promise<LiftResult> {
  await requireEnvironment(batch.tx, environment)
  const live = new Set((await batch.tx.listFlags()).map((f) => f.key))
  const changed: string[] = []
  const stillKilled: string[] = []
  for (const config of await batch.tx.listFlagConfigs(environment)) {
    if (!live.has(config.flagKey) || !config.kills.some((k) => matches(k, match))) continue
    const after = await liftKills(batch, environment, config.flagKey, match, reason)
    changed.push(config.flagKey)
    if (after.config.killed) stillKilled.push(config.flagKey)
  }
  return { changed, stillKilled }
}

/** Kills one flag directly. Idempotent: a second direct kill changes nothing and keeps the first reason. */
export function killFlag(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  key: string,
  reason: string,
): Promise<FlagConfigRecord> {
  return write(deps, actor, [environment], async (batch) => {
    const kill = newKill(batch, actor, { source: 'direct', reason })
    return (await addKill(batch, environment, key, kill)).config
  })
}

/**
 * Lifts the direct kill of one flag; kills by tag or trigger stay, and the answer shows them (`kills`).
 * With `all`, lifts every kill. Idempotent.
 */
export function unkillFlag(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  key: string,
  reason: string,
  options: { all?: boolean | undefined } = {},
): Promise<FlagConfigRecord> {
  const match: KillMatch = options.all === true ? { source: 'all' } : { source: 'direct' }
  return write(
    deps,
    actor,
    [environment],
    async (batch) => (await liftKills(batch, environment, key, match, reason)).config,
  )
}

/** Kills every live flag carrying `tag`, atomically; each gains a kill of that tag. Returns the flags that did. */
export function killTag(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  tag: string,
  reason: string,
): Promise<string[]> {
  return write(deps, actor, [environment], (batch) =>
    killTagged(batch, environment, tag, newKill(batch, actor, { source: 'tag', tag, reason })),
  )
}

/** Lifts the kills of `tag`, atomically; a flag also killed for another reason stays killed. */
export function unkillTag(
  deps: ControlDeps,
  actor: Actor,
  environment: string,
  tag: string,
  reason: string,
): Promise<LiftResult> {
  return write(deps, actor, [environment], (batch) =>
    liftEverywhere(batch, environment, { source: 'tag', tag }, reason),
  )
}
