export { openStore, type StoreEnv } from './open-store.js'
export { openPostgresStore, type PostgresStoreOptions } from './postgres.js'
export type * from './repository.js'
export { openSqliteStore, type SqliteStoreOptions } from './sqlite.js'
