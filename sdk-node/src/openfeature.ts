/**
 * @module @vane/sdk-node/openfeature
 * An OpenFeature server provider backed by a {@link VaneClient}: local evaluation,
 * provider events (READY, STALE, ERROR, CONFIGURATION_CHANGED with changed keys).
 *
 * @example
 * import { OpenFeature } from '@openfeature/server-sdk'
 * import { VaneProvider } from '@vane/sdk-node/openfeature'
 * await OpenFeature.setProviderAndWait(new VaneProvider({ url, sdkKey }))
 * const enabled = await OpenFeature.getClient().getBooleanValue('new-checkout', false, { targetingKey: 'user-1' })
 */
import {
  type EvaluationContext,
  type JsonValue,
  type ErrorCode as OpenFeatureErrorCode,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
} from '@openfeature/server-sdk'
import { type ClientOptions, createClient, type VaneClient } from './client.js'

export interface VaneProviderOptions extends ClientOptions {
  /** How long `initialize` waits for the first ruleset. Default 10 s. */
  readyTimeoutMs?: number
}

export class VaneProvider implements Provider {
  readonly metadata = { name: 'vane' } as const
  readonly runsOn = 'server' as const
  readonly events = new OpenFeatureEventEmitter()
  readonly client: VaneClient
  private readonly readyTimeoutMs: number

  /** Takes client options, or an existing client to share. */
  constructor(options: VaneProviderOptions | VaneClient) {
    this.client = 'getBoolean' in options ? options : createClient(options)
    this.readyTimeoutMs = 'getBoolean' in options ? 10_000 : (options.readyTimeoutMs ?? 10_000)
    this.client.on('change', (flagsChanged) => this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged }))
    this.client.on('stale', (error) => this.events.emit(ProviderEvents.Stale, { message: error.message }))
    this.client.on('error', (error) => {
      if (this.client.status === 'failed') this.events.emit(ProviderEvents.Error, { message: error.message })
    })
  }

  async initialize(): Promise<void> {
    await this.client.waitForReady(this.readyTimeoutMs)
    // from now on, recovering from STALE is READY again
    this.client.on('ready', () => this.events.emit(ProviderEvents.Ready))
  }

  async onClose(): Promise<void> {
    await this.client.close()
  }

  resolveBooleanEvaluation(key: string, defaultValue: boolean, context: EvaluationContext) {
    return Promise.resolve(this.resolve(key, defaultValue, context))
  }
  resolveStringEvaluation(key: string, defaultValue: string, context: EvaluationContext) {
    return Promise.resolve(this.resolve(key, defaultValue, context))
  }
  resolveNumberEvaluation(key: string, defaultValue: number, context: EvaluationContext) {
    return Promise.resolve(this.resolve(key, defaultValue, context))
  }
  resolveObjectEvaluation<T extends JsonValue>(key: string, defaultValue: T, context: EvaluationContext) {
    return Promise.resolve(this.resolve(key, defaultValue, context))
  }

  private resolve<T>(key: string, defaultValue: T, context: EvaluationContext): ResolutionDetails<T> {
    const r = this.client.evaluate(key, defaultValue as never, context)
    const info = this.client.snapshotInfo
    const flagMetadata: Record<string, string | number | boolean> = {}
    if (info !== undefined) flagMetadata.flagSetId = info.environment
    if (r.flagVersion !== undefined) flagMetadata.version = r.flagVersion
    if (r.ruleId !== undefined) flagMetadata.ruleId = r.ruleId
    if (r.killed) flagMetadata.killed = true
    return {
      value: r.value as T,
      reason: r.reason,
      flagMetadata,
      ...(r.variant !== undefined && { variant: r.variant }),
      ...(r.errorCode !== undefined && { errorCode: r.errorCode as OpenFeatureErrorCode }),
      ...(r.errorMessage !== undefined && { errorMessage: r.errorMessage }),
    }
  }
}
