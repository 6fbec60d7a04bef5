import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns } from './catalog.ts'

let db: TestDatabase
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 12 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('m13', 'm13.bitrix24.ru') returning id`
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portal!.id}, 'sandbox') returning id`
  accountId = account!.id
})
afterAll(() => db.drop())

const insert = (key: string, status: string, claimedBy: string | null) => db.sql`
  insert into deliveries (account_id, direction, kind, idempotency_key, payload_enc, status, locked_until,
    claimed_by, claimed_at)
  values (${accountId}, 'to_portal', 'message', ${key}, ${Buffer.from('sealed')}, ${status},
    ${status === 'in_flight' ? new Date(Date.now() + 60_000) : null}, ${claimedBy},
    ${claimedBy === null ? null : new Date()})`

describe('migration 00013_delivery_claimers', () => {
  test('adds the claimer columns; existing rows keep none; only an in-flight row may name a claimer', async () => {
    await db.sql`
      insert into deliveries (account_id, direction, kind, idempotency_key, payload_enc)
      values (${accountId}, 'to_portal', 'message', 'before', ${Buffer.from('sealed')})`
    expect(await migrate(db.sql, { upTo: 13 })).toEqual({ applied: [13], version: 13 })
    const cols = await columns(db.sql, 'deliveries')
    expect(cols.claimed_by).toMatchObject({ type: 'text', nullable: true })
    expect(cols.claimed_at).toMatchObject({ type: 'timestamp with time zone', nullable: true })
    const [before] =
      await db.sql`select claimed_by, claimed_at from deliveries where idempotency_key = 'before'`
    expect(before).toEqual({ claimedBy: null, claimedAt: null })
    await insert('claimed', 'in_flight', 'instance-1')
    await insert('unclaimed', 'in_flight', null)
    await expect(insert('pending-claimed', 'pending', 'instance-1')).rejects.toThrow('deliveries_claimer')
  })
})
