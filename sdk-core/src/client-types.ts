/** What a getter's `…Details` variant returns, in both SDKs (OpenFeature's evaluation details). */
export interface EvaluationDetails<T> {
  flagKey: string
  value: T
  variant?: string | undefined
  reason: string
  errorCode?: string | undefined
  errorMessage?: string | undefined
  ruleId?: string | undefined
  flagVersion?: number | undefined
}

/** What a client emits, in both SDKs. */
export interface ClientEvents extends Record<string, unknown[]> {
  /** Flag values are loaded (from the server, a bootstrap or a local copy), and again after recovering from `stale`. */
  ready: []
  /** Flags changed; their keys. */
  change: [flagKeys: string[]]
  /** The connection to the server was lost; values keep coming from the last ones received. */
  stale: [error: Error]
  error: [error: Error]
}
