import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

let db: TestDatabase
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 8 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('m9', 'm9.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'sandbox') returning id`
  accountId = account!.id
})
afterAll(() => db.drop())

const insert = (status: string, key: string) => db.sql`
  insert into deliveries (account_id, direction, kind, idempotency_key, payload_enc, status, finished_at)
  values (${accountId}, 'to_portal', 'message', ${key}, ${Buffer.from('sealed')}, ${status},
    ${status === 'pending' ? null : new Date()})`

describe('migration 00009_dead_letter_bodies', () => {
  test('before: a dead letter cannot keep its body; after: it can, a delivered row still cannot', async () => {
    await insert('pending', 'kept-pending')
    await expect(insert('dead', 'dead-before')).rejects.toThrow('deliveries_body_dropped')
    expect(await migrate(db.sql, { upTo: 9 })).toEqual({ applied: [9], version: 9 })
    await insert('dead', 'dead-after')
    await expect(insert('done', 'done-after')).rejects.toThrow('deliveries_body_dropped')
    const rows = await db.sql<{ idempotencyKey: string }[]>`
      select idempotency_key from deliveries order by id`
    expect(rows.map((r) => r.idempotencyKey)).toEqual(['kept-pending', 'dead-after'])
  })
})
