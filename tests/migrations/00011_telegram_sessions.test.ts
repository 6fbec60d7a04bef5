import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, onDelete, tables } from './catalog.ts'

const TABLES = [
  'telegram_auth_keys',
  'telegram_kv',
  'telegram_peers',
  'telegram_message_refs',
  'telegram_message_chats',
]

let db: TestDatabase
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 10 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'telegram') returning id`
  accountId = account!.id
  expect(await migrate(db.sql, { upTo: 11 })).toEqual({ applied: [11], version: 11 })
})
afterAll(() => db.drop())

describe('migration 00011_telegram_sessions', () => {
  test('creates the five tables; each row belongs to an account and goes with it', async () => {
    expect(await tables(db.sql)).toEqual(expect.arrayContaining(TABLES))
    for (const table of TABLES)
      expect({ table, rule: await onDelete(db.sql, table, 'account_id') }).toEqual({ table, rule: 'c' })
  })

  test('secrets and personal data only in sealed bytea columns', async () => {
    const keys = await columns(db.sql, 'telegram_auth_keys')
    expect(keys.key_enc).toMatchObject({ type: 'bytea', nullable: false })
    const peers = await columns(db.sql, 'telegram_peers')
    expect(Object.keys(peers).sort()).toEqual(
      ['account_id', 'complete_enc', 'info_enc', 'is_min', 'peer_id', 'updated'].sort(),
    )
    expect(peers.peer_id!.type).toBe('bigint')
    expect((await columns(db.sql, 'telegram_kv')).value_enc!.type).toBe('bytea')
  })

  test('a permanent key has no expiry and a temporary one has', async () => {
    const defs = (await constraints(db.sql, 'telegram_auth_keys')).map((c) => `${c.type} ${c.def}`)
    expect(defs).toEqual(expect.arrayContaining(['p PRIMARY KEY (account_id, dc, temp_index)']))
    await expect(
      db.sql`insert into telegram_auth_keys (account_id, dc, key_enc, expires) values (${accountId}, 2, '\\x00', 5)`,
    ).rejects.toThrow()
    await expect(
      db.sql`insert into telegram_auth_keys (account_id, dc, temp_index, key_enc) values (${accountId}, 2, 0, '\\x00')`,
    ).rejects.toThrow()
    await db.sql`insert into telegram_auth_keys (account_id, dc, key_enc) values (${accountId}, 2, '\\x00')`
    await db.sql`
      insert into telegram_auth_keys (account_id, dc, temp_index, key_enc, expires)
      values (${accountId}, 2, 0, '\\x00', 1700000000)`
  })

  test('deleting the account deletes its rows', async () => {
    await db.sql`insert into telegram_kv (account_id, key, value_enc) values (${accountId}, 'k', '\\x00')`
    await db.sql`insert into telegram_message_chats (account_id, msg_id, chat_id) values (${accountId}, 1, 777)`
    await db.sql`delete from accounts where id = ${accountId}`
    const [row] = await db.sql<{ n: number }[]>`
      select (select count(*) from telegram_auth_keys) + (select count(*) from telegram_kv)
        + (select count(*) from telegram_message_chats) as n`
    expect(Number(row!.n)).toBe(0)
  })
})
