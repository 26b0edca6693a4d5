/**
 * @internal
 * A complete app over a real SQLite file in a temporary directory, for route
 * tests that call `app.request()` without a server.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Hono } from 'hono'
import { type AppOptions, createApp } from '../app.js'
import { bootstrapAdminKey, createKey, KeyAuthenticator } from '../control/keys.js'
import { Delivery, type DeliveryOptions } from '../delivery/delivery.js'
import { StreamTokens } from '../delivery/tokens.js'
import type { AppEnv } from '../http/env.js'
import { createLocalFeed } from '../live/feed.js'
import { EvaluatorHub } from '../live/hub.js'
import type { AuthFailureLimitOptions } from '../middleware/auth-failures.js'
import type { KeyKind, Store } from '../storage/repository.js'
import { openSqliteStore } from '../storage/sqlite.js'

export const ADMIN_SECRET = 'vane_admin_HbxBpK51hAlz4qE2IT65yhMcH3gMBIbn'

export interface Harness {
  app: Hono<AppEnv>
  store: Store
  hub: EvaluatorHub
  feed: ReturnType<typeof createLocalFeed>
  auth: KeyAuthenticator
  delivery: Delivery
  dir: string
  /** Sends a request with the admin key (or `key`), JSON-encoding `body`. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>
  /** Creates a key of any kind through the API and returns its secret. */
  key(kind: KeyKind, environment?: string, allowedOrigins?: string[]): Promise<string>
  close(): Promise<void>
}

export interface HarnessOptions {
  environments?: string[]
  rateLimit?: { perSecond: number; burst: number }
  evaluationRateLimit?: { perSecond: number; burst: number }
  heartbeatMs?: number
  maxQueuedBytes?: number
  /** Changes kept in memory per environment for resuming streams (Delivery's `recentChanges`). */
  recentChanges?: number
  /** How often keys of open streams are re-checked against the store (Delivery's `keyCheckMs`). */
  keyCheckMs?: number
  /** Delivery's stream caps and client-stream context limit. */
  streamLimits?: DeliveryOptions['limits']
  /** Delivery's `onDropped`: streams closed for a reason other than the client going away or shutdown. */
  onDropped?: DeliveryOptions['onDropped']
  /** Failed authentications allowed per client address (createApp's `authFailures`); unset: not limited. */
  authFailures?: AuthFailureLimitOptions
  /** The server's public address (`VANE_PUBLIC_URL`); unset by default, so the app hands out paths. */
  publicUrl?: string
  /** Opens the store (given the temporary directory); default: a SQLite file in it. Closed with the harness. */
  openStore?: (dir: string) => Promise<Store>
  /** The app's `onRequest` (what logs and metrics see of each finished request). */
  onRequest?: AppOptions['onRequest']
  /** The app's `onUnexpectedError`. */
  onUnexpectedError?: AppOptions['onUnexpectedError']
}

/** Signs the harness's OFREP event-stream tokens. */
export const STREAM_SECRET = 'test-harness-stream-secret'

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'vane-test-'))
  const store = await (options.openStore ?? ((dataDir) => openSqliteStore({ dataDir })))(dir)
  const feed = createLocalFeed({ load: (env, after) => store.changesSince(env, after, 1000) })
  const hub = new EvaluatorHub()
  const auth = new KeyAuthenticator(store)
  const deps = { store, hub, feed, auth }
  await hub.load(store, feed)
  await bootstrapAdminKey(deps, ADMIN_SECRET)
  const delivery = new Delivery({
    ...deps,
    ...(options.heartbeatMs !== undefined && { heartbeatMs: options.heartbeatMs }),
    ...(options.maxQueuedBytes !== undefined && { maxQueuedBytes: options.maxQueuedBytes }),
    ...(options.recentChanges !== undefined && { recentChanges: options.recentChanges }),
    ...(options.keyCheckMs !== undefined && { keyCheckMs: options.keyCheckMs }),
    ...(options.onDropped !== undefined && { onDropped: options.onDropped }),
    ...(options.streamLimits !== undefined && { limits: options.streamLimits }),
  })
  const app = createApp({
    ...deps,
    delivery,
    tokens: new StreamTokens(STREAM_SECRET),
    rateLimit: options.rateLimit ?? { perSecond: 10_000, burst: 10_000 },
    ...(options.evaluationRateLimit !== undefined && { evaluationRateLimit: options.evaluationRateLimit }),
    ...(options.onRequest !== undefined && { onRequest: options.onRequest }),
    ...(options.onUnexpectedError !== undefined && { onUnexpectedError: options.onUnexpectedError }),
    ...(options.publicUrl !== undefined && { publicUrl: options.publicUrl }),
    ...(options.authFailures !== undefined && { authFailures: options.authFailures }),
  })
  const call: Harness['call'] = (method, path, body, headers = {}) =>
    Promise.resolve(
      app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${ADMIN_SECRET}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    )
  for (const env of options.environments ?? ['production', 'staging']) {
    const res = await call('POST', '/admin/v1/environments', { key: env })
    if (res.status !== 201) throw new Error(`creating ${env}: ${res.status} ${await res.text()}`)
  }
  return {
    app,
    store,
    hub,
    feed,
    auth,
    delivery,
    dir,
    call,
    key: async (kind, environment, allowedOrigins) => {
      const input = {
        kind,
        name: `${kind}-${Math.random().toString(36).slice(2, 8)}`,
        ...(environment !== undefined && { environment }),
        ...(allowedOrigins !== undefined && { allowedOrigins }),
      }
      return (await createKey(deps, { name: 'harness' }, input)).secret
    },
    close: async () => {
      delivery.close()
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
