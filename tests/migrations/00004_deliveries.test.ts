import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, indexes, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let accountId: string
let chatId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 3 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'telegram') returning id`
  accountId = account!.id
  const [chat] = await db.sql<{ id: string }[]>`
    insert into chats (account_id, remote_chat_id) values (${accountId}, 'c1') returning id`
  chatId = chat!.id
  await db.sql`
    insert into messages (account_id, chat_id, direction, origin_id, sent_at)
    values (${accountId}, ${chatId}, 'in', 'kept-message', now())`
  expect(await migrate(db.sql, { upTo: 4 })).toEqual({ applied: [4], version: 4 })
})
afterAll(() => db.drop())

describe('migration 00004_deliveries', () => {
  test('creates deliveries; messages survive', async () => {
    expect(await tables(db.sql)).toContain('deliveries')
    const [row] = await db.sql<{ originId: string }[]>`select origin_id from messages`
    expect(row!.originId).toBe('kept-message')
  })

  test('columns: sealed payload, unique idempotency key, dead letter after 7 days by default', async () => {
    const cols = await columns(db.sql, 'deliveries')
    expect(cols.payload_enc!.type).toBe('bytea')
    expect(cols.chat_id!.nullable).toBe(true)
    expect(cols.expires_at!.default).toContain('7 days')
    const defs = (await constraints(db.sql, 'deliveries')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (idempotency_key)')
    expect(await onDelete(db.sql, 'deliveries', 'account_id')).toBe('c')
    expect(await onDelete(db.sql, 'deliveries', 'chat_id')).toBe('c')
    const [row] = await db.sql<{ days: number }[]>`
      insert into deliveries (account_id, chat_id, direction, kind, idempotency_key, payload_enc)
      values (${accountId}, ${chatId}, 'to_portal', 'message', 'k1', '\\x01')
      returning extract(epoch from expires_at - created_at)::int / 86400 as days`
    expect(row!.days).toBe(7)
  })

  test('R8: a finished row cannot keep its body', async () => {
    const keepBody = db.sql`
      update deliveries set status = 'done', finished_at = now() where idempotency_key = 'k1'`
    await expect(keepBody).rejects.toThrow('deliveries_body_dropped')
    await db.sql`
      update deliveries set status = 'done', finished_at = now(), payload_enc = null
      where idempotency_key = 'k1'`
  })

  test('claim indexes exist', async () => {
    const idx = await indexes(db.sql, 'deliveries')
    expect(idx.deliveries_claim_account).toContain('(account_id, direction, id)')
    expect(idx.deliveries_claim_direction).toContain('(direction, id)')
    expect(idx.deliveries_chat_order).toContain('(chat_id, direction, id)')
  })
})
