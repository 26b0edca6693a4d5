import { AsyncLocalStorage } from 'node:async_hooks'
import { withStoreErrors } from './errors.js'
import type { Store, StoreTx } from './repository.js'

const READS = [
  'listEnvironments',
  'getEnvironment',
  'listFlags',
  'getFlag',
  'listFlagConfigs',
  'getFlagConfig',
  'listCohorts',
  'getCohort',
  'getCohortMembers',
  'countCohortMembers',
  'changesSince',
  'oldestChange',
  'listAudit',
  'listApiKeys',
  'getApiKeyByHash',
  'getApiKey',
  'listTriggers',
  'getTriggerByHash',
  'readOutcomes',
] as const satisfies readonly (keyof StoreTx)[]

const WRITES = [
  'lockEnvironments',
  'lockEnvironmentSet',
  'insertEnvironment',
  'bumpEnvironmentVersion',
  'upsertFlag',
  'upsertFlagConfig',
  'upsertCohort',
  'deleteCohort',
  'addCohortMembers',
  'removeCohortMembers',
  'appendChange',
  'appendAudit',
  'insertApiKey',
  'revokeApiKey',
  'insertTrigger',
  'revokeTrigger',
  'recordOutcomes',
  'pruneOutcomes',
] as const satisfies readonly (keyof StoreTx)[]

// a new StoreTx method must be sorted into READS or WRITES, or this line stops compiling
const everyMethodSorted: Exclude<keyof StoreTx, (typeof READS)[number] | (typeof WRITES)[number]> extends never
  ? true
  : false = true
void everyMethodSorted

export interface StoreParts {
  dialect: Store['dialect']
  /** Reads outside a transaction: they see committed data only. */
  reads: StoreTx
  /** Starts a real transaction; called only when none is active in the caller's async context. */
  begin<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>
  ping(): Promise<boolean>
  close(): Promise<void>
}

type Method = (...args: unknown[]) => Promise<unknown>

/**
 * Builds a Store from a dialect's parts. A transaction started (or a Store method called) inside another
 * transaction joins it instead of waiting for it, which would deadlock; writes outside a transaction each
 * run in their own. Constraint errors become StoreErrors.
 */
export function composeStore(parts: StoreParts): Store {
  const reads = withStoreErrors(parts.reads)
  const active = new AsyncLocalStorage<{ tx: StoreTx; open: boolean }>()
  const current = () => {
    const scope = active.getStore()
    // a task spawned inside a transaction may outlive it: then it is on its own again
    return scope?.open ? scope.tx : undefined
  }

  const transaction = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    const joined = current()
    if (joined) return (async () => fn(joined))()
    return parts.begin(async (driverTx) => {
      const tx = withStoreErrors(driverTx)
      const scope = { tx, open: true }
      try {
        return await active.run(scope, () => fn(tx))
      } finally {
        scope.open = false
      }
    })
  }

  const methods: Record<string, Method> = {}
  for (const name of READS) {
    methods[name] = (...args) => {
      const target = current() ?? reads
      return (target[name] as Method).apply(target, args)
    }
  }
  for (const name of WRITES) {
    methods[name] = (...args) => transaction((tx) => (tx[name] as Method).apply(tx, args))
  }
  return {
    ...(methods as unknown as StoreTx),
    dialect: parts.dialect,
    transaction,
    ping: () => parts.ping(),
    close: () => parts.close(),
  }
}
