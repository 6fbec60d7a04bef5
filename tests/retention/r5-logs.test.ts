import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { logsSweep } from '../../src/retention/logs-sweep.ts'
import { seedPortal } from '../storage/fixtures.ts'
import { column, DAY, openRetentionStores, type RetentionStores, sweepDeps } from './support.ts'

let stores: RetentionStores
beforeAll(async () => {
  stores = await openRetentionStores()
})
afterAll(() => stores.close())

describe('R5 sweep: stored logs', () => {
  test('R5: finished Bitrix24 events older than 30 days are deleted; younger and pending ones stay', async () => {
    const now = new Date()
    const portal = await seedPortal(stores.repos)
    const inbox = stores.repos.inboundEvents
    const add = async (key: string) =>
      (await inbox.insert({ portalId: portal.id, event: 'X', dedupKey: key, payload: {} })).id!
    for (const key of ['done-old', 'failed-old', 'done-new']) {
      const id = await add(key)
      if (key.startsWith('failed')) await inbox.fail(id, 'boom', 0, { permanent: true })
      else await inbox.complete(id)
    }
    await add('pending-old')
    const sql = stores.db.sql
    await sql`update inbound_events set processed_at = ${new Date(now.getTime() - 31 * DAY)}
      where dedup_key in ('done-old', 'failed-old')`
    await sql`update inbound_events set processed_at = ${new Date(now.getTime() - 29 * DAY)} where dedup_key = 'done-new'`
    await sql`update inbound_events set received_at = ${new Date(now.getTime() - 31 * DAY)} where dedup_key = 'pending-old'`
    const cutoffs: Date[] = []

    const purgeAuditLog = async (cutoff: Date) => {
      cutoffs.push(cutoff)
      return 5
    }

    const outcome = await logsSweep.run(sweepDeps(stores, now, { purgeAuditLog }))

    expect(outcome).toEqual({ deleted: { inboxEvents: 2, auditEntries: 5 }, more: false })
    expect(await column(stores.db, 'inbound_events', 'dedup_key')).toEqual(['done-new', 'pending-old'])
    // The audit purge (the privacy module's, keeping the chain anchor) gets the same 30-day cutoff.
    expect(cutoffs).toEqual([new Date(now.getTime() - 30 * DAY)])
  })

  test('R5: without an audit hook the sweep still purges the inbox and reports no audit entries', async () => {
    const outcome = await logsSweep.run(sweepDeps(stores, new Date()))
    expect(outcome.deleted.auditEntries).toBeUndefined()
    expect(outcome.more).toBe(false)
  })
})
