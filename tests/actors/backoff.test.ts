import { describe, expect, test } from 'bun:test'
import { backoffCeiling, backoffDelay } from '../../actors/backoff.ts'

const options = { baseMs: 1_000, capMs: 30_000 }

describe('backoff', () => {
  test('the ceiling doubles per attempt up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((n) => backoffCeiling(n, options))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ])
  })

  test('the delay lies in [ceiling / 2, ceiling] and spans it with the random value', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = backoffCeiling(attempt, options)
      expect(backoffDelay(attempt, options, () => 0)).toBe(ceiling / 2)
      expect(backoffDelay(attempt, options, () => 0.999_999)).toBeLessThanOrEqual(ceiling)
      expect(backoffDelay(attempt, options, () => 0.999_999)).toBeGreaterThan(ceiling * 0.99)
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(attempt, options, Math.random)
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2)
        expect(delay).toBeLessThanOrEqual(ceiling)
      }
    }
  })

  test('a random source out of range cannot push the delay out of bounds', () => {
    expect(backoffDelay(1, options, () => -3)).toBe(500)
    expect(backoffDelay(1, options, () => 7)).toBe(1_000)
  })
})
