/** Options for {@link Backoff}. */
export interface BackoffOptions {
  /** First delay ceiling. Default 1 s. */
  initialMs?: number | undefined
  /** Largest delay. Default 30 s. */
  maxMs?: number | undefined
  /** A connection healthy this long resets the backoff. Default 60 s. */
  resetAfterMs?: number | undefined
  /** A number in [0, 1); injectable so tests never depend on chance. */
  random?: (() => number) | undefined
}

/**
 * Exponential backoff with full jitter: the n-th retry waits a random time in
 * [0, min(max, initial·2ⁿ)). It starts no timers; its owner does.
 */
export class Backoff {
  private _attempt = 0
  private _healthySince: number | undefined
  private readonly _initialMs: number
  private readonly _maxMs: number
  private readonly _resetAfterMs: number
  private readonly _random: () => number

  constructor(options: BackoffOptions = {}) {
    this._initialMs = options.initialMs ?? 1_000
    this._maxMs = options.maxMs ?? 30_000
    this._resetAfterMs = options.resetAfterMs ?? 60_000
    this._random = options.random ?? Math.random
  }

  /** The connection works (from `now`). */
  succeeded(now: number): void {
    this._healthySince = now
  }

  /**
   * The connection delivered data: what failed before was not this server. A
   * stream closed on purpose (a rolling deploy) then retries quickly instead
   * of counting towards the fallback to polling.
   */
  reset(): void {
    this._attempt = 0
  }

  /** The connection failed at `now`; returns how long to wait before the next try. */
  failed(now: number): number {
    if (this._healthySince !== undefined && now - this._healthySince >= this._resetAfterMs) this._attempt = 0
    this._healthySince = undefined
    const ceiling = Math.min(this._maxMs, this._initialMs * 2 ** Math.min(this._attempt, 30))
    this._attempt++
    return Math.floor(this._random() * ceiling)
  }

  /** Consecutive failures since the last reset. */
  get failures(): number {
    return this._attempt
  }
}
