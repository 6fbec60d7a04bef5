import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let portalId: string
let lineId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 1 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  portalId = portal!.id
  const [line] = await db.sql<{ id: string }[]>`
    insert into lines (portal_id, connector_id, line_id, settings)
    values (${portalId}, 'olchat_tg', '7', '{"ACTIVE": "Y"}') returning id`
  lineId = line!.id
  expect(await migrate(db.sql, { upTo: 2 })).toEqual({ applied: [2], version: 2 })
})
afterAll(() => db.drop())

describe('migration 00002_accounts', () => {
  test('creates accounts, account_sessions, contacts and chats; earlier rows survive', async () => {
    expect(await tables(db.sql)).toEqual([
      'account_sessions',
      'accounts',
      'chats',
      'contacts',
      'lines',
      'portals',
      'schema_migrations',
    ])
    const [line] = await db.sql<{ settings: string }[]>`select settings::text as settings from lines`
    expect(JSON.parse(line!.settings)).toEqual({ ACTIVE: 'Y' })
    const [portal] = await db.sql<
      { memberId: string }[]
    >`select member_id from portals where id = ${portalId}`
    expect(portal!.memberId).toBe('kept')
  })

  test('accounts: uuid id, sealed phone and credentials, health vocabulary', async () => {
    const cols = await columns(db.sql, 'accounts')
    expect(cols.id!.type).toBe('uuid')
    expect(cols.phone_enc!.type).toBe('bytea')
    expect(cols.credentials_enc!.type).toBe('bytea')
    expect(cols.phone).toBeUndefined()
    expect(cols.health_changed_at!.type).toBe('timestamp with time zone')
    expect(await onDelete(db.sql, 'accounts', 'portal_id')).toBe('c')
    expect(await onDelete(db.sql, 'accounts', 'line_id')).toBe('n')
    const checks = (await constraints(db.sql, 'accounts')).filter((c) => c.type === 'c').map((c) => c.def)
    expect(checks.join(' ')).toContain('flood_wait')
    expect(checks.join(' ')).toContain('sandbox')
    await expect(
      db.sql`insert into accounts (portal_id, messenger, health) values (${portalId}, 'telegram', 'sleepy')`,
    ).rejects.toThrow('check constraint')
    await expect(
      db.sql`insert into accounts (portal_id, messenger) values (${portalId}, 'whatsapp')`,
    ).rejects.toThrow('check constraint')
  })

  test('account_sessions: (account, key) primary key, sealed value', async () => {
    const cols = await columns(db.sql, 'account_sessions')
    expect(Object.keys(cols).sort()).toEqual(['account_id', 'key', 'updated_at', 'value_enc'])
    expect(cols.value_enc!.type).toBe('bytea')
    const defs = (await constraints(db.sql, 'account_sessions')).map((c) => `${c.type} ${c.def}`)
    expect(defs).toContain('p PRIMARY KEY (account_id, key)')
    expect(await onDelete(db.sql, 'account_sessions', 'account_id')).toBe('c')
  })

  test('contacts and chats: unique remote ids per account, cascades', async () => {
    expect((await constraints(db.sql, 'contacts')).map((c) => c.def)).toContain(
      'UNIQUE (account_id, remote_id)',
    )
    expect((await constraints(db.sql, 'chats')).map((c) => c.def)).toContain(
      'UNIQUE (account_id, remote_chat_id)',
    )
    expect((await columns(db.sql, 'contacts')).phone_enc!.type).toBe('bytea')
    expect((await columns(db.sql, 'chats')).context!.type).toBe('jsonb')
    expect(await onDelete(db.sql, 'contacts', 'account_id')).toBe('c')
    expect(await onDelete(db.sql, 'chats', 'account_id')).toBe('c')
    expect(await onDelete(db.sql, 'chats', 'contact_id')).toBe('c')
  })

  test('deleting the line unbinds the account; deleting the portal removes everything', async () => {
    const [account] = await db.sql<{ id: string }[]>`
      insert into accounts (portal_id, messenger, line_id)
      values (${portalId}, 'max', ${lineId}) returning id`
    const [contact] = await db.sql<{ id: string }[]>`
      insert into contacts (account_id, remote_id) values (${account!.id}, 'u1') returning id`
    await db.sql`
      insert into chats (account_id, contact_id, remote_chat_id)
      values (${account!.id}, ${contact!.id}, 'c1')`
    await db.sql`
      insert into account_sessions (account_id, key, value_enc) values (${account!.id}, 'k', '\\x00')`
    await db.sql`delete from lines where id = ${lineId}`
    const [unbound] = await db.sql<
      { lineId: string | null }[]
    >`select line_id from accounts where id = ${account!.id}`
    expect(unbound!.lineId).toBeNull()
    await db.sql`delete from portals where id = ${portalId}`
    const [left] = await db.sql<{ n: number }[]>`
      select (select count(*) from accounts) + (select count(*) from contacts) + (select count(*) from chats)
        + (select count(*) from account_sessions) as n`
    expect(Number(left!.n)).toBe(0)
  })
})
