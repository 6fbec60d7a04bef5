/**
 * @module Injected faults and the per-token request budget. The budget is a token bucket refilled at the
 * documented rate (reference §2.4: 30 rps for all calls; 2 rps for long polling since May 2026); a call over
 * it answers 429 and is not executed.
 */

export class Bucket {
  private tokens: number
  private at = performance.now()

  constructor(private readonly perSecond: number) {
    this.tokens = perSecond
  }

  take(): boolean {
    const now = performance.now()
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.at) / 1000) * this.perSecond)
    this.at = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

export class Faults {
  rateLimitStorm = 0
  notReadySends = 0
  failNext: string[] = []
  serverErrors: { left: number; status: number } = { left: 0, status: 500 }
  duplicateDeliveries = 0

  clear(): void {
    this.rateLimitStorm = 0
    this.notReadySends = 0
    this.failNext = []
    this.serverErrors = { left: 0, status: 500 }
    this.duplicateDeliveries = 0
  }
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor(public perSecond: number | null) {}

  allow(key: string): boolean {
    if (this.perSecond === null) return true
    let bucket = this.buckets.get(key)
    if (!bucket) {
      bucket = new Bucket(this.perSecond)
      this.buckets.set(key, bucket)
    }
    return bucket.take()
  }

  set(perSecond: number | null): void {
    this.perSecond = perSecond
    this.buckets.clear()
  }
}
