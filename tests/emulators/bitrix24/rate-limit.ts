/**
 * @module The two cloud limits of §4.6: the per-portal leaky bucket (503 QUERY_LIMIT_EXCEEDED) and the
 * per-app-per-method execution-time budget in minute buckets (429 OPERATION_TIME_LIMIT).
 */

/** §4.6: every request adds 1; the level drains by Y per second; a request that would pass X is refused. */
export class LeakyBucket {
  private level = 0
  private at = performance.now()

  constructor(
    public drainPerSecond: number,
    public burst: number,
    public countRejected = false,
  ) {}

  private drain(now: number): void {
    this.level = Math.max(0, this.level - ((now - this.at) / 1000) * this.drainPerSecond)
    this.at = now
  }

  /** True when the request may run. */
  tryTake(now = performance.now()): boolean {
    this.drain(now)
    if (this.level + 1 > this.burst) {
      if (this.countRejected) this.level += 1
      return false
    }
    this.level += 1
    return true
  }

  current(now = performance.now()): number {
    this.drain(now)
    return this.level
  }

  reset(): void {
    this.level = 0
    this.at = performance.now()
  }
}

export interface OperationConfig {
  limitSeconds: number
  bucketMs: number
  buckets: number
}

interface Bucket {
  start: number
  sum: number
}

/**
 * §4.6: execution time summed per (app, method) in `buckets` buckets of `bucketMs`; once the sum exceeds the
 * limit the next call of that method is refused until old buckets fall out of the window.
 */
export class OperationTimer {
  private readonly table = new Map<string, Bucket[]>()

  constructor(public config: OperationConfig) {}

  private window(): number {
    return this.config.bucketMs * this.config.buckets
  }

  private live(key: string, now: number): Bucket[] {
    const list = (this.table.get(key) ?? []).filter((b) => b.start + this.window() > now)
    this.table.set(key, list)
    return list
  }

  blocked(key: string, now = Date.now()): boolean {
    return this.sum(key, now) > this.config.limitSeconds
  }

  sum(key: string, now = Date.now()): number {
    return this.live(key, now).reduce((s, b) => s + b.sum, 0)
  }

  add(key: string, seconds: number, now = Date.now()): void {
    const list = this.live(key, now)
    const start = Math.floor(now / this.config.bucketMs) * this.config.bucketMs
    const last = list[list.length - 1]
    if (last && last.start === start) last.sum += seconds
    else list.push({ start, sum: seconds })
  }

  /** §4.3 `operating` (seconds summed) and `operating_reset_at` (unix time the oldest bucket drops). */
  info(key: string, now = Date.now()): { operating: number; resetAt: number } {
    const list = this.live(key, now)
    const oldest = list[0]?.start ?? now
    return {
      operating: list.reduce((s, b) => s + b.sum, 0),
      resetAt: Math.ceil((oldest + this.window()) / 1000),
    }
  }

  reset(): void {
    this.table.clear()
  }
}
