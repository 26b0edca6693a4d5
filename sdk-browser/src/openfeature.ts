/**
 * @module @vane/sdk-browser/openfeature
 * An OpenFeature web provider: synchronous reads from the client's memory,
 * `onContextChange` re-identifies, events name the flags that changed.
 * In its own entry so that apps without OpenFeature don't pay for it.
 *
 * @example
 * import { OpenFeature } from '@openfeature/web-sdk'
 * import { VaneWebProvider } from '@vane/sdk-browser/openfeature'
 * await OpenFeature.setContext({ targetingKey: user.id })
 * await OpenFeature.setProviderAndWait(new VaneWebProvider({ url, clientKey }))
 */
import {
  type ErrorCode,
  type EvaluationContext,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
} from '@openfeature/web-sdk'
import {
  type ClientOptions,
  type Context,
  createClient,
  type EvaluationDetails,
  type VaneBrowserClient,
} from './client.js'

export type VaneWebProviderOptions = Omit<ClientOptions, 'context'> & { readyTimeoutMs?: number }

export class VaneWebProvider implements Provider {
  readonly metadata = { name: 'vane' } as const
  readonly runsOn = 'client' as const
  readonly events = new OpenFeatureEventEmitter()
  client: VaneBrowserClient | undefined

  constructor(private readonly options: VaneWebProviderOptions) {}

  async initialize(context?: EvaluationContext): Promise<void> {
    const client = createClient({ ...this.options, context: (context ?? {}) as Context })
    this.client = client
    client.on('change', (flagsChanged) => this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged }))
    client.on('stale', (error) => this.events.emit(ProviderEvents.Stale, { message: error.message }))
    await client.waitForReady(this.options.readyTimeoutMs)
  }

  async onContextChange(_old: EvaluationContext, next: EvaluationContext): Promise<void> {
    await this.client?.identify(next as Context)
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
