import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns } from './catalog.ts'

let db: TestDatabase
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 13 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('m14', 'm14.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'sandbox') returning id`
  accountId = account!.id
})
afterAll(() => db.drop())

describe('migration 00014_contact_avatar_sent', () => {
  test('adds contacts.avatar_sent_key; existing contacts have sent nothing, so their avatar goes next', async () => {
    await db.sql`
      insert into contacts (account_id, remote_id, avatar_key)
      values (${accountId}, 'u1', 'p/x/a/y/avatars/1')`
    expect(await migrate(db.sql, { upTo: 14 })).toEqual({ applied: [14], version: 14 })
    const cols = await columns(db.sql, 'contacts')
    expect(cols.avatar_sent_key).toMatchObject({ type: 'text', nullable: true, default: null })
    const [before] = await db.sql`
      select avatar_key, avatar_sent_key from contacts where remote_id = 'u1'`
    expect(before).toEqual({ avatarKey: 'p/x/a/y/avatars/1', avatarSentKey: null })
  })
})
