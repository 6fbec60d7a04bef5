import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedAccount, seedPortal } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let portalId: string
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  portalId = (await seedPortal(repos)).id
  accountId = (await seedAccount(repos, portalId)).id
})
afterAll(() => db.drop())

const day = (iso: string) => new Date(`${iso}T12:00:00Z`)

describe('AnalyticsRepository', () => {
  test('increment creates the day row, then adds to it', async () => {
    expect(
      await repos.analytics.increment({ portalId, accountId, day: day('2026-11-01'), inbound: 2 }),
    ).toEqual({
      portalId,
      accountId,
      day: '2026-11-01',
      inbound: 2,
      outbound: 0,
      failed: 0,
    })
    const next = await repos.analytics.increment({
      portalId,
      accountId,
      day: new Date('2026-11-01T23:59:59Z'),
      inbound: 1,
      outbound: 3,
      failed: 1,
    })
    expect(next).toMatchObject({ inbound: 3, outbound: 3, failed: 1 })
  })

  test('the portal-wide bucket (no account) is one row per day too', async () => {
    await repos.analytics.increment({ portalId, day: day('2026-11-01'), failed: 1 })
    const bucket = await repos.analytics.increment({
      portalId,
      accountId: null,
      day: day('2026-11-01'),
      failed: 1,
    })
    expect(bucket).toMatchObject({ accountId: null, failed: 2 })
  })

  test('concurrent increments are not lost', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        repos.analytics.increment({ portalId, accountId, day: day('2026-11-02'), outbound: 1 }),
      ),
    )
    const [row] = await repos.analytics.list(portalId, day('2026-11-02'), day('2026-11-02'))
    expect(row!.outbound).toBe(20)
  })

  test('list returns a day range, portal bucket first', async () => {
    const rows = await repos.analytics.list(portalId, day('2026-10-01'), day('2026-11-01'))
    expect(rows.map((r) => [r.day, r.accountId])).toEqual([
      ['2026-11-01', null],
      ['2026-11-01', accountId],
    ])
  })

  test('R7: deleteBefore rotates out old days', async () => {
    await repos.analytics.increment({ portalId, day: day('2026-07-01'), inbound: 5 })
    expect(await repos.analytics.deleteBefore(day('2026-08-01'))).toBe(1)
    expect(await repos.analytics.list(portalId, day('2026-01-01'), day('2026-12-31'))).toHaveLength(3)
  })
})
