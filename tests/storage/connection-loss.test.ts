import { describe, expect, test } from 'bun:test'
import { isConnectionLoss, retryOnConnectionLoss } from '../../storage/connection-loss.ts'

const lost = (code: string) => Object.assign(new Error(`lost: ${code}`), { code })

describe('retryOnConnectionLoss', () => {
  test('tells a lost connection from other database errors', () => {
    for (const code of ['CONNECTION_CLOSED', 'ECONNREFUSED', '57P01', '57P03', '08006']) {
      expect(isConnectionLoss(lost(code))).toBe(true)
    }
    // Unique violation, syntax error, no code at all: not a connection problem.
    for (const error of [lost('23505'), lost('42601'), new Error('plain'), 'text', null]) {
      expect(isConnectionLoss(error)).toBe(false)
    }
  })

  test('runs the work again while the connection is lost, then returns its result', async () => {
    let calls = 0
    const retries: number[] = []
    const result = await retryOnConnectionLoss(
      async () => {
        calls++
        if (calls < 3) throw lost('CONNECTION_CLOSED')
        return 'written'
      },
      { baseMs: 1, onRetry: (_error, attempt) => retries.push(attempt) },
    )
    expect(result).toBe('written')
    expect(calls).toBe(3)
    expect(retries).toEqual([1, 2])
  })

  test('throws other errors at once and gives up after maxMs', async () => {
    let calls = 0
    await expect(
      retryOnConnectionLoss(async () => {
        calls++
        throw lost('23505')
      }),
    ).rejects.toThrow('lost: 23505')
    expect(calls).toBe(1)
    const started = Date.now()
    await expect(
      retryOnConnectionLoss(
        async () => {
          throw lost('ECONNREFUSED')
        },
        { baseMs: 10, capMs: 20, maxMs: 100 },
      ),
    ).rejects.toThrow('lost: ECONNREFUSED')
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
