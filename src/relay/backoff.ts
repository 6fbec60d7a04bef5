/** @module Retry delays of failed relay items: exponential, capped, with jitter so retries spread out. */

export interface RetryPolicy {
  /** Delay after the first failure. */
  baseMs: number
  /** No delay grows past this. */
  capMs: number
}

/** Delay before the attempt after `attempts` failures: base·2^attempts within the cap, scaled by 0.5–1. */
export function retryDelay(attempts: number, policy: RetryPolicy, random: () => number = Math.random) {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempts, 30))
  return Math.round(ceiling * (0.5 + random() / 2))
}
