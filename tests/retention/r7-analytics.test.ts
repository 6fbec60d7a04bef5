import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { analyticsSweep } from '../../src/retention/analytics-sweep.ts'
import { classLockKey } from '../../src/retention/sweep.ts'
import { utcDay } from '../../storage/repos/common.ts'
import { seedAccount, seedPortal } from '../storage/fixtures.ts'
import { testBackendSet } from '../support/backends.ts'
import { column, DAY, openRetentionStores, type RetentionStores, sweepDeps } from './support.ts'

let stores: RetentionStores
beforeAll(async () => {
  stores = await openRetentionStores()
})
afterAll(() => stores.close())

describe('R7 sweep: analytics', () => {
  test('R7: daily aggregates before the 90-day window are rotated out, every portal, nothing inside it', async () => {
    const now = new Date('2027-03-15T08:00:00Z')
    const firstKept = new Date(now.getTime() - 90 * DAY)
    expect(utcDay(firstKept)).toBe('2026-12-15')
    for (const portal of [await seedPortal(stores.repos), await seedPortal(stores.repos)]) {
      const account = await seedAccount(stores.repos, portal.id)
      for (const day of [
        new Date(firstKept.getTime() - 40 * DAY),
        new Date(firstKept.getTime() - DAY),
        firstKept,
        now,
      ]) {
        await stores.repos.analytics.increment({ portalId: portal.id, day, inbound: 1 })
        await stores.repos.analytics.increment({
          portalId: portal.id,
          accountId: account.id,
          day,
          outbound: 2,
        })
      }
    }

    const outcome = await analyticsSweep.run(sweepDeps(stores, now))

    expect(outcome).toEqual({ deleted: { analyticsDays: 8 }, more: false })
    const days = await column(stores.db, 'analytics_daily', 'day')
    expect([...new Set(days)]).toEqual(['2026-12-15', '2027-03-15'])
    expect(days).toHaveLength(8)
    expect(await analyticsSweep.run(sweepDeps(stores, now))).toEqual({ deleted: {}, more: false })
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'R7: one sweeper per data class: while another process holds the class lock, this one steps aside',
    async () => {
      const now = new Date('2027-03-15T08:00:00Z')
      const portal = await seedPortal(stores.repos)
      await stores.repos.analytics.increment({ portalId: portal.id, day: new Date('2026-01-01'), inbound: 1 })
      const other = await stores.db.sql.reserve()
      try {
        await other`begin`
        await other`select pg_advisory_xact_lock(hashtext(${classLockKey('R7')}))`
        expect(await analyticsSweep.run(sweepDeps(stores, now))).toEqual({ deleted: {}, more: false })
      } finally {
        await other`rollback`
        other.release()
      }
      expect((await analyticsSweep.run(sweepDeps(stores, now))).deleted).toEqual({ analyticsDays: 1 })
    },
  )
})
