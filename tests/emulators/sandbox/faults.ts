/**
 * @module Injected faults for client API calls, per account or for every call (`account` omitted): the next N
 * calls answer FLOOD_WAIT_n, the next N calls lose their connection (before or after the work is done — the
 * "after" case is the in-doubt send that `randomId` exists for), and added latency. Plus the optional
 * per-account send budget (a token bucket) that answers FLOOD_WAIT_n when spent.
 */
import { floodWait } from './errors.ts'
import type { RateLimit } from './types.ts'

export type DropWhen = 'before' | 'after'

interface Rule {
  flood?: { calls: number; seconds: number }
  drop?: { calls: number; when: DropWhen }
  latencyMs?: number
}

const ANY = 0

export class Faults {
  private readonly rules = new Map<number, Rule>()
  private readonly buckets = new Map<number, { tokens: number; at: number }>()
  floodWaits = 0
  droppedResponses = 0

  constructor(public rateLimit: RateLimit | null) {}

  private rule(account: number | undefined): Rule {
    const key = account ?? ANY
    let rule = this.rules.get(key)
    if (!rule) {
      rule = {}
      this.rules.set(key, rule)
    }
    return rule
  }

  floodWait(account: number | undefined, seconds: number, calls: number): void {
    this.rule(account).flood = { calls, seconds }
  }

  dropResponses(account: number | undefined, calls: number, when: DropWhen): void {
    this.rule(account).drop = { calls, when }
  }

  latency(account: number | undefined, ms: number): void {
    this.rule(account).latencyMs = ms
  }

  clear(): void {
    this.rules.clear()
  }

  latencyFor(account: number | undefined): number {
    const own = account === undefined ? 0 : (this.rules.get(account)?.latencyMs ?? 0)
    return own + (this.rules.get(ANY)?.latencyMs ?? 0)
  }

  /** Throws FLOOD_WAIT_n when an injected flood applies to this call (consuming one of its calls). */
  checkFlood(account: number | undefined): void {
    for (const key of account === undefined ? [ANY] : [account, ANY]) {
      const flood = this.rules.get(key)?.flood
      if (!flood || flood.calls <= 0) continue
      flood.calls--
      this.floodWaits++
      throw floodWait(flood.seconds)
    }
  }

  /** Whether this call's connection is cut at `when` (consuming one of the rule's calls). */
  takeDrop(account: number | undefined, when: DropWhen): boolean {
    for (const key of account === undefined ? [ANY] : [account, ANY]) {
      const drop = this.rules.get(key)?.drop
      if (!drop || drop.calls <= 0 || drop.when !== when) continue
      drop.calls--
      this.droppedResponses++
      return true
    }
    return false
  }

  /** Spends one token of the account's send budget or throws FLOOD_WAIT_n with the time to the next. */
  spend(account: number): void {
    const limit = this.rateLimit
    if (!limit) return
    const now = performance.now()
    const bucket = this.buckets.get(account) ?? { tokens: limit.burst, at: now }
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond)
    bucket.at = now
    this.buckets.set(account, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens--
      return
    }
    this.floodWaits++
    throw floodWait((1 - bucket.tokens) / limit.perSecond)
  }
}

/** A response whose body errors at once: the client sees its connection reset (ECONNRESET). */
export function droppedResponse(): Response {
  return new Response(
    new ReadableStream({
      pull(controller) {
        // No reason given: Bun then resets the socket without logging an error.
        controller.error()
      },
    }),
  )
}
