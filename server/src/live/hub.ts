import { compileSnapshot, type Evaluator, type Snapshot } from '@vane/engine'
import { toEngineCohort, toEngineFlag } from '../storage/engine-model.js'
import type { ChangeRecord, Store, StoreTx } from '../storage/repository.js'
import type { ChangeFeed } from './feed.js'
import { changeToPatch } from './patches.js'

/** Reads one environment's full snapshot from the store. */
export async function loadSnapshot(tx: StoreTx, environment: string): Promise<Snapshot> {
  const env = await tx.getEnvironment(environment)
  if (env === undefined) throw new Error(`unknown environment "${environment}"`)
  const [flags, configs, cohorts] = await Promise.all([
    tx.listFlags(),
    tx.listFlagConfigs(environment),
    tx.listCohorts(),
  ])
  const byFlag = new Map(configs.map((c) => [c.flagKey, c]))
  const snapshot: Snapshot = { environment, version: env.version, flags: {}, cohorts: {} }
  for (const flag of flags) snapshot.flags[flag.key] = toEngineFlag(flag, byFlag.get(flag.key))
  for (const cohort of cohorts)
    snapshot.cohorts[cohort.key] = toEngineCohort(cohort, await tx.getCohortMembers(cohort.key))
  return snapshot
}

/**
 * One compiled evaluator per environment, loaded at start-up and kept current
 * by applying each change as a patch; evaluation never touches the database.
 */
export interface EvaluatorHubOptions {
  /**
   * A rebuild from the store after a gap in the feed failed (the database is down): the environment keeps its
   * evaluator until a later change rebuilds it. Default: ignored.
   */
  onReloadFailed?: (environment: string, error: unknown) => void
}

export class EvaluatorHub {
  private readonly evaluators = new Map<string, Evaluator>()
  private store: Store | undefined

  constructor(private readonly options: EvaluatorHubOptions = {}) {}

  /** Compiles every environment from the store and follows the feed from then on. */
  async load(store: Store, feed: ChangeFeed): Promise<void> {
    this.store = store
    for (const env of await store.listEnvironments()) feed.prime(env.key, (await this.reload(store, env.key)).version)
    feed.subscribe((change) => this.apply(change))
  }

  /**
   * Compiles an environment from the store and installs it, unless what is installed is as new already: a
   * write that committed while this read ran installs its newer evaluator, which must not be overwritten.
   */
  async reload(store: StoreTx, environment: string): Promise<Evaluator> {
    const evaluator = compileSnapshot(await loadSnapshot(store, environment))
    const current = this.evaluators.get(environment)
    if (current !== undefined && current.version >= evaluator.version) return current
    this.evaluators.set(environment, evaluator)
    return evaluator
  }

  get(environment: string): Evaluator | undefined {
    return this.evaluators.get(environment)
  }

  set(environment: string, evaluator: Evaluator): void {
    this.evaluators.set(environment, evaluator)
  }

  environments(): string[] {
    return [...this.evaluators.keys()]
  }

  private apply(change: ChangeRecord): void {
    const current = this.evaluators.get(change.environment)
    // already applied (the writer installs its validated evaluator) or from the past
    if (current !== undefined && change.version <= current.version) return
    if (current === undefined || change.version !== current.version + 1) {
      // a new environment, or a gap in the feed: rebuild from the store rather than guess
      if (this.store !== undefined)
        void this.reload(this.store, change.environment).catch((error: unknown) =>
          this.options.onReloadFailed?.(change.environment, error),
        )
      return
    }
    this.evaluators.set(change.environment, current.apply(changeToPatch(change)))
  }
}
