import { afterAll, afterEach, beforeEach, describe } from 'vitest'
import type { CurrentStore } from './contract-fixtures.js'
import { keyContract } from './contract-keys.js'
import { logContract } from './contract-logs.js'
import { cohortMemberContract } from './contract-members.js'
import { outcomeContract } from './contract-outcomes.js'
import { recordContract } from './contract-records.js'
import { transactionContract } from './contract-transactions.js'
import type { Store } from './repository.js'

/**
 * Registers the suite every Store implementation must pass, the way drizzle's `sqlite-common.ts` is run by
 * each driver's test file. `open` must return a new, empty store each time; `cleanup` runs once at the end.
 */
export function repositoryContract(name: string, open: () => Promise<Store>, cleanup: () => Promise<void>): void {
  describe(`${name} store contract`, () => {
    let store: Store | undefined
    beforeEach(async () => {
      store = await open()
    })
    afterEach(async () => {
      await store?.close()
      store = undefined
    })
    afterAll(cleanup)

    const current: CurrentStore = () => {
      if (!store) throw new Error('The store is only open while a test runs.')
      return store
    }
    recordContract(current)
    cohortMemberContract(current, name)
    logContract(current)
    keyContract(current)
    transactionContract(current)
    outcomeContract(current)
  })
}
