const EMPTY: ReadonlySet<string> = new Set()

/**
 * A cohort's member list as a large base set with small overlays of keys
 * added and removed since. A change costs what changed, not the list's size;
 * overlays fold into a new base once they grow past an eighth of it.
 */
export class MemberSet implements Iterable<string> {
  constructor(
    private readonly base: ReadonlySet<string>,
    private readonly added: ReadonlySet<string> = EMPTY,
    private readonly removed: ReadonlySet<string> = EMPTY,
  ) {}

  static of(keys: Iterable<string> | undefined): MemberSet {
    return new MemberSet(new Set(keys))
  }

  has(key: string): boolean {
    return this.added.has(key) || (this.base.has(key) && !this.removed.has(key))
  }

  get size(): number {
    return this.base.size - this.removed.size + this.added.size
  }

  /** A new set with the change applied; this one is left as it was. */
  with(add: readonly string[], remove: readonly string[]): MemberSet {
    const added = new Set(this.added)
    const removed = new Set(this.removed)
    for (const key of add) {
      if (this.base.has(key)) removed.delete(key)
      else added.add(key)
    }
    for (const key of remove) {
      if (!added.delete(key) && this.base.has(key)) removed.add(key)
    }
    const next = new MemberSet(this.base, added, removed)
    return added.size + removed.size > Math.max(1024, this.base.size / 8) ? new MemberSet(new Set(next)) : next
  }

  *[Symbol.iterator](): Iterator<string> {
    for (const key of this.base) if (!this.removed.has(key)) yield key
    yield* this.added
  }
}
