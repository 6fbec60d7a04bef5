import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedAccount, seedChat } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let accountId: string
let chatId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  accountId = (await seedAccount(repos)).id
  chatId = (await seedChat(repos, accountId)).id
})
afterAll(() => db.drop())

const at = (iso: string) => new Date(iso)

async function partitionOf(originId: string): Promise<string | undefined> {
  const [row] = await db.sql<{ part: string }[]>`
    select tableoid::regclass::text as part from messages where origin_id = ${originId}`
  return row?.part
}

describe('MessageRepository', () => {
  test('recordInbound is deduplicated on (account, origin id, origin time)', async () => {
    const input = { accountId, chatId, originId: 'tg-1', sentAt: new Date() }
    const first = await repos.messages.recordInbound(input)
    expect(first.created).toBe(true)
    expect(first.message).toMatchObject({
      accountId,
      chatId,
      direction: 'in',
      originId: 'tg-1',
      status: 'received',
    })
    const repeat = await repos.messages.recordInbound(input)
    expect(repeat.created).toBe(false)
    expect(repeat.message.id).toBe(first.message.id)
    const [count] = await db.sql<
      { n: number }[]
    >`select count(*)::int as n from messages where origin_id = 'tg-1'`
    expect(count!.n).toBe(1)
  })

  test('the same id in the other direction is a different message', async () => {
    const sentAt = new Date()
    const out = await repos.messages.recordOutbound({ accountId, chatId, originId: 'tg-1', sentAt })
    expect(out.created).toBe(true)
    expect(out.message).toMatchObject({ direction: 'out', status: 'queued' })
    expect(
      (await repos.messages.recordOutbound({ accountId, chatId, originId: 'tg-1', sentAt })).created,
    ).toBe(false)
  })

  test('markDelivered by origin sets the target id; findByOrigin and findByTarget', async () => {
    const delivered = at('2026-11-20T10:00:00Z')
    expect(
      await repos.messages.markDelivered(
        { accountId, direction: 'in', originId: 'tg-1' },
        { targetId: 'b24-9', at: delivered },
      ),
    ).toBe(true)
    const byTarget = await repos.messages.findByTarget(accountId, 'b24-9')
    expect(byTarget).toMatchObject({
      originId: 'tg-1',
      direction: 'in',
      status: 'delivered',
      deliveredAt: delivered,
    })
    expect(await repos.messages.findByOrigin(accountId, 'in', 'tg-1')).toEqual(byTarget!)
    expect(await repos.messages.findByOrigin(accountId, 'in', 'nope')).toBeUndefined()
    expect(await repos.messages.markDelivered({ accountId, direction: 'in', originId: 'nope' })).toBe(false)
  })

  test('markRead by target; a later delivery receipt does not downgrade it', async () => {
    const read = at('2026-11-21T10:00:00Z')
    expect(await repos.messages.markRead({ accountId, targetId: 'b24-9' }, read)).toBe(true)
    await repos.messages.markDelivered({ accountId, targetId: 'b24-9' })
    expect(await repos.messages.findByTarget(accountId, 'b24-9')).toMatchObject({
      status: 'read',
      readAt: read,
    })
  })

  test('markEdited, setStatus and markChatReadUntil', async () => {
    const edited = at('2026-11-22T10:00:00Z')
    const ref = { accountId, direction: 'out' as const, originId: 'tg-1' }
    expect(await repos.messages.markEdited(ref, edited)).toBe(true)
    expect(await repos.messages.setStatus(ref, 'failed')).toBe(true)
    expect(await repos.messages.findByOrigin(accountId, 'out', 'tg-1')).toMatchObject({
      editedAt: edited,
      status: 'failed',
    })
    const old = at('2026-11-01T10:00:00Z')
    await repos.messages.recordOutbound({ accountId, chatId, originId: 'b24-old', sentAt: old })
    expect(await repos.messages.markChatReadUntil(chatId, 'out', at('2026-11-02T00:00:00Z'))).toBe(1)
    expect((await repos.messages.findByOrigin(accountId, 'out', 'b24-old'))!.status).toBe('read')
    expect((await repos.messages.findByOrigin(accountId, 'out', 'tg-1'))!.readAt).toBeNull()
    expect((await repos.messages.listByChat(chatId)).length).toBe(3)
  })

  test('ensurePartitions creates daily partitions and moves rows out of the default partition', async () => {
    await repos.messages.recordInbound({
      accountId,
      chatId,
      originId: 'p-a',
      sentAt: at('2001-03-01T10:00:00Z'),
    })
    await repos.messages.recordInbound({
      accountId,
      chatId,
      originId: 'p-b',
      sentAt: at('2001-03-02T10:00:00Z'),
    })
    await repos.messages.recordInbound({
      accountId,
      chatId,
      originId: 'p-c',
      sentAt: at('2001-03-02T13:00:00Z'),
    })
    await repos.messages.recordInbound({
      accountId,
      chatId,
      originId: 'p-z',
      sentAt: at('2000-12-31T10:00:00Z'),
    })
    expect(await partitionOf('p-a')).toBe('messages_default')
    expect(
      await repos.messages.ensurePartitions(at('2001-03-01T00:00:00Z'), at('2001-03-03T23:00:00Z')),
    ).toBe(3)
    expect(
      await repos.messages.ensurePartitions(at('2001-03-01T00:00:00Z'), at('2001-03-03T00:00:00Z')),
    ).toBe(0)
    expect(await partitionOf('p-a')).toBe('messages_20010301')
    expect(await partitionOf('p-b')).toBe('messages_20010302')
    expect(await partitionOf('p-z')).toBe('messages_default')
    expect(await repos.messages.listPartitions()).toEqual(
      expect.arrayContaining(['messages_20010301', 'messages_20010302', 'messages_20010303']),
    )
    // A moved row is still found by its dedup key.
    const again = await repos.messages.recordInbound({
      accountId,
      chatId,
      originId: 'p-a',
      sentAt: at('2001-03-01T10:00:00Z'),
    })
    expect(again.created).toBe(false)
  })

  test('ensurePartitionsAround creates the days around a date', async () => {
    await repos.messages.ensurePartitionsAround(at('2002-06-10T12:00:00Z'), { daysBehind: 1, daysAhead: 2 })
    expect(await repos.messages.listPartitions()).toEqual(
      expect.arrayContaining([
        'messages_20020609',
        'messages_20020610',
        'messages_20020611',
        'messages_20020612',
      ]),
    )
  })

  test('R3: metadata older than the cutoff goes (whole partitions dropped), newer rows stay', async () => {
    const result = await repos.messages.dropOlderThan(at('2001-03-02T12:00:00Z'))
    // messages_20010301 dropped whole (1 row); p-b deleted from the boundary day, p-z from the default.
    expect(result).toEqual({ droppedPartitions: 1, deletedRows: 3 })
    const partitions = await repos.messages.listPartitions()
    expect(partitions).not.toContain('messages_20010301')
    expect(partitions).toContain('messages_20010302')
    for (const gone of ['p-a', 'p-b', 'p-z']) expect(await partitionOf(gone)).toBeUndefined()
    expect(await partitionOf('p-c')).toBe('messages_20010302')
    expect(await repos.messages.findByOrigin(accountId, 'in', 'tg-1')).toBeDefined()
    const ninetyDaysAgo = new Date(Date.now() - 90 * 86_400_000)
    const second = await repos.messages.dropOlderThan(ninetyDaysAgo)
    expect(second.droppedPartitions).toBeGreaterThanOrEqual(5)
    expect(await partitionOf('p-c')).toBeUndefined()
    expect(await repos.messages.findByOrigin(accountId, 'in', 'tg-1')).toBeDefined()
  })
})
