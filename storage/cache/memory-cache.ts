/**
 * @module The in-process cache (embedded default, one process only). Behaves like the Redis one as far as
 * the contract suite can tell: string values, millisecond TTLs, integer counters, token-owned expiring locks.
 * Expired entries are hidden on read and removed by a periodic sweep, so TTL'd keys cannot pile up.
 */
import { randomUUID } from 'node:crypto'
import type { Cache, CacheLock } from './cache.ts'

export interface MemoryCacheOptions {
  /** How often expired entries are removed (default 30 s). */
  sweepIntervalMs?: number
}

interface Entry {
  value: string
  /** `performance.now()` deadline; undefined means no expiry. */
  expiresAt: number | undefined
}

/** What Redis INCRBY accepts: no leading zeros, no `-0`, no spaces. */
const INTEGER = /^(0|-?[1-9]\d*)$/

export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>()
  private readonly sweeper: ReturnType<typeof setInterval>
  private closed = false

  constructor(options: MemoryCacheOptions = {}) {
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 30_000)
    // The sweep must not keep a finished process (or test run) alive.
    this.sweeper.unref()
  }

  /** Entries held, expired-but-unswept included (tests and metrics). */
  get size(): number {
    return this.entries.size
  }

  async get(key: string): Promise<string | undefined> {
    this.checkOpen()
    return this.live(key)?.value
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.checkOpen()
    // Like Redis SET: a set without TTL clears any earlier expiry.
    this.entries.set(key, { value, expiresAt: ttlMs === undefined ? undefined : deadline(ttlMs) })
  }

  async delete(key: string): Promise<boolean> {
    this.checkOpen()
    const existed = this.live(key) !== undefined
    this.entries.delete(key)
    return existed
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.checkOpen()
    let deleted = 0
    // Deleting the current key while iterating a Map is safe.
    for (const key of this.entries.keys()) {
      if (!key.startsWith(prefix)) continue
      if (this.live(key) !== undefined) deleted++
      this.entries.delete(key)
    }
    return deleted
  }

  async increment(key: string, by = 1, ttlMs?: number): Promise<number> {
    this.checkOpen()
    if (!Number.isSafeInteger(by)) throw new RangeError('Cache increment must be a safe integer')
    const expiresAt = ttlMs === undefined ? undefined : deadline(ttlMs)
    const entry = this.live(key)
    if (entry === undefined) {
      this.entries.set(key, { value: String(by), expiresAt })
      return by
    }
    const current = Number(entry.value)
    if (!INTEGER.test(entry.value) || !Number.isSafeInteger(current + by)) {
      throw new Error('Cache value is not an integer or out of range')
    }
    // A later increment keeps the window's original expiry.
    entry.value = String(current + by)
    return current + by
  }

  async tryLock(key: string, ttlMs: number): Promise<CacheLock | undefined> {
    this.checkOpen()
    const expiresAt = deadline(ttlMs)
    if (this.live(key) !== undefined) return undefined
    const token = randomUUID()
    // The lock is an ordinary entry holding the token, as in Redis, so get/delete/keys see it the same way.
    this.entries.set(key, { value: token, expiresAt })
    return {
      release: async () => {
        this.checkOpen()
        if (this.live(key)?.value === token) this.entries.delete(key)
      },
    }
  }

  async keys(prefix: string): Promise<string[]> {
    this.checkOpen()
    const found: string[] = []
    for (const key of this.entries.keys()) {
      if (key.startsWith(prefix) && this.live(key) !== undefined) found.push(key)
    }
    return found.sort()
  }

  async ping(): Promise<void> {
    this.checkOpen()
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.sweeper)
    this.entries.clear()
  }

  /** The entry if present and not expired; an expired one is dropped on the spot. */
  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== undefined && entry.expiresAt <= performance.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  private sweep(): void {
    const now = performance.now()
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) this.entries.delete(key)
    }
  }

  private checkOpen(): void {
    // Same as RedisCache: use after close is a bug and should say so, not quietly keep working.
    if (this.closed) throw new Error('MemoryCache is closed')
  }
}

/** Same rules as RedisCache: a positive number of ms, rounded up to whole ms. */
function deadline(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError('Cache TTL must be a positive number of ms')
  return performance.now() + Math.ceil(ttlMs)
}
