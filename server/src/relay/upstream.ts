import { compileSnapshot, type SnapshotPatch } from '@vane/engine'
import { defaultPlatform, type SseEvent, StreamClient } from '@vane/sdk-core'
import type { ChangeFeed, ChangeListener } from '../live/feed.js'
import type { EvaluatorHub } from '../live/hub.js'
import { patchToChange } from '../live/patches.js'

/** The relay's feed: changes arrive already in order (one upstream stream), and a fresh `put` may move it back. */
export interface RelayFeed extends ChangeFeed {
  /** Sets an environment's position, also backwards (the upstream's database was restored). */
  reset(environment: string, version: number): void
}

export function createRelayFeed(): RelayFeed {
  const listeners = new Set<ChangeListener>()
  const last = new Map<string, number>()
  return {
    publish(changes) {
      for (const change of changes) {
        if (change.version <= (last.get(change.environment) ?? 0)) continue
        last.set(change.environment, change.version)
        for (const listener of listeners) listener(change)
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    prime(environment, version) {
      if ((last.get(environment) ?? 0) < version) last.set(environment, version)
    },
    reset(environment, version) {
      last.set(environment, version)
    },
    position: (environment) => last.get(environment) ?? 0,
    // nothing to read: there is no change log; the upstream stream is the only source
    catchUp: async () => {},
  }
}

/** What `/readyz` and the logs report about the upstream. */
export interface MirrorState {
  /** The upstream answered the stream request and the connection is open. */
  connected: boolean
  /** The mirrored environment and its version, once a snapshot arrived. */
  environment: string | undefined
  version: number
  /** Since when `connected` has its current value (epoch ms). */
  since: number
  /** Snapshots (`put`) received: 1 after start-up; more only when the upstream could not resume. */
  puts: number
  patches: number
  connects: number
  lastError: string | undefined
}

export interface MirrorOptions {
  /** The upstream server's base URL, e.g. `https://flags.example.com`. */
  upstream: string
  /** A server key of the environment to mirror. */
  sdkKey: string
  hub: EvaluatorHub
  feed: RelayFeed
  /** The environment's state was replaced by a fresh snapshot: local streams must start over. */
  onReplaced: (environment: string) => void
  onLog?: (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string) => void
  /** No bytes for this long (heartbeats included) and the upstream connection is presumed dead. Default 45 s. */
  idleMs?: number
  /** Reconnect delays (full jitter). Default: up to 0.5 s at first, at most 5 s. */
  retry?: { initialMs: number; maxMs: number }
  fetch?: typeof fetch
}

/**
 * Follows one environment of an upstream Vane server over its `/sdk/v1/stream`: a `put` replaces the evaluator,
 * each `patch`/`delete` is applied to it and published, with the upstream's id as its version, to the local feed
 * that the relay's own streams are served from. A dropped connection reconnects with `Last-Event-ID`, so the
 * upstream sends only what was missed; meanwhile the last good state keeps serving.
 */
export class UpstreamMirror {
  private readonly stream: StreamClient
  /** Set when the local copy can no longer be patched (a patch failed): the next connect asks for a `put`. */
  private needPut = false
  /** The version the current connection resumed from, for the log. */
  private resumeFrom: number | undefined
  private readonly status: MirrorState = {
    connected: false,
    environment: undefined,
    version: 0,
    since: Date.now(),
    puts: 0,
    patches: 0,
    connects: 0,
    lastError: undefined,
  }
  private firstSnapshot: (() => void) | undefined
  /** Resolves once the first snapshot is in. */
  readonly loaded: Promise<void>

  constructor(private readonly options: MirrorOptions) {
    this.stream = new StreamClient({
      platform: { ...defaultPlatform, ...(options.fetch !== undefined && { fetch: options.fetch }) },
      backoff: {
        initialMs: options.retry?.initialMs ?? 500,
        maxMs: options.retry?.maxMs ?? 5_000,
        resetAfterMs: 10_000,
      },
      heartbeatTimeoutMs: options.idleMs ?? 45_000,
      silenceMessage: 'no heartbeat from the upstream',
      // a relay outlives a refused key (it may be restored upstream): it keeps retrying and serving the last snapshot
      isFatal: () => false,
      request: () => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${options.sdkKey}`,
          accept: 'text/event-stream',
        }
        this.resumeFrom = this.status.environment !== undefined && !this.needPut ? this.status.version : undefined
        if (this.resumeFrom !== undefined) headers['last-event-id'] = String(this.resumeFrom)
        return { url: new URL('/sdk/v1/stream', options.upstream).toString(), init: { headers } }
      },
      onOpen: () => {
        this.status.connects++
        this.setConnected(true)
        this.log('info', { resumeFrom: this.resumeFrom }, 'relay: connected to the upstream')
      },
      onEvent: (event) => this.onEvent(event),
      onInterrupted: (error) => {
        this.setConnected(false)
        this.status.lastError = error.message
        this.log('warn', { err: error.message }, 'relay: upstream stream lost; serving the last snapshot')
      },
      onFatal: () => {},
    })
    this.loaded = new Promise((resolve) => {
      this.firstSnapshot = resolve
    })
  }

  state(): MirrorState {
    return { ...this.status }
  }

  start(): void {
    this.stream.start()
  }

  async stop(): Promise<void> {
    this.stream.stop()
    this.setConnected(false)
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void {
    this.options.onLog?.(level, fields, message)
  }

  private setConnected(connected: boolean): void {
    if (this.status.connected === connected) return
    this.status.connected = connected
    this.status.since = Date.now()
  }

  private onEvent(event: SseEvent): void {
    if (event.id === undefined || event.id === '') {
      this.onIdless(event)
      return
    }
    const id = Number(event.id)
    try {
      if (event.event === 'put') {
        this.onPut(id, event.data)
        return
      }
      if (event.event !== 'patch' && event.event !== 'delete') return
      const environment = this.status.environment
      if (environment === undefined) throw new Error(`${event.event} ${id} before any snapshot`)
      const position = this.options.feed.position(environment)
      if (id <= position) return
      if (id !== position + 1) throw new Error(`${event.event} ${id} after ${position}: a gap; resuming`)
      const current = this.options.hub.get(environment)
      if (current === undefined) throw new Error(`environment ${environment} is not loaded`)
      const patch = { ...(JSON.parse(event.data) as SnapshotPatch), version: id }
      let next: ReturnType<typeof current.apply>
      try {
        next = current.apply(patch)
      } catch (error) {
        this.needPut = true
        throw error
      }
      // the evaluator first: client streams re-evaluate against it when the change reaches them
      this.options.hub.set(environment, next)
      this.status.version = id
      this.status.patches++
      this.options.feed.publish([patchToChange(environment, id, patch, new Date().toISOString())])
    } catch (error) {
      this.log('error', { err: error instanceof Error ? error.message : String(error), id }, 'relay: bad event')
      // reconnect, resuming from the last version applied (or with a fresh `put` when patching failed)
      this.stream.interrupt(error instanceof Error ? error : new Error(String(error)))
    }
  }

  /**
   * Events without an id: a kill sent ahead of a backlog (the same event follows in order, and is applied then), a
   * cohort a change is about to reference (applied now, keeping the version: the change that needs it follows), or a
   * cohort no longer referenced (ignored: the relay's own streams drop it from what they send).
   */
  private onIdless(event: SseEvent): void {
    const environment = this.status.environment
    if (event.event !== 'patch' || environment === undefined) return
    const current = this.options.hub.get(environment)
    try {
      const patch = JSON.parse(event.data) as SnapshotPatch
      if (current === undefined || patch.op !== 'put' || patch.kind !== 'cohort') return
      this.options.hub.set(environment, current.apply({ ...patch, version: current.version }))
    } catch (error) {
      // the change that needs it fails too, and asks for a put
      this.log('error', { err: error instanceof Error ? error.message : String(error) }, 'relay: bad event')
    }
  }

  private onPut(id: number, data: string): void {
    const evaluator = compileSnapshot(JSON.parse(data))
    const environment = evaluator.environment
    const previous = this.status.environment
    if (previous !== undefined && previous !== environment)
      this.log('warn', { from: previous, to: environment }, 'relay: the SDK key now belongs to another environment')
    const replacing = this.options.hub.get(environment) !== undefined
    this.options.hub.set(environment, evaluator)
    this.options.feed.reset(environment, evaluator.version)
    this.status.environment = environment
    this.status.version = evaluator.version
    this.status.puts++
    this.needPut = false
    if (evaluator.version !== id)
      this.log('warn', { id, version: evaluator.version }, 'relay: put id and version differ')
    this.log(
      'info',
      { environment, version: evaluator.version, puts: this.status.puts },
      'relay: snapshot from the upstream',
    )
    if (replacing) this.options.onReplaced(environment)
    this.firstSnapshot?.()
    this.firstSnapshot = undefined
  }
}
