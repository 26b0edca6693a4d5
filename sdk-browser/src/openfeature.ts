/**
 * @module @vane/sdk-browser/openfeature
 * An OpenFeature web provider: synchronous reads from the client's memory,
 * `onContextChange` re-identifies, events name the flags that changed. A
 * failing stream makes the provider STALE until fresh values arrive (then
 * READY again); a refused key (401/403) makes it FATAL.
 * In its own entry so that apps without OpenFeature don't pay for it.
 *
 * @example
 * import { OpenFeature } from '@openfeature/web-sdk'
 * import { VaneWebProvider } from '@vane/sdk-browser/openfeature'
 * await OpenFeature.setContext({ targetingKey: user.id })
 * await OpenFeature.setProviderAndWait(new VaneWebProvider({ url, clientKey }))
 */
import {
  ErrorCode,
  type EvaluationContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  ProviderFatalError,
  type ResolutionDetails,
} from '@openfeature/web-sdk'
import type { EvaluationDetails } from '@vane/sdk-core'
import { type ClientOptions, type Context, createClient, type VaneBrowserClient } from './client.js'

export type VaneWebProviderOptions = Omit<ClientOptions, 'context'> & { readyTimeoutMs?: number }

export class VaneWebProvider implements Provider {
  readonly metadata = { name: 'vane' } as const
  readonly runsOn = 'client' as const
  readonly events = new OpenFeatureEventEmitter()
  client: VaneBrowserClient | undefined
  /** Rejects once the key is refused: initialising or reconciling then fails at once instead of waiting. */
  private refused: Promise<never> | undefined
  /** The targetingKey that `options.hash` (secure mode) was computed for. */
  private signedKey: string | undefined

  constructor(private readonly options: VaneWebProviderOptions) {}

  async initialize(context?: EvaluationContext): Promise<void> {
    const client = createClient({ ...this.options, context: (context ?? {}) as Context })
    this.client = client
    this.signedKey = context?.targetingKey
    let stale = false
    let initialized = false
    // the first values are the provider becoming READY, not a configuration change
    client.on('change', (flagsChanged) => {
      if (initialized) this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged })
    })
    client.on('stale', (error) => {
      stale = true
      this.events.emit(ProviderEvents.Stale, { message: error.message })
    })
    client.on('ready', () => {
      if (!stale) return
      stale = false
      this.events.emit(ProviderEvents.Ready)
    })
    this.refused = new Promise<never>((_, reject) =>
      client.on('error', (error) => {
        const status = (error as { status?: number }).status
        if (status !== 401 && status !== 403) return
        reject(new ProviderFatalError(error.message))
        this.events.emit(ProviderEvents.Error, { message: error.message, errorCode: ErrorCode.PROVIDER_FATAL })
      }),
    )
    this.refused.catch(() => {}) // observed through initialize or onContextChange, or through the Error event
    await Promise.race([client.waitForReady(this.options.readyTimeoutMs), this.refused])
    initialized = true
  }

  async onContextChange(_old: EvaluationContext, next: EvaluationContext): Promise<void> {
    // secure mode: the hash signs one targetingKey, so it goes along only while that stays the same
    const hash = next.targetingKey === this.signedKey ? this.options.hash : undefined
    if (this.client !== undefined) await Promise.race([this.client.identify(next as Context, hash), this.refused])
  }

  async onClose(): Promise<void> {
    this.client?.close()
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean): ResolutionDetails<boolean> {
    return this.resolve(key, defaultValue)
  }
  resolveStringEvaluation(key: string, defaultValue: string): ResolutionDetails<string> {
    return this.resolve(key, defaultValue)
  }
  resolveNumberEvaluation(key: string, defaultValue: number): ResolutionDetails<number> {
    return this.resolve(key, defaultValue)
  }
  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T): ResolutionDetails<T> {
    return this.resolve(key, defaultValue)
  }

  private resolve<T>(key: string, defaultValue: T): ResolutionDetails<T> {
    const d: EvaluationDetails<T> = this.client?.details(key, defaultValue) ?? {
      flagKey: key,
      value: defaultValue,
      reason: 'ERROR',
      errorCode: 'PROVIDER_NOT_READY',
    }
    return {
      value: d.value,
      reason: d.reason,
      ...(d.variant !== undefined && { variant: d.variant }),
      ...(d.errorCode !== undefined && { errorCode: d.errorCode as ErrorCode }),
      ...(d.flagVersion !== undefined && { flagMetadata: { version: d.flagVersion } }),
    }
  }
}
