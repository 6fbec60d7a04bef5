/**
 * @module Capped, jittered exponential backoff for the short in-process waits of the actors (reconnects,
 * restarts). "Equal jitter": half the ceiling is fixed, half random, so retries of many accounts spread out
 * but never come sooner than half the ceiling.
 */

export interface BackoffOptions {
  /** Ceiling of the first attempt, in ms. */
  baseMs: number
  /** No ceiling grows past this, in ms. */
  capMs: number
}

/** The ceiling for `attempt` (1, 2, 3…): `min(cap, base · 2^(attempt − 1))`. */
export function backoffCeiling(attempt: number, { baseMs, capMs }: BackoffOptions): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 52))
  return Math.min(capMs, baseMs * 2 ** exponent)
}

/**
 * The delay before retry number `attempt`, in `[ceiling / 2, ceiling]`.
 * @param random a value in [0, 1), injected so tests can pin it
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  const ceiling = backoffCeiling(attempt, options)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.round(ceiling / 2 + (ceiling / 2) * r)
}
