/**
 * @module Where a portal's leaky-bucket mirror lives. The portal keeps one bucket per portal (and source IP)
 * for every app instance calling it (reference/bitrix24.md §4.6, §9.14), so several Olchat instances must draw
 * from one shared mirror: the cache store keeps it in the Cache (Redis) under a short lock; the local store
 * serves one process (embedded default). Both use the same arithmetic (GCRA: the stored value is the time at
 * which the mirror would be empty), so a request costs one read-modify-write.
 */
import type { Cache } from '../../../storage/cache/cache.ts'

export interface BucketParams {
  /** Requests the mirror admits at once (the portal's burst minus the safety margin), ≥ 1. */
  capacity: number
  /** Milliseconds per drained request (slower than the portal's drain by the safety margin). */
  intervalMs: number
  /** The portal's real burst, used to mark the mirror full after a 503 QUERY_LIMIT_EXCEEDED. */
  portalCapacity: number
}

export interface BucketStore {
  /** Takes one request slot if there is room. @returns 0 when taken, else milliseconds until there is room. */
  take(key: string, params: BucketParams, now: number): Promise<number>
  /** The portal answered QUERY_LIMIT_EXCEEDED: its bucket is full whatever the mirror thought. */
  fill(key: string, params: BucketParams, now: number): Promise<void>
}

/** Admits when the mirror is below capacity; the new "empty at" moment is one interval later. */
function admit(emptyAt: number, params: BucketParams, now: number): { wait: number; next: number } {
  const start = Math.max(emptyAt, now)
  const wait = start - (params.capacity - 1) * params.intervalMs - now
  return wait > 0 ? { wait: Math.ceil(wait), next: emptyAt } : { wait: 0, next: start + params.intervalMs }
}

const full = (params: BucketParams, now: number) => now + params.portalCapacity * params.intervalMs

/** One process only. */
export class LocalBucketStore implements BucketStore {
  readonly #emptyAt = new Map<string, number>()

  async take(key: string, params: BucketParams, now: number): Promise<number> {
    const { wait, next } = admit(this.#emptyAt.get(key) ?? 0, params, now)
    if (wait === 0) this.#emptyAt.set(key, next)
    return wait
  }

  async fill(key: string, params: BucketParams, now: number): Promise<void> {
    this.#emptyAt.set(key, Math.max(this.#emptyAt.get(key) ?? 0, full(params, now)))
  }
}

/**
 * Shared through the Cache. Times are wall-clock milliseconds, so instances need NTP-synchronised clocks; a
 * skew of a second is absorbed by the safety margin (it is ~10 requests of headroom on the standard plan).
 */
export class CacheBucketStore implements BucketStore {
  constructor(
    private readonly cache: Cache,
    private readonly options: { lockTtlMs?: number; lockWaitMs?: number } = {},
  ) {}

  async take(key: string, params: BucketParams, now: number): Promise<number> {
    return this.#update(key, (emptyAt) => {
      // The lock may have taken a moment: judge by the time the mirror is actually read.
      const { wait, next } = admit(emptyAt, params, Math.max(now, Date.now()))
      return { result: wait, next: wait === 0 ? next : undefined }
    })
  }

  async fill(key: string, params: BucketParams, now: number): Promise<void> {
    await this.#update(key, (emptyAt) => ({ result: undefined, next: Math.max(emptyAt, full(params, now)) }))
  }

  /** Read-modify-write under a short lock (the Cache has no compare-and-set). */
  async #update<R>(
    key: string,
    change: (emptyAt: number) => { result: R; next: number | undefined },
  ): Promise<R> {
    const lockTtlMs = this.options.lockTtlMs ?? 2_000
    const giveUpAt = Date.now() + (this.options.lockWaitMs ?? 2_000)
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      const lock = await this.cache.tryLock(`bitrix:bucket-lock:${key}`, lockTtlMs)
      if (lock) {
        try {
          const stored = Number((await this.cache.get(`bitrix:bucket:${key}`)) ?? 0)
          const { result, next } = change(Number.isFinite(stored) ? stored : 0)
          if (next !== undefined) {
            // Expires a minute after the mirror would be empty: an idle portal leaves no key behind.
            const ttl = Math.max(1, Math.ceil(next - Date.now())) + 60_000
            await this.cache.set(`bitrix:bucket:${key}`, String(next), ttl)
          }
          return result
        } finally {
          await lock.release()
        }
      }
      if (Date.now() > giveUpAt) throw new Error(`rate bucket lock for ${key} is busy`)
      await Bun.sleep(pause)
    }
  }
}
