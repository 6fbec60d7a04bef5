/**
 * @module Tunables of the portal sender and the reasoning behind their defaults (docs/decisions.md,
 * "Portal sender").
 */

export interface RetryOptions {
  /** First retry delay after a failed attempt. */
  baseMs: number
  /** Cap of the exponential delay. */
  maxMs: number
  /** ± share of the delay chosen at random, so rows failed together do not come back together. */
  jitter: number
}

export interface PortalSenderOptions {
  /**
   * Rows claimed per round, hence the most items in one call (`MESSAGES` of `imconnector.send.messages`).
   *
   * 25, because:
   * - requests: 1,000 queued messages take 40 calls — inside the standard plan's burst of 50, so a burst
   *   never waits for the 2 req/s drain; in steady state 2 req/s × 25 = 50 messages/s of request capacity,
   *   more than the method's execution-time budget lets through anyway (below), leaving most of the shared
   *   per-portal/per-IP bucket to events, tokens and other apps (pitfall 14);
   * - time: the portal handles the items one after another (user lookup or creation, session, message,
   *   and it downloads every file inline). At 0.1–0.5 s per text item a call of 25 takes 3–13 s, far
   *   inside the 60 s cut of a cloud request; 50 items with a few files could approach it, and a call cut
   *   half-way is in doubt (see below);
   * - OPERATION_TIME_LIMIT counts the portal's seconds per method (480 s per 10 min ≈ 0.8 s/s), not
   *   requests, so bigger calls buy no throughput once that budget is the bottleneck;
   * - blast radius: `send.messages` has no de-duplication, so a call whose answer is lost is resent and
   *   may show up to this many duplicates; latency: a message that arrives during a call waits for it.
   * We send one call at a time per account, so items of one chat never contend for the portal's per-chat
   * lock (its `sleep(1..3)` retries only hit concurrent sends).
   */
  batchSize: number
  /** Files per call; the portal downloads each one inside the call, so they count against its 60 s. */
  maxFilesPerCall: number
  /** Life of the signed file and avatar URLs minted at send time (the portal fetches during the call). */
  fileUrlTtlSeconds: number
  /**
   * Claim lock. Must outlast a whole call including the client's rate-limit waits and retries: an expired
   * lock lets another worker resend rows still in flight, which duplicates messages.
   */
  lockMs: number
  /** Per-attempt timeout of `send.messages`: past the portal's own 60 s cut, so we never abandon a call the
   * portal may still finish (a timeout of ours would turn a slow success into an in-doubt resend). */
  sendTimeoutMs: number
  /** Backoff of rows that failed (per-item errors, rejected calls, in-doubt sends). */
  retry: RetryOptions
  /** NOT_ACTIVE_LINE: an admin must reconnect the line; retry rarely meanwhile. */
  inactiveLineRetryMs: number
  /** Portal-level trouble (needs re-authorisation, rate limits, unreachable): pause the portal this long
   * (doubling per consecutive failure up to `retry.maxMs`); rows are released untouched. */
  portalPauseMs: number
  /** Poll for due rows this often even without `notify`. */
  pollIntervalMs: number
  /** Accounts drained at once by `runOnce` (each account itself is always one call at a time). */
  concurrency: number
  /** Rounds (calls of batchSize) per account per turn, so one busy account cannot starve the others. */
  maxRoundsPerTurn: number
}

export const defaultPortalSenderOptions: PortalSenderOptions = {
  batchSize: 25,
  maxFilesPerCall: 10,
  fileUrlTtlSeconds: 15 * 60,
  lockMs: 10 * 60_000,
  sendTimeoutMs: 65_000,
  retry: { baseMs: 5_000, maxMs: 10 * 60_000, jitter: 0.2 },
  inactiveLineRetryMs: 15 * 60_000,
  portalPauseMs: 30_000,
  pollIntervalMs: 2_000,
  concurrency: 4,
  maxRoundsPerTurn: 8,
}

/** Delay before retry number `attempts + 1` (attempts already made). */
export function backoffMs(attempts: number, retry: RetryOptions, random: () => number = Math.random): number {
  const base = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.min(attempts, 30))
  return Math.round(base * (1 + retry.jitter * (2 * random() - 1)))
}
