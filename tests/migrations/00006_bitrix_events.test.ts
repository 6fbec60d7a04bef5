import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { listSealedColumns } from '../../src/crypto/reencrypt.ts'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, indexes, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let portalId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 5 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  portalId = portal!.id
  await db.sql`
    insert into data_requests (portal_ref, kind, requested_by) values ('kept', 'access', 'test')`
  expect(await migrate(db.sql, { upTo: 6 })).toEqual({ applied: [6], version: 6 })
})
afterAll(() => db.drop())

describe('migration 00006_bitrix_events', () => {
  test('creates inbound_events; earlier rows survive', async () => {
    expect(await tables(db.sql)).toContain('inbound_events')
    const [row] = await db.sql<{ memberId: string }[]>`select member_id from portals`
    expect(row!.memberId).toBe('kept')
    const [request] = await db.sql<{ portalRef: string }[]>`select portal_ref from data_requests`
    expect(request!.portalRef).toBe('kept')
  })

  test('S4: the body is a sealed bytea column under the table.column convention', async () => {
    const cols = await columns(db.sql, 'inbound_events')
    expect(cols.payload_enc!.type).toBe('bytea')
    expect(cols.payload_enc!.nullable).toBe(true)
    expect(cols.status!.default).toContain('pending')
    expect(cols.attempts!.default).toBe('0')
    const sealed = await listSealedColumns(db.sql)
    expect(sealed).toContainEqual({
      table: 'inbound_events',
      column: 'payload_enc',
      context: 'inbound_events.payload',
    })
  })

  test('dedup key is unique, the portal cascades, status is constrained', async () => {
    const defs = (await constraints(db.sql, 'inbound_events')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (dedup_key)')
    expect(await onDelete(db.sql, 'inbound_events', 'portal_id')).toBe('c')
    await db.sql`
      insert into inbound_events (portal_id, event, dedup_key, payload_enc)
      values (${portalId}, 'ONAPPUPDATE', 'k1', '\\x01')`
    await expect(
      db.sql`insert into inbound_events (portal_id, event, dedup_key, payload_enc)
        values (${portalId}, 'ONAPPUPDATE', 'k1', '\\x01')`,
    ).rejects.toThrow('inbound_events_dedup_key_key')
    await expect(
      db.sql`update inbound_events set status = 'lost', payload_enc = null, processed_at = now()
        where dedup_key = 'k1'`,
    ).rejects.toThrow('inbound_events_status_check')
  })

  test('R8: a finished row cannot keep its body, a pending row must have one', async () => {
    await expect(
      db.sql`update inbound_events set status = 'done', processed_at = now() where dedup_key = 'k1'`,
    ).rejects.toThrow('inbound_events_body')
    await expect(
      db.sql`insert into inbound_events (portal_id, event, dedup_key) values (${portalId}, 'X', 'k2')`,
    ).rejects.toThrow('inbound_events_body')
    await db.sql`
      update inbound_events set status = 'done', processed_at = now(), payload_enc = null
      where dedup_key = 'k1'`
  })

  test('deleting the portal deletes its events', async () => {
    await db.sql`delete from portals where id = ${portalId}`
    const [row] = await db.sql<{ count: number }[]>`select count(*)::int as count from inbound_events`
    expect(row!.count).toBe(0)
  })

  test('claim and order indexes exist', async () => {
    const idx = await indexes(db.sql, 'inbound_events')
    expect(idx.inbound_events_claim).toContain('WHERE (status = ')
    expect(idx.inbound_events_order).toContain('(portal_id, order_key, id)')
    expect(idx.inbound_events_portal_id).toContain('(portal_id)')
  })
})
