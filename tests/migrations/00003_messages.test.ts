import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, functionNames, indexes, onDelete, partitions } from './catalog.ts'

let db: TestDatabase
let accountId: string
let chatId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 2 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'telegram') returning id`
  accountId = account!.id
  const [chat] = await db.sql<{ id: string }[]>`
    insert into chats (account_id, remote_chat_id) values (${accountId}, 'c1') returning id`
  chatId = chat!.id
  expect(await migrate(db.sql, { upTo: 3 })).toEqual({ applied: [3], version: 3 })
})
afterAll(() => db.drop())

const utcDay = (offsetDays: number) => {
  const day = new Date(Date.now() + offsetDays * 86_400_000)
  return day.toISOString().slice(0, 10).replaceAll('-', '')
}

describe('migration 00003_messages', () => {
  test('earlier rows survive', async () => {
    const [row] = await db.sql<
      { remoteChatId: string }[]
    >`select remote_chat_id from chats where id = ${chatId}`
    expect(row!.remoteChatId).toBe('c1')
  })

  test('messages is range-partitioned by sent_at with a default partition', async () => {
    const [kind] = await db.sql<{ strategy: string; key: string }[]>`
      select p.partstrat::text as strategy, pg_get_partkeydef(p.partrelid) as key
      from pg_partitioned_table p where p.partrelid = 'messages'::regclass`
    expect(kind).toEqual({ strategy: 'r', key: 'RANGE (sent_at)' })
    const parts = await partitions(db.sql, 'messages')
    expect(parts.find((p) => p.name === 'messages_default')?.bound).toBe('DEFAULT')
  })

  test('daily UTC partitions from yesterday to a week ahead exist', async () => {
    const names = (await partitions(db.sql, 'messages')).map((p) => p.name)
    for (let offset = -1; offset <= 7; offset++) expect(names).toContain(`messages_${utcDay(offset)}`)
    // Bounds are UTC midnights whatever the session time zone.
    const [bounds] = await db.sql<{ lower: Date; upper: Date }[]>`
      select (regexp_match(b, 'FROM \\(''([^'']+)''\\)'))[1]::timestamptz as lower,
        (regexp_match(b, 'TO \\(''([^'']+)''\\)'))[1]::timestamptz as upper
      from pg_get_expr((select relpartbound from pg_class where relname = ${`messages_${utcDay(0)}`}),
        ${'messages'}::regclass) b`
    const midnight = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`)
    expect(bounds).toEqual({ lower: midnight, upper: new Date(midnight.getTime() + 86_400_000) })
  })

  test('columns, dedup key with the partition key, lookup indexes, cascades', async () => {
    const cols = await columns(db.sql, 'messages')
    expect(Object.keys(cols).sort()).toEqual(
      [
        'account_id',
        'chat_id',
        'delivered_at',
        'direction',
        'edited_at',
        'id',
        'origin_id',
        'read_at',
        'sent_at',
        'status',
        'target_id',
      ].sort(),
    )
    expect(cols.sent_at!.nullable).toBe(false)
    const defs = (await constraints(db.sql, 'messages')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (account_id, origin_id, direction, sent_at)')
    expect(defs).toContain('PRIMARY KEY (id, sent_at)')
    const idx = Object.values(await indexes(db.sql, 'messages')).join('\n')
    expect(idx).toContain('(account_id, target_id)')
    expect(idx).toContain('(chat_id, sent_at)')
    expect(await onDelete(db.sql, 'messages', 'account_id')).toBe('c')
    expect(await onDelete(db.sql, 'messages', 'chat_id')).toBe('c')
  })

  test('the partition maintenance functions exist and rows route to their day', async () => {
    expect(await functionNames(db.sql)).toEqual(
      expect.arrayContaining(['messages_drop_before', 'messages_ensure_partitions']),
    )
    await db.sql`
      insert into messages (account_id, chat_id, direction, origin_id, sent_at)
      values (${accountId}, ${chatId}, 'in', 'm1', now()),
        (${accountId}, ${chatId}, 'in', 'm0', '2001-02-03Z')`
    const rows = await db.sql<{ part: string; originId: string }[]>`
      select tableoid::regclass::text as part, origin_id from messages order by origin_id`
    expect([...rows]).toEqual([
      { part: 'messages_default', originId: 'm0' },
      { part: `messages_${utcDay(0)}`, originId: 'm1' },
    ])
  })
})
