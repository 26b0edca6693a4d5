import { SpanStatusCode, trace } from '@opentelemetry/api'
import type { JsonValue } from '@vane/engine'
import { compileSnapshot, type Evaluator, type SliceOptions, type SnapshotValidationError } from '@vane/engine'
import { VaneError } from '../http/errors.js'
import type { ChangeFeed } from '../live/feed.js'
import { type EvaluatorHub, loadSnapshot } from '../live/hub.js'
import { changeToPatch } from '../live/patches.js'
import { yieldToEventLoop } from '../storage/query-helpers.js'
import type { AuditRecord, ChangeEntity, ChangeOp, ChangeRecord, Store, StoreTx } from '../storage/repository.js'

const tracer = trace.getTracer('@vane/server')

/** Member lists of a million keys are built in slices, so other requests are served meanwhile. */
const SLICES: SliceOptions = { pause: yieldToEventLoop, now: () => performance.now() }

/** Who is acting: the name of the API key or trigger, as the audit log shows it. */
export interface Actor {
  name: string
}

/** What every write needs. */
export interface ControlDeps {
  store: Store
  hub: EvaluatorHub
  feed: ChangeFeed
  now?: () => Date
}

/** Maps an engine pointer (into the patched entity) to a pointer into the request body. */
export type PointerMap = (pointer: string) => string

/**
 * Pointers for a write of one flag or cohort, into the request body: shape issues
 * point into the patch (`/value/…`), reference checks into the snapshot
 * (`/flags/<key>/…`). A new cycle always runs through the entity being written,
 * wherever the engine reports it, so it points at the body's `cycleField`.
 */
export function bodyPointer(kind: 'flags' | 'cohorts', key: string, cycleField: string): PointerMap {
  return (pointer) => {
    const rest = pointer.replace(/^\/value(?=\/|$)/, '')
    const match = new RegExp(`^/${kind}/([^/]+)(/.*)?$`).exec(rest)
    if (match === null) return rest
    if (match[1] === key) return match[2] ?? ''
    return match[2] === `/${cycleField}` ? match[2] : rest
  }
}

/**
 * The changes of one transaction. Each change is validated by applying it to
 * the environment's evaluator before it is written, so nothing the engine
 * would reject reaches the store.
 */
export class WriteBatch {
  readonly changes: ChangeRecord[] = []
  readonly staged = new Map<string, Evaluator>()

  constructor(
    readonly tx: StoreTx,
    private readonly hub: EvaluatorHub,
    private readonly actor: Actor,
    readonly now: string,
  ) {}

  /**
   * Starts the batch from the committed state of the (locked) environments. A writer that just committed has
   * released the lock but may not have installed its evaluator in the hub yet: a change staged on the older
   * evaluator would be validated against a stale snapshot and, installed with its higher version, would drop
   * the other writer's change from the hub for good. Catches up from the change log (or the full snapshot).
   */
  async catchUp(environments: readonly string[]): Promise<void> {
    if (environments.length === 0) return
    const wanted = new Set(environments)
    for (const env of await this.tx.listEnvironments()) {
      if (!wanted.has(env.key)) continue
      const evaluator = this.staged.get(env.key) ?? this.hub.get(env.key)
      if (evaluator === undefined) {
        // created by another instance, and not announced here yet: start from what it committed
        this.staged.set(env.key, compileSnapshot(await loadSnapshot(this.tx, env.key)))
        continue
      }
      if (evaluator.version >= env.version) continue
      const gap = env.version - evaluator.version
      const missing = await this.tx.changesSince(env.key, evaluator.version, gap)
      const contiguous = missing.length === gap && missing[0]?.version === evaluator.version + 1
      this.staged.set(
        env.key,
        contiguous
          ? await evaluator.applyInSlices(missing.map(changeToPatch), SLICES)
          : compileSnapshot(await loadSnapshot(this.tx, env.key)),
      )
    }
  }

  /** Bumps the environment's version and appends one change at it. */
  async change(
    environment: string,
    entity: ChangeEntity,
    key: string,
    op: ChangeOp,
    payload: JsonValue,
    map: PointerMap = (p) => p,
  ): Promise<void> {
    const evaluator = this.staged.get(environment) ?? this.hub.get(environment)
    if (evaluator === undefined) throw new VaneError('unavailable', `environment "${environment}" is not loaded yet`)
    const version = await this.tx.bumpEnvironmentVersion(environment)
    const change: ChangeRecord = { environment, version, entity, key, op, payload, createdAt: this.now }
    try {
      // validated here, installed in the hub after the commit: the change is applied once; the same members
      // change in another environment holding the same list reuses the sets built for the first
      this.staged.set(environment, await evaluator.applyInSlices(changeToPatch(change), SLICES))
    } catch (error) {
      if (!isInvalidSnapshot(error)) throw error
      const issues = error.issues.map((i) => ({ pointer: map(i.pointer), message: i.message }))
      throw new VaneError('validation', `the change would leave ${environment} invalid`, issues)
    }
    await this.tx.appendChange(change)
    this.changes.push(change)
  }

  async audit(
    entry: Omit<AuditRecord, 'id' | 'at' | 'actor' | 'reason' | 'environment'> & {
      environment?: string | null
      reason?: string | null
    },
  ): Promise<void> {
    await this.tx.appendAudit({
      at: this.now,
      actor: this.actor.name,
      environment: entry.environment ?? null,
      reason: entry.reason ?? null,
      action: entry.action,
      entityType: entry.entityType,
      entityKey: entry.entityKey,
      before: entry.before,
      after: entry.after,
    })
  }
}

/**
 * Runs a write in one transaction holding the environments' locks; after the
 * commit, installs the validated evaluators and publishes the changes.
 */
export function write<T>(
  deps: ControlDeps,
  actor: Actor,
  environments: string[] | 'all',
  fn: (batch: WriteBatch) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan('vane.write', async (span) => {
    try {
      return await writeInTransaction(deps, actor, environments, fn)
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) })
      throw error
    } finally {
      span.end()
    }
  })
}

async function writeInTransaction<T>(
  deps: ControlDeps,
  actor: Actor,
  environments: string[] | 'all',
  fn: (batch: WriteBatch) => Promise<T>,
): Promise<T> {
  const now = (deps.now?.() ?? new Date()).toISOString()
  const { result, batch } = await deps.store.transaction(async (tx) => {
    // a write to every environment and the creation of one take turns (lockEnvironmentSet), so that
    // neither misses the other: the list is read once the lock is held
    if (environments === 'all') await tx.lockEnvironmentSet()
    const keys = environments === 'all' ? (await tx.listEnvironments()).map((e) => e.key) : environments
    await tx.lockEnvironments(keys)
    const batch = new WriteBatch(tx, deps.hub, actor, now)
    await batch.catchUp(keys)
    return { result: await fn(batch), batch }
  })
  for (const [env, evaluator] of batch.staged) {
    const current = deps.hub.get(env)
    if (current === undefined || current.version < evaluator.version) deps.hub.set(env, evaluator)
  }
  deps.feed.publish(batch.changes)
  return result
}

/** Checks `If-Match` against the current version; `undefined` means the client did not ask. */
export function checkVersion(ifMatch: number | '*' | undefined, current: number | undefined, what: string): void {
  if (ifMatch === undefined) return
  if (ifMatch === '*' ? current !== undefined : ifMatch === (current ?? 0)) return
  throw new VaneError(
    'precondition_failed',
    `${what} is at version ${current ?? 'none (it does not exist)'}, not ${ifMatch}: read it again, then retry`,
  )
}

/** The engine's refusal of a snapshot, matched by its `code`: the engine may be another copy of the package. */
function isInvalidSnapshot(error: unknown): error is SnapshotValidationError {
  return (
    (error as { code?: unknown } | null)?.code === 'INVALID_SNAPSHOT' &&
    Array.isArray((error as { issues?: unknown }).issues)
  )
}
