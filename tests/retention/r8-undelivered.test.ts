import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { undeliveredSweep } from '../../src/retention/undelivered-sweep.ts'
import { seedAccount, seedChat } from '../storage/fixtures.ts'
import { DAY, openRetentionStores, type RetentionStores, sweepDeps } from './support.ts'

let stores: RetentionStores
let portalId: string
let accountId: string
let chatId: string
beforeAll(async () => {
  stores = await openRetentionStores()
  const account = await seedAccount(stores.repos)
  portalId = account.portalId
  accountId = account.id
  chatId = (await seedChat(stores.repos, accountId)).id
})
afterAll(() => stores.close())
beforeEach(async () => {
  await stores.db.sql`delete from deliveries`
  await stores.db.sql`delete from inbound_events`
  await stores.db.sql`delete from max_updates`
})

const now = new Date()
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY)

/** Enqueues a job, then rewrites its state and times as a test case needs (time travel in the data). */
async function job(
  key: string,
  state: { status: string; body: boolean; createdDaysAgo: number; finishedDaysAgo?: number },
) {
  const { delivery } = await stores.repos.deliveries.enqueue({
    accountId,
    chatId,
    direction: 'to_portal',
    kind: 'message',
    idempotencyKey: key,
    payload: { text: `body of ${key}` },
  })
  const created = daysAgo(state.createdDaysAgo)
  const finished = state.finishedDaysAgo === undefined ? null : daysAgo(state.finishedDaysAgo)
  await stores.db.sql`
    update deliveries set
      status = ${state.status}, created_at = ${created}, expires_at = ${new Date(created.getTime() + 7 * DAY)},
      finished_at = ${finished}, payload_enc = case when ${state.body} then payload_enc end
    where id = ${delivery.id}`
}

async function jobs() {
  const rows = await stores.db.sql<{ key: string; status: string; hasBody: boolean }[]>`
    select idempotency_key as key, status, payload_enc is not null as has_body from deliveries order by 1`
  return [...rows]
}

describe('R8 sweep: undelivered bodies', () => {
  test('R8: bodies past their 7 days are dropped (metadata kept), tombstones older than 7 days deleted, the rest untouched', async () => {
    await job('pending-expired', { status: 'pending', body: true, createdDaysAgo: 8 })
    await job('dead-with-body-expired', {
      status: 'dead',
      body: true,
      createdDaysAgo: 7.5,
      finishedDaysAgo: 6,
    })
    await job('dead-with-body-retryable', {
      status: 'dead',
      body: true,
      createdDaysAgo: 3,
      finishedDaysAgo: 2,
    })
    await job('done-old', { status: 'done', body: false, createdDaysAgo: 9, finishedDaysAgo: 8 })
    await job('done-recent', { status: 'done', body: false, createdDaysAgo: 7, finishedDaysAgo: 6 })
    await job('dead-bodyless-old', { status: 'dead', body: false, createdDaysAgo: 10, finishedDaysAgo: 8 })
    await job('pending-fresh', { status: 'pending', body: true, createdDaysAgo: 0 })

    const outcome = await undeliveredSweep.run(sweepDeps(stores, now))

    expect(outcome.deleted).toEqual({ deliveryBodies: 2, deliveries: 2 })
    expect(await jobs()).toEqual([
      { key: 'dead-with-body-expired', status: 'dead', hasBody: false },
      { key: 'dead-with-body-retryable', status: 'dead', hasBody: true },
      { key: 'done-recent', status: 'done', hasBody: false },
      { key: 'pending-expired', status: 'dead', hasBody: false },
      { key: 'pending-fresh', status: 'pending', hasBody: true },
    ])
    // Idempotent: a second run finds nothing (the newly dead ones were finished just now, not 7 days ago).
    expect(await undeliveredSweep.run(sweepDeps(stores, now))).toEqual({ deleted: {}, more: false })
  })

  test('R8: a Bitrix24 event still waiting after 7 days is given up with its body dropped; a held or younger one stays', async () => {
    const inbox = stores.repos.inboundEvents
    const add = async (key: string) =>
      (await inbox.insert({ portalId, event: 'X', dedupKey: key, payload: { text: key } })).id!
    const old = await add('old')
    const held = await add('old-held')
    await add('young')
    const sql = stores.db.sql
    await sql`update inbound_events set received_at = ${daysAgo(8)} where dedup_key in ('old', 'old-held')`
    await sql`update inbound_events set received_at = ${daysAgo(6)} where dedup_key = 'young'`
    await sql`update inbound_events set locked_until = now() + interval '1 minute' where id = ${held}`

    const outcome = await undeliveredSweep.run(sweepDeps(stores, now))

    expect(outcome.deleted).toEqual({ inboxBodies: 1 })
    const rows = await sql<{ key: string; status: string; hasBody: boolean }[]>`
      select dedup_key as key, status, payload_enc is not null as has_body from inbound_events order by 1`
    expect([...rows]).toEqual([
      { key: 'old', status: 'failed', hasBody: false },
      { key: 'old-held', status: 'pending', hasBody: true },
      { key: 'young', status: 'pending', hasBody: true },
    ])
    expect((await inbox.get(old)).lastError).toContain('R8')
  })

  test('R8: a MAX update never handed to the relay within 7 days is deleted with its body; handled keys are left to R3', async () => {
    const sql = stores.db.sql
    await sql`
      insert into max_updates (account_id, update_key, update_type, body_enc, received_at, handled_at) values
        (${accountId}, 'pending-old', 'message_created', '\\x01'::bytea, ${daysAgo(8)}, null),
        (${accountId}, 'pending-young', 'message_created', '\\x01'::bytea, ${daysAgo(6)}, null),
        (${accountId}, 'handled-old', 'message_created', null, ${daysAgo(9)}, ${daysAgo(8)})`

    const outcome = await undeliveredSweep.run(sweepDeps(stores, now))

    expect(outcome.deleted).toEqual({ maxUpdates: 1 })
    const keys = await sql<{ updateKey: string }[]>`select update_key from max_updates order by 1`
    expect(keys.map((row) => row.updateKey)).toEqual(['handled-old', 'pending-young'])
  })
})
