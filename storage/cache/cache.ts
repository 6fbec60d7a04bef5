/**
 * @module The cache: operational data only (PRIVACY S2). Losing every key (restart, FLUSHALL) must lose
 * nothing that matters — anything that must survive lives in PostgreSQL. Two implementations share one
 * contract suite: Redis (`REDIS_URL`) and in-process (embedded default, one process only).
 */

export interface CacheLock {
  /** Releases the lock if this holder still owns it (a lock that expired and was taken over is left alone). */
  release(): Promise<void>
}

export interface Cache {
  get(key: string): Promise<string | undefined>
  /** @param ttlMs lifetime in milliseconds; omitted means no expiry. */
  set(key: string, value: string, ttlMs?: number): Promise<void>
  /** @returns whether the key existed. */
  delete(key: string): Promise<boolean>
  /** Deletes every key starting with `prefix` (account or portal cleanup). @returns how many were deleted. */
  deleteByPrefix(prefix: string): Promise<number>
  /**
   * Adds `by` to an integer counter, creating it at 0. `ttlMs` is applied when the counter is created
   * (fixed-window rate limits), not on later increments.
   */
  increment(key: string, by?: number, ttlMs?: number): Promise<number>
  /** Takes a lock for at most `ttlMs`; undefined when someone else holds it. Not reentrant. */
  tryLock(key: string, ttlMs: number): Promise<CacheLock | undefined>
  /** Lists keys starting with `prefix` (policy checks and tests; not for hot paths). */
  keys(prefix: string): Promise<string[]>
  /** Round trip to the backend (readiness). Throws when unreachable. */
  ping(): Promise<void>
  close(): Promise<void>
}
