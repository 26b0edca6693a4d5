const EMPTY: ReadonlySet<string> = new Set()

/**
 * How {@link MemberSet.withInSlices} shares the event loop: `pause` lets other work run (the host decides how:
 * `setImmediate`, a resolved `setTimeout`), `now` is a clock in milliseconds. The engine has neither.
 */
export interface SliceOptions {
  pause: () => Promise<void>
  /** Milliseconds of work between pauses. Default 8. */
  budgetMs?: number
  /** Default `Date.now`. */
  now?: () => number
}

/** Keys processed between two looks at the clock. */
const CLOCK_STRIDE = 2048

/** Runs `step` over `keys`; calls `tick` every {@link CLOCK_STRIDE} keys, which may pause. */
async function eachKey(
  keys: Iterable<string>,
  step: (key: string) => void,
  tick: () => Promise<void> | undefined,
): Promise<void> {
  let n = 0
  for (const key of keys) {
    step(key)
    if (++n === CLOCK_STRIDE) {
      n = 0
      const paused = tick()
      if (paused !== undefined) await paused
    }
  }
}

/** The last change applied to a set: the same patch applied to the same set again (another environment) reuses it. */
interface Derived {
  add: readonly string[]
  remove: readonly string[]
  result: MemberSet
}
const derived = new WeakMap<MemberSet, Derived>()
/** The same array, or both empty: a patch's absent list is a new empty array each time. */
const same = (a: readonly string[], b: readonly string[]) => a === b || (a.length === 0 && b.length === 0)

/**
 * A cohort's member list as a large base set with small overlays of keys
 * added and removed since. A change costs what changed, not the list's size;
 * overlays fold into a new base once they grow past an eighth of it.
 */
export class MemberSet implements Iterable<string> {
  /** Shared by every empty list, so that environments starting empty share what is derived from it. */
  static readonly empty = new MemberSet(EMPTY)

  constructor(
    private readonly base: ReadonlySet<string>,
    private readonly added: ReadonlySet<string> = EMPTY,
    private readonly removed: ReadonlySet<string> = EMPTY,
  ) {}

  static of(keys: Iterable<string> | undefined): MemberSet {
    const set = new Set(keys)
    return set.size === 0 ? MemberSet.empty : new MemberSet(set)
  }

  has(key: string): boolean {
    return this.added.has(key) || (this.base.has(key) && !this.removed.has(key))
  }

  get size(): number {
    return this.base.size - this.removed.size + this.added.size
  }

  /** A new set with the change applied; this one is left as it was. */
  with(add: readonly string[], remove: readonly string[]): MemberSet {
    const reused = this.reuse(add, remove)
    if (reused !== undefined) return reused
    const added = new Set(this.added)
    const removed = new Set(this.removed)
    for (const key of add) this.addTo(added, removed, key)
    for (const key of remove) this.removeFrom(added, removed, key)
    let next: MemberSet
    if (!this.needsFold(added, removed)) next = new MemberSet(this.base, added, removed)
    else {
      const { into, from } = this.foldPlan(added, removed)
      for (const key of from) if (!removed.has(key)) into.add(key)
      next = into.size === 0 ? MemberSet.empty : new MemberSet(into)
    }
    return this.remember(add, remove, next)
  }

  /**
   * {@link with} for large changes, in slices of about `budgetMs` with a `pause` between them, so that a
   * million keys never hold the event loop for long. Evaluations keep using this set meanwhile.
   */
  async withInSlices(add: readonly string[], remove: readonly string[], options: SliceOptions): Promise<MemberSet> {
    const reused = this.reuse(add, remove)
    if (reused !== undefined) return reused
    const { pause, budgetMs = 8, now = Date.now } = options
    let started = now()
    const tick = () => {
      if (now() - started < budgetMs) return undefined
      return pause().then(() => {
        started = now()
      })
    }
    const added = new Set<string>()
    const removed = new Set<string>()
    await eachKey(this.added, (key) => added.add(key), tick)
    await eachKey(this.removed, (key) => removed.add(key), tick)
    await eachKey(add, (key) => this.addTo(added, removed, key), tick)
    await eachKey(remove, (key) => this.removeFrom(added, removed, key), tick)
    let next: MemberSet
    if (!this.needsFold(added, removed)) next = new MemberSet(this.base, added, removed)
    else {
      const { into, from } = this.foldPlan(added, removed)
      await eachKey(
        from,
        (key) => {
          if (!removed.has(key)) into.add(key)
        },
        tick,
      )
      next = into.size === 0 ? MemberSet.empty : new MemberSet(into)
    }
    return this.remember(add, remove, next)
  }

  *[Symbol.iterator](): Iterator<string> {
    for (const key of this.base) if (!this.removed.has(key)) yield key
    yield* this.added
  }

  private addTo(added: Set<string>, removed: Set<string>, key: string): void {
    if (this.base.has(key)) removed.delete(key)
    else added.add(key)
  }

  private removeFrom(added: Set<string>, removed: Set<string>, key: string): void {
    if (!added.delete(key) && this.base.has(key)) removed.add(key)
  }

  private needsFold(added: ReadonlySet<string>, removed: ReadonlySet<string>): boolean {
    return added.size + removed.size > Math.max(1024, this.base.size / 8)
  }

  /**
   * How to fold the overlays into a new base: the new `added` (ours to change, and holding none of the base)
   * takes the base's keys not removed. When the base is the larger, it is copied and takes the added keys.
   */
  private foldPlan(added: Set<string>, removed: ReadonlySet<string>): { into: Set<string>; from: Iterable<string> } {
    if (added.size >= this.base.size - removed.size) return { into: added, from: this.base }
    const into = new Set<string>()
    const base = this.base
    return {
      into,
      from: (function* () {
        yield* base
        yield* added
      })(),
    }
  }

  private reuse(add: readonly string[], remove: readonly string[]): MemberSet | undefined {
    const last = derived.get(this)
    return last !== undefined && same(last.add, add) && same(last.remove, remove) ? last.result : undefined
  }

  private remember(add: readonly string[], remove: readonly string[], result: MemberSet): MemberSet {
    // only large changes are worth keeping the arrays alive for
    if (add.length + remove.length >= CLOCK_STRIDE) derived.set(this, { add, remove, result })
    return result
  }
}
