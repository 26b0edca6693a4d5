import type {
  ApiKeyRecord,
  AuditRecord,
  ChangeRecord,
  CohortRecord,
  EnvironmentRecord,
  FlagConfigRecord,
  FlagRecord,
  Store,
  TriggerRecord,
} from './repository.js'

/** The store under test, fresh (empty, migrated) for every test. */
export type CurrentStore = () => Store

export const DUPLICATE = { name: 'StoreError', code: 'DUPLICATE_KEY' }
export const MISSING = { name: 'StoreError', code: 'MISSING_REFERENCE' }

// Fixed, millisecond-precise timestamps: a round trip must give back exactly the same text.
export const T1 = '2025-01-02T03:04:05.678Z'
export const T2 = '2025-02-03T04:05:06.789Z'
export const T3 = '2025-03-04T05:06:07.890Z'

export const environment = (key: string, over: Partial<EnvironmentRecord> = {}): EnvironmentRecord => ({
  key,
  name: key.toUpperCase(),
  version: 0,
  createdAt: T1,
  ...over,
})

export const flag = (key: string, over: Partial<FlagRecord> = {}): FlagRecord => ({
  key,
  type: 'object',
  // keys deliberately out of alphabetical order: the order of variants decides bucketing
  variants: { zeta: { nested: [1, 'two', null, true] }, alpha: { price: 9.99 }, 'émoji-✓': {} },
  description: null,
  tags: ['checkout', 'team-a'],
  owner: null,
  archived: false,
  version: 1,
  createdAt: T1,
  updatedAt: T1,
  ...over,
})

export const flagConfig = (
  environment: string,
  flagKey: string,
  over: Partial<FlagConfigRecord> = {},
): FlagConfigRecord => ({
  environment,
  flagKey,
  enabled: true,
  killed: false,
  killReason: null,
  kills: [],
  offVariant: 'alpha',
  fallthrough: { rollout: { weights: { zeta: 5000, alpha: 95000 }, bucketBy: 'org.id' } },
  rules: [
    { id: 'r1', enabled: false, cohorts: ['beta'], clauses: [], serve: { variant: 'zeta' } },
    { id: 'r2', clauses: [{ attribute: 'email', op: 'endsWith', values: ['@x.io'] }], serve: { variant: 'alpha' } },
  ],
  targets: { zeta: ['u1', 'u2'], alpha: [] },
  prerequisites: [{ flag: 'other', variants: ['on'] }],
  version: 1,
  updatedAt: T1,
  ...over,
})

export const cohort = (key: string, over: Partial<CohortRecord> = {}): CohortRecord => ({
  key,
  description: 'beta testers',
  clauses: [{ attribute: 'plan', op: 'in', values: ['pro', 'team'], negate: true }],
  rollout: null,
  version: 1,
  createdAt: T1,
  updatedAt: T1,
  ...over,
})

export const change = (environment: string, version: number, over: Partial<ChangeRecord> = {}): ChangeRecord => ({
  environment,
  version,
  entity: 'flag',
  key: 'checkout',
  op: 'put',
  payload: { key: 'checkout', version },
  createdAt: T1,
  ...over,
})

export const audit = (over: Partial<Omit<AuditRecord, 'id'>> = {}): Omit<AuditRecord, 'id'> => ({
  at: T1,
  actor: 'ci-key',
  action: 'flag.update',
  entityType: 'flag',
  entityKey: 'checkout',
  environment: 'production',
  before: { enabled: false },
  after: { enabled: true },
  reason: 'launch',
  ...over,
})

export const apiKey = (id: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord => ({
  id,
  name: `key ${id}`,
  kind: 'client',
  environment: 'production',
  hash: `hash-${id}`,
  prefix: `vc_${id}`,
  allowedOrigins: ['https://app.example.com'],
  secureModeSecret: null,
  createdAt: T1,
  revokedAt: null,
  ...over,
})

export const trigger = (id: string, over: Partial<TriggerRecord> = {}): TriggerRecord => ({
  id,
  environment: 'production',
  flagKey: 'checkout',
  tag: null,
  name: `trigger ${id}`,
  hash: `trigger-hash-${id}`,
  prefix: `vt_${id}`,
  createdAt: T1,
  revokedAt: null,
  ...over,
})
