import { serveNode } from '../adapters/node/serve.js'
import type { ServerConfig } from '../config.js'
import { type RunningRelay, startRelay } from '../relay/relay.js'
import { createHarness, type Harness } from './harness.js'

/** A relay mirroring a harness served on loopback, for relay tests. */
export interface RelayBehind {
  /** The upstream's harness. */
  h: Harness
  relay: RunningRelay
  /** The server key the relay mirrors with. */
  serverKey: string
  close(): Promise<void>
}

/** Serves a fresh harness on loopback and starts a relay in front of it, mirrored and loaded. */
export async function relayBehind(extra: Partial<ServerConfig> = {}): Promise<RelayBehind> {
  const h = await createHarness({ environments: ['production'] })
  const served = await serveNode(h.app, { port: 0, hostname: '127.0.0.1' })
  const serverKey = await h.key('server', 'production')
  const relay = await startRelay({
    port: 0,
    hostname: '127.0.0.1',
    upstream: `http://127.0.0.1:${served.port}`,
    sdkKey: serverKey,
    logLevel: 'silent',
    ...extra,
  })
  await relay.mirror.loaded
  return {
    h,
    relay,
    serverKey,
    close: async () => {
      await relay.close()
      await new Promise<void>((resolve) => served.server.close(() => resolve()))
      await h.close()
    },
  }
}
