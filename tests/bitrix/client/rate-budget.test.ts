/**
 * The rate budget on its own: FIFO admission, retries keeping their place, method pauses from `time.operating`,
 * backoff, and one bucket shared by two "instances" through the Cache (in-process always, Redis with the real
 * backends).
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { type BucketStore, CacheBucketStore } from '../../../src/bitrix/client/bucket-store.ts'
import { RateBudget } from '../../../src/bitrix/client/rate-budget.ts'
import type { Cache } from '../../../storage/cache/cache.ts'
import { cacheBackends } from './support.ts'

/** A bucket of exactly `burst` / `drainPerSecond` (no margins), for arithmetic the tests can check. */
function exact(burst: number, drainPerSecond: number, store?: BucketStore) {
  return new RateBudget({
    plans: { standard: { burst, drainPerSecond } },
    burstFraction: 1,
    drainFraction: 1,
    backoff: { baseMs: 100, maxMs: 400 },
    store,
  })
}

describe('RateBudget', () => {
  test('admits in call order and never faster than the bucket', async () => {
    const budget = exact(5, 100)
    const admitted: number[] = []
    const started = performance.now()
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        budget.acquire('p', 'standard', ['m']).then(() => admitted.push(i)),
      ),
    )
    const elapsed = performance.now() - started
    expect(admitted).toEqual(Array.from({ length: 30 }, (_, i) => i))
    // 5 at once, then 25 more at 10 ms each.
    expect(elapsed).toBeGreaterThanOrEqual(240)
    expect(budget.waiting('p')).toBe(0)
  })

  test('the place is taken at the call, even when the plan lookups finish out of order', async () => {
    const budget = exact(1, 50)
    const order: number[] = []
    const lookup = (ms: number) => Bun.sleep(ms).then(() => 'standard' as const)
    await Promise.all(
      [60, 10, 30, 0].map((ms, i) => budget.acquire('p', lookup(ms), ['m']).then(() => order.push(i))),
    )
    expect(order).toEqual([0, 1, 2, 3])
  })

  test('a failed plan lookup takes the request out of line and rejects it; the others go on', async () => {
    const budget = exact(5, 50)
    const refused = budget.acquire('p', Promise.reject(new Error('portal uninstalled')), ['m'])
    const next = budget.acquire('p', 'standard', ['m'])
    await expect(refused).rejects.toThrow('portal uninstalled')
    expect(await next).toBeGreaterThan(0)
    expect(budget.waiting('p')).toBe(0)
  })

  test('margins: 80 % of the burst and 90 % of the drain by default', () => {
    const budget = new RateBudget()
    expect(budget.bucket('standard')).toEqual({ capacity: 40, intervalMs: 1000 / 1.8, portalCapacity: 50 })
    expect(budget.bucket('enterprise')).toEqual({
      capacity: 200,
      intervalMs: 1000 / 4.5,
      portalCapacity: 250,
    })
  })

  test('portals are independent', async () => {
    const budget = exact(1, 2)
    await budget.acquire('a', 'standard', ['m'])
    const started = performance.now()
    await budget.acquire('b', 'standard', ['m'])
    expect(performance.now() - started).toBeLessThan(100)
  })

  test('a repeated request keeps its place ahead of later ones', async () => {
    const budget = exact(1, 20)
    const first = await budget.acquire('p', 'standard', ['m'])
    const order: string[] = []
    const later = [
      budget.acquire('p', 'standard', ['m']).then(() => order.push('second')),
      budget.acquire('p', 'standard', ['m']).then(() => order.push('third')),
    ]
    // The first request was refused (503, 401…) and comes back with its old place.
    const again = budget.acquire('p', 'standard', ['m'], first).then(() => order.push('first again'))
    await Promise.all([...later, again])
    expect(order).toEqual(['first again', 'second', 'third'])
  })

  test('time.operating above 80 % of 480 s pauses that method until operating_reset_at; others pass', async () => {
    const budget = exact(50, 50)
    const resetAt = Date.now() + 400
    budget.observe('p', 'imconnector.send.messages', { operating: 390, operating_reset_at: resetAt / 1000 })
    budget.observe('p', 'im.notify', { operating: 300, operating_reset_at: resetAt / 1000 })
    expect(budget.methodPausedUntil('p', 'imconnector.send.messages')).toBe(resetAt)
    expect(budget.methodPausedUntil('p', 'im.notify')).toBeUndefined()
    const order: string[] = []
    const slow = budget.acquire('p', 'standard', ['imconnector.send.messages']).then(() => {
      order.push('slow')
      return Date.now()
    })
    const fast = budget.acquire('p', 'standard', ['im.notify']).then(() => order.push('fast'))
    await Promise.all([slow, fast])
    expect(order).toEqual(['fast', 'slow'])
    expect(await slow).toBeGreaterThanOrEqual(resetAt - 5)
  })

  test('same-method calls stay in order across a pause', async () => {
    const budget = exact(50, 50)
    budget.observe('p', 'm', { operating: 470, operating_reset_at: (Date.now() + 150) / 1000 })
    const order: number[] = []
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => budget.acquire('p', 'standard', ['m']).then(() => order.push(i))),
    )
    expect(order).toEqual([...Array(10).keys()])
  })

  test('a batch waits while any of its inner methods is paused', async () => {
    const budget = exact(50, 50)
    budget.observe('p', 'inner', { operating: 400, operating_reset_at: (Date.now() + 200) / 1000 })
    const started = performance.now()
    await budget.acquire('p', 'standard', ['batch', 'other', 'inner'])
    expect(performance.now() - started).toBeGreaterThanOrEqual(180)
  })

  test('429 without a known reset pauses the methods by the backoff', async () => {
    const budget = exact(50, 50)
    const pause = budget.onOperatingLimit('p', ['m'], 1)
    expect(pause).toBeGreaterThanOrEqual(50)
    expect(pause).toBeLessThanOrEqual(100)
    const started = performance.now()
    await budget.acquire('p', 'standard', ['m'])
    expect(performance.now() - started).toBeGreaterThanOrEqual(pause - 5)
  })

  test('503 QUERY_LIMIT_EXCEEDED fills the mirror: the portal drains before the next request', async () => {
    const budget = exact(5, 50)
    await budget.onRateLimited('p', 'standard', 1, true)
    const started = performance.now()
    await budget.acquire('p', 'standard', ['m'])
    // Full at 5, admitted at 4: one slot drains (20 ms) — and the backoff (≥ 50 ms) is longer still.
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
  })

  test('backoff doubles, is jittered between 50 and 100 % and capped', () => {
    const low = new RateBudget({ backoff: { baseMs: 1000, maxMs: 30_000 }, random: () => 0 })
    const high = new RateBudget({ backoff: { baseMs: 1000, maxMs: 30_000 }, random: () => 1 })
    expect([1, 2, 3].map((n) => low.backoff(n))).toEqual([500, 1000, 2000])
    expect([1, 2, 3].map((n) => high.backoff(n))).toEqual([1000, 2000, 4000])
    expect(high.backoff(20)).toBe(30_000)
  })

  test('a failing shared store falls back to the local mirror', async () => {
    const broken: BucketStore = {
      take: () => Promise.reject(new Error('redis down')),
      fill: () => Promise.reject(new Error('redis down')),
    }
    const budget = exact(2, 50, broken)
    await budget.onRateLimited('p', 'standard', 1, true)
    await Promise.all(Array.from({ length: 5 }, () => budget.acquire('p', 'standard', ['m'])))
  })
})

describe.each(cacheBackends)('shared bucket through $name', (backend) => {
  let cache: Cache
  afterEach(async () => {
    await cache.deleteByPrefix('')
    await cache.close()
  })

  test('two instances together stay within one bucket', async () => {
    cache = backend.create()
    const burst = 10
    const perSecond = 50
    const one = exact(burst, perSecond, new CacheBucketStore(cache))
    const two = exact(burst, perSecond, new CacheBucketStore(cache))
    const times: number[] = []
    const started = performance.now()
    const run = (budget: RateBudget) =>
      Array.from({ length: 30 }, () =>
        budget.acquire('p', 'standard', ['m']).then(() => times.push(performance.now())),
      )
    await Promise.all([...run(one), ...run(two)])
    expect(times).toHaveLength(60)
    // Admissions by time t never exceed burst + drain × t (5 ms of slack for timer granularity).
    times.sort((a, b) => a - b)
    for (const [index, at] of times.entries()) {
      expect(index + 1).toBeLessThanOrEqual(burst + Math.floor(((at - started + 5) / 1000) * perSecond))
    }
    expect(times.at(-1)! - started).toBeGreaterThanOrEqual(((60 - burst) / perSecond) * 1000 - 20)
  })

  test('a 503 seen by one instance holds the other back', async () => {
    cache = backend.create()
    const one = exact(5, 50, new CacheBucketStore(cache))
    const two = exact(5, 50, new CacheBucketStore(cache))
    const started = performance.now()
    await one.onRateLimited('p', 'standard', 1, true)
    await two.acquire('p', 'standard', ['m'])
    // Marked full at 5, admitted at 4: one 20 ms drain step after the 503, whoever sends next.
    expect(performance.now() - started).toBeGreaterThanOrEqual(18)
  })
})
