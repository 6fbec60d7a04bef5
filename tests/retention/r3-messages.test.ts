import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import {
  dropPartition,
  expiredPartitions,
  messagesSweep,
  PartitionBusyError,
} from '../../src/retention/messages-sweep.ts'
import { utcDay } from '../../storage/repos/common.ts'
import { seedAccount, seedChat } from '../storage/fixtures.ts'
import { testBackendSet } from '../support/backends.ts'
import { column, DAY, openRetentionStores, type RetentionStores, sweepDeps } from './support.ts'

let stores: RetentionStores
let accountId: string
let chatId: string
beforeAll(async () => {
  stores = await openRetentionStores()
  accountId = (await seedAccount(stores.repos)).id
  chatId = (await seedChat(stores.repos, accountId)).id
})
afterAll(() => stores.close())

// Noon UTC, so the cutoff (90 days earlier, also noon) falls inside a day partition.
const now = new Date(Math.floor(Date.now() / DAY) * DAY + DAY / 2)
const cutoff = new Date(now.getTime() - 90 * DAY)
const ago = (ms: number) => new Date(now.getTime() - ms)

async function message(originId: string, sentAt: Date) {
  await stores.repos.messages.recordInbound({ accountId, chatId, originId, sentAt })
}

beforeEach(async () => {
  await stores.db.sql`delete from messages`
  await stores.db.sql`delete from telegram_message_chats`
  await stores.db.sql`delete from max_updates`
  // Daily partitions from 100 days back to today; older and future days land in the default partition.
  await stores.repos.messages.ensurePartitions(ago(100 * DAY), now)
})

describe('R3 sweep: message metadata', () => {
  test('R3: message metadata older than the period is deleted — whole days as partitions, the rest in block ranges', async () => {
    await message('day-95', ago(95 * DAY))
    await message('day-91', ago(91 * DAY))
    await message('boundary-old', new Date(cutoff.getTime() - 1000))
    await message('boundary-new', new Date(cutoff.getTime() + 1000))
    await message('day-89', ago(89 * DAY))
    await message('today', now)
    await message('default-old', ago(200 * DAY))
    await message('default-future', new Date(now.getTime() + 30 * DAY))
    const dayOf = (ms: number) => `messages_${utcDay(ago(ms)).replaceAll('-', '')}`
    const before = await stores.repos.messages.listPartitions()
    expect(before).toContain(dayOf(95 * DAY))
    expect(await expiredPartitions(stores.db.sql, cutoff)).toContain(dayOf(91 * DAY))

    const outcome = await messagesSweep.run(sweepDeps(stores, now))

    expect(await column(stores.db, 'messages', 'origin_id')).toEqual(
      ['boundary-new', 'day-89', 'default-future', 'today'].sort(),
    )
    const after = await stores.repos.messages.listPartitions()
    // 100 … 91 days back are whole days before the cutoff: dropped, empty or not.
    expect(after).not.toContain(dayOf(95 * DAY))
    expect(after).not.toContain(dayOf(91 * DAY))
    expect(after).toContain(dayOf(90 * DAY))
    expect(after).toContain(dayOf(89 * DAY))
    expect(before.length - after.length).toBe(outcome.deleted.partitions!)
    expect(outcome.deleted.partitions).toBe(10)
    // Rows of dropped partitions are only estimated; these two were deleted one by one.
    expect(outcome.deleted.messages).toBe(2)
    expect(outcome.more).toBe(false)
    expect(await expiredPartitions(stores.db.sql, cutoff)).toEqual([])
  })

  test('R3: a second run deletes nothing more, and the chat, contact and jobs are untouched', async () => {
    await message('old', ago(95 * DAY))
    await message('new', ago(10 * DAY))
    const deps = sweepDeps(stores, now)
    await messagesSweep.run(deps)
    const again = await messagesSweep.run(deps)
    expect(again).toEqual({ deleted: {}, more: false })
    expect(await column(stores.db, 'messages', 'origin_id')).toEqual(['new'])
    expect(await column(stores.db, 'chats', 'id')).toEqual([chatId])
    expect((await column(stores.db, 'contacts', 'id')).length).toBe(1)
  })

  test('R3: the message-to-chat map and handled MAX update keys older than the period go too', async () => {
    const sql = stores.db.sql
    await sql`
      insert into telegram_message_chats (account_id, msg_id, chat_id, seen_at) values
        (${accountId}, 1, 10, ${ago(91 * DAY)}), (${accountId}, 2, 10, ${ago(89 * DAY)})`
    await sql`
      insert into max_updates (account_id, update_key, update_type, body_enc, received_at, handled_at) values
        (${accountId}, 'old-handled', 'message_created', null, ${ago(92 * DAY)}, ${ago(91 * DAY)}),
        (${accountId}, 'new-handled', 'message_created', null, ${ago(90 * DAY)}, ${ago(89 * DAY)}),
        (${accountId}, 'old-pending', 'message_created', '\\x00'::bytea, ${ago(92 * DAY)}, null)`
    const outcome = await messagesSweep.run(sweepDeps(stores, now))
    expect(await column(stores.db, 'telegram_message_chats', 'msg_id')).toEqual(['2'])
    // A pending update is R8's business (its body), not R3's.
    expect(await column(stores.db, 'max_updates', 'update_key')).toEqual(['new-handled', 'old-pending'])
    expect(outcome.deleted).toMatchObject({ messageChatMaps: 1, maxUpdateKeys: 1 })
  })

  test('R3: a run stops at its batch budget and says so; the next runs finish, reading the default partition in block ranges', async () => {
    for (let i = 0; i < 10; i++) await message(`partition-${i}`, ago((91 + i) * DAY))
    // A few hundred old rows in the default partition span several heap blocks (one block per statement here).
    await stores.db.sql`
      insert into messages (account_id, chat_id, direction, origin_id, sent_at)
      select ${accountId}, ${chatId}, 'in', 'default-' || g, ${ago(300 * DAY)}::timestamptz - g * interval '1 minute'
      from generate_series(1, 400) g`
    const blocks = await stores.db.sql<{ n: number }[]>`
      select (pg_relation_size('messages_default') / current_setting('block_size')::int)::int as n`
    expect(blocks[0]!.n).toBeGreaterThan(3)
    const deps = sweepDeps(stores, now, { batchSize: 3, maxBatches: 3 })
    const first = await messagesSweep.run(deps)
    expect(first.more).toBe(true)
    expect(first.deleted.partitions).toBe(3)
    let runs = 1
    let deleted = 0
    for (let more = true; more; runs++) {
      const outcome = await messagesSweep.run(deps)
      deleted += outcome.deleted.messages ?? 0
      more = outcome.more
    }
    expect(runs).toBeGreaterThan(3)
    expect(deleted).toBe(400)
    expect(await column(stores.db, 'messages', 'origin_id')).toEqual([])
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'R3: a partition drop waits at most its lock timeout for a busy table, inserts never queue behind it for long',
    async () => {
      const [name] = await expiredPartitions(stores.db.sql, cutoff)
      const holder = await stores.db.sql.reserve()
      try {
        await holder`begin`
        await holder`lock table messages in access share mode`
        // The drop's ACCESS EXCLUSIVE request conflicts with the reader; it gives up instead of waiting.
        const started = Date.now()
        const drop = dropPartition(stores.db.sql, name!, 100).then(
          () => undefined,
          (error: unknown) => error,
        )
        // An insert arriving while the drop waits queues behind it, but only until the drop gives up.
        await Bun.sleep(20)
        const insertStarted = Date.now()
        await message('during', now)
        const insertMs = Date.now() - insertStarted
        expect(await drop).toBeInstanceOf(PartitionBusyError)
        expect(Date.now() - started).toBeLessThan(2_000)
        expect(insertMs).toBeLessThan(1_000)
      } finally {
        await holder`rollback`
        holder.release()
      }
      expect(await stores.repos.messages.listPartitions()).toContain(name!)
      expect(await dropPartition(stores.db.sql, name!, 100)).toBe(0)
      expect(await stores.repos.messages.listPartitions()).not.toContain(name!)
    },
  )
})
