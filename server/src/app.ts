import { Hono } from 'hono'

/** Options for {@link createApp}. */
export interface AppOptions {
  /** Reported by `/healthz`; defaults to the package version. */
  version?: string
}

/**
 * Builds the Vane HTTP app on Web-standard APIs only, so the same app can be
 * served by the Node adapter or a Workers runtime.
 *
 * @example
 * const app = createApp()
 * const res = await app.request('/healthz')
 */
export function createApp(options: AppOptions = {}): Hono {
  const app = new Hono()
  app.get('/healthz', (c) => c.json({ status: 'ok', version: options.version ?? '0.1.0' }))
  return app
}
