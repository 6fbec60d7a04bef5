/**
 * @module The request budget of one bot token: at most `perSecond` calls in any 1 s window (reference
 * §2.4: 30 rps for the Bot API, 2 rps for long polling). A sliding window of start times rather than a
 * bucket with a burst: a bucket would let 2× the rate through in its first second, and MAX answers 429.
 */

export class RequestBudget {
  readonly #starts: number[] = []
  #chain: Promise<void> = Promise.resolve()

  constructor(
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = Bun.sleep,
  ) {}

  /** Resolves when one more call fits the window; callers are let through in arrival order. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.#chain.then(() => this.#wait(signal))
    // A caller that gave up must not block the ones behind it.
    this.#chain = turn.catch(() => {})
    return turn
  }

  async #wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted()
      const now = this.now()
      while (this.#starts.length > 0 && now - this.#starts[0]! >= 1000) this.#starts.shift()
      if (this.#starts.length < this.perSecond) {
        this.#starts.push(now)
        return
      }
      await this.sleep(1000 - (now - this.#starts[0]!))
    }
  }
}
