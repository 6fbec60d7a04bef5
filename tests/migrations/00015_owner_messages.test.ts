import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, indexes } from './catalog.ts'

let db: TestDatabase
let accountId: string
let chatId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 14 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('m15', 'm15.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'telegram') returning id`
  accountId = account!.id
  const [chat] = await db.sql<{ id: string }[]>`
    insert into chats (account_id, remote_chat_id) values (${accountId}, 'c1') returning id`
  chatId = chat!.id
})
afterAll(() => db.drop())

describe('migration 00015_owner_messages', () => {
  test("existing accounts name no employee and existing messages are customers', awaiting no echo", async () => {
    await db.sql`
      insert into messages (account_id, chat_id, direction, origin_id, sent_at)
      values (${accountId}, ${chatId}, 'in', '7', now())`
    expect(await migrate(db.sql, { upTo: 15 })).toEqual({ applied: [15], version: 15 })
    expect((await columns(db.sql, 'accounts')).employee_id).toMatchObject({
      type: 'bigint',
      nullable: true,
      default: null,
    })
    const messageColumns = await columns(db.sql, 'messages')
    expect(messageColumns.employee_id).toMatchObject({ type: 'bigint', nullable: true, default: null })
    expect(messageColumns.echo_id).toMatchObject({ type: 'text', nullable: true, default: null })
    const [row] = await db.sql`select employee_id, echo_id from messages where origin_id = '7'`
    expect(row).toEqual({ employeeId: null, echoId: null })
    const [account] = await db.sql`select employee_id from accounts where id = ${accountId}`
    expect(account).toEqual({ employeeId: null })
  })

  test('an employee id must be positive', async () => {
    const checks = (await constraints(db.sql, 'accounts')).filter((c) => c.def.includes('employee_id'))
    expect(checks.map((c) => c.def)).toEqual(['CHECK ((employee_id > 0))'])
    await expect(db.sql`update accounts set employee_id = 0 where id = ${accountId}`).rejects.toThrow()
    await db.sql`update accounts set employee_id = 27 where id = ${accountId}`
  })

  test('the owner-message index is partial, and partitions made later get the columns too', async () => {
    expect((await indexes(db.sql, 'messages')).messages_owner).toContain('WHERE (employee_id IS NOT NULL)')
    // A day far ahead: its partition is created now, after the columns were added to the parent.
    const later = new Date(Date.now() + 30 * 86_400_000)
    await db.sql`select messages_ensure_partitions(${later}::date, ${later}::date)`
    await db.sql`
      insert into messages (account_id, chat_id, direction, origin_id, sent_at, employee_id, echo_id)
      values (${accountId}, ${chatId}, 'in', '8', ${later}, 27, '86497')`
    const [row] = await db.sql`
      select tableoid::regclass::text as part, employee_id, echo_id from messages where origin_id = '8'`
    expect(row).toMatchObject({ employeeId: '27', echoId: '86497' })
    expect(row!.part).not.toBe('messages_default')
  })
})
