import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { environment } from './contract-fixtures.js'
import { openSqliteStore } from './sqlite.js'

const parent = mkdtempSync(join(tmpdir(), 'vane-files-'))
afterAll(() => rmSync(parent, { recursive: true, force: true }))

const mode = (path: string) => statSync(path).mode & 0o777

it('creates the data directory (0700) and the database with its -wal and -shm files (0600) private to the owner', async () => {
  const dataDir = join(parent, 'nested', 'data')
  const store = await openSqliteStore({ dataDir })
  try {
    await store.transaction((tx) => tx.insertEnvironment(environment('production')))
    expect(mode(join(parent, 'nested')).toString(8)).toBe('700')
    expect(mode(dataDir).toString(8)).toBe('700')
    for (const file of ['vane.db', 'vane.db-wal', 'vane.db-shm'])
      expect(mode(join(dataDir, file)).toString(8), file).toBe('600')
  } finally {
    await store.close()
  }
})
