import { describe, expect, it } from 'vitest'
import { ConfigError, configFromEnv } from './config.js'

const GOOD_KEY = 'Wq3v9X/zK2LmP0aTb7cYd4eRf8gUh1iJ+kNoS5t6QA='

/** The lines of the ConfigError that `env` raises, or a failure if it raises none. */
function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    configFromEnv(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  throw new Error(`no ConfigError for ${JSON.stringify(env)}`)
}

describe('configFromEnv', () => {
  it('gives the documented defaults for an empty environment, and treats empty values as unset', () => {
    const config = configFromEnv({ VANE_RATE_LIMIT: '', PORT: ' ' })
    expect(config).toEqual({
      port: 8787,
      hostname: '127.0.0.1',
      rateLimit: { perSecond: 100, burst: 200 },
      evaluationRateLimit: { perSecond: 2_000, burst: 4_000 },
    })
  })

  it('reads every variable', () => {
    const config = configFromEnv({
      PORT: '0',
      HOST: '::',
      DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/test',
      VANE_PG_SCHEMA: 'vane_a',
      VANE_DATA_DIR: '/var/lib/vane',
      VANE_BOOTSTRAP_ADMIN_KEY: GOOD_KEY,
      LOG_LEVEL: 'warn',
      VANE_RATE_LIMIT: '2.5',
      VANE_EVALUATION_RATE_LIMIT: '500',
      VANE_STREAM_SECRET: 'x'.repeat(16) + 'y'.repeat(16),
      VANE_PUBLIC_URL: 'https://flags.example.com/vane',
      VANE_HEARTBEAT_MS: '1000',
      VANE_UPSTREAM: 'http://127.0.0.1:9000',
      VANE_SDK_KEY: 'vane_server_abc',
      VANE_OUTCOME_RETENTION_DAYS: '0',
    })
    expect(config).toEqual({
      port: 0,
      hostname: '::',
      databaseUrl: 'postgres://u:p@127.0.0.1:5432/test',
      databaseSchema: 'vane_a',
      dataDir: '/var/lib/vane',
      bootstrapAdminKey: GOOD_KEY,
      logLevel: 'warn',
      rateLimit: { perSecond: 2.5, burst: 5 },
      evaluationRateLimit: { perSecond: 500, burst: 1_000 },
      streamSecret: 'x'.repeat(16) + 'y'.repeat(16),
      publicUrl: 'https://flags.example.com/vane',
      heartbeatMs: 1000,
      upstream: 'http://127.0.0.1:9000',
      sdkKey: 'vane_server_abc',
      outcomeRetentionDays: 0,
    })
  })

  it.each([
    ['VANE_RATE_LIMIT', 'abc'],
    ['VANE_RATE_LIMIT', '0'],
    ['VANE_RATE_LIMIT', '-5'],
    ['VANE_RATE_LIMIT', 'Infinity'],
    ['VANE_EVALUATION_RATE_LIMIT', '0'],
    ['PORT', '80a'],
    ['PORT', '70000'],
    ['HOST', 'http://0.0.0.0'],
    ['VANE_PG_SCHEMA', 'Vane-Prod'],
    ['LOG_LEVEL', 'verbose'],
    ['VANE_PUBLIC_URL', 'flags.example.com'],
    ['VANE_PUBLIC_URL', 'ftp://flags.example.com'],
    ['VANE_PUBLIC_URL', 'https://flags.example.com/?a=1'],
    ['VANE_HEARTBEAT_MS', '15s'],
    ['VANE_HEARTBEAT_MS', '0'],
    ['VANE_UPSTREAM', '127.0.0.1:8787'],
    ['VANE_OUTCOME_RETENTION_DAYS', 'thirty'],
    ['VANE_OUTCOME_RETENTION_DAYS', '0.5'],
  ])('refuses %s=%s, naming the variable, the value and what it accepts', (name, value) => {
    const [line, ...rest] = problems({ [name]: value })
    expect(rest).toEqual([])
    expect(line).toMatch(
      new RegExp(`^${name} is ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, but it must be `),
    )
  })

  it('never echoes a secret back', () => {
    const lines = problems({
      VANE_STREAM_SECRET: 'short-secret',
      DATABASE_URL: 'mysql://user:hunter2@db/vane',
    })
    expect(lines).toHaveLength(2)
    expect(lines.join('\n')).not.toMatch(/short-secret|hunter2/)
    expect(lines.join('\n')).toMatch(/VANE_STREAM_SECRET is a value of 12 characters \(not shown\)/)
  })

  it('refuses a weak bootstrap key with the advice of checkBootstrapKey, without showing it', () => {
    const [line] = problems({ VANE_BOOTSTRAP_ADMIN_KEY: 'abc' })
    expect(line).toMatch(/^VANE_BOOTSTRAP_ADMIN_KEY is too weak.*openssl rand -base64 32/)
    expect(line).not.toMatch(/"abc"/)
  })

  it('lists every bad variable at once', () => {
    const lines = problems({ PORT: 'x', VANE_RATE_LIMIT: '0', LOG_LEVEL: 'loud', HOST: '127.0.0.1' })
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['PORT', 'LOG_LEVEL', 'VANE_RATE_LIMIT'])
  })
})
