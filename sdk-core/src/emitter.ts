/** A tiny typed event emitter: a listener that throws never breaks the emitter or other listeners. */
export class Emitter<Events extends Record<string, unknown[]>> {
  private readonly _listeners = new Map<keyof Events, Set<unknown>>()

  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): () => void {
    const set = this._listeners.get(event) ?? new Set()
    this._listeners.set(event, set)
    set.add(listener)
    return () => this.off(event, listener)
  }

  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): void {
    this._listeners.get(event)?.delete(listener)
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of this._listeners.get(event) ?? []) {
      try {
        ;(listener as (...a: Events[E]) => void)(...args)
      } catch {
        // a broken listener is the application's bug; it must not stop delivery to others
      }
    }
  }

  clear(): void {
    this._listeners.clear()
  }
}
