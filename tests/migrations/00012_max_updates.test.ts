import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { listSealedColumns } from '../../src/crypto/reencrypt.ts'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, indexes, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 11 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'max') returning id`
  accountId = account!.id
  expect(await migrate(db.sql, { upTo: 12 })).toEqual({ applied: [12], version: 12 })
})
afterAll(() => db.drop())

describe('migration 00012_max_updates', () => {
  test('creates max_updates; earlier rows survive; rows go with their account', async () => {
    expect(await tables(db.sql)).toContain('max_updates')
    const [row] = await db.sql<
      { messenger: string }[]
    >`select messenger from accounts where id = ${accountId}`
    expect(row!.messenger).toBe('max')
    expect(await onDelete(db.sql, 'max_updates', 'account_id')).toBe('c')
  })

  test('S4: the raw update is a sealed bytea column under the table.column convention', async () => {
    const cols = await columns(db.sql, 'max_updates')
    expect(cols.body_enc).toMatchObject({ type: 'bytea', nullable: true })
    expect(await listSealedColumns(db.sql)).toContainEqual({
      table: 'max_updates',
      column: 'body_enc',
      context: 'max_updates.body',
    })
  })

  test('one row per (account, update key); a handled row cannot keep its body, a pending one must have it', async () => {
    const defs = (await constraints(db.sql, 'max_updates')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (account_id, update_key)')
    await db.sql`
      insert into max_updates (account_id, update_key, update_type, body_enc)
      values (${accountId}, 'message_created:mid.1', 'message_created', '\\x01')`
    await expect(
      db.sql`insert into max_updates (account_id, update_key, update_type, body_enc)
        values (${accountId}, 'message_created:mid.1', 'message_created', '\\x02')`,
    ).rejects.toThrow('max_updates_account_id_update_key_key')
    await expect(
      db.sql`update max_updates set handled_at = now() where update_key = 'message_created:mid.1'`,
    ).rejects.toThrow('max_updates_body')
    await expect(
      db.sql`insert into max_updates (account_id, update_key, update_type) values (${accountId}, 'k', 't')`,
    ).rejects.toThrow('max_updates_body')
    await db.sql`
      update max_updates set handled_at = now(), body_enc = null where update_key = 'message_created:mid.1'`
  })

  test('indexes for the drain and the sweep; deleting the account deletes its rows', async () => {
    const idx = await indexes(db.sql, 'max_updates')
    expect(idx.max_updates_pending).toContain('(account_id, id) WHERE (handled_at IS NULL)')
    expect(idx.max_updates_handled).toContain('(account_id, handled_at)')
    await db.sql`delete from accounts where id = ${accountId}`
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from max_updates`
    expect(row!.n).toBe(0)
  })
})
