/** First come, first served: one holder at a time, without blocking the event loop while others wait. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn)
    // the next holder waits for this one to finish, whether it succeeded or not
    this.#tail = result.catch(() => undefined)
    return result
  }
}
