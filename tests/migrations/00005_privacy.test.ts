import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, indexes, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let portalId: string
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 4 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  portalId = portal!.id
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portalId}, 'telegram') returning id`
  accountId = account!.id
  await db.sql`
    insert into deliveries (account_id, direction, kind, idempotency_key, payload_enc)
    values (${accountId}, 'to_messenger', 'status', 'kept-delivery', '\\x01')`
  expect(await migrate(db.sql, { upTo: 5 })).toEqual({ applied: [5], version: 5 })
})
afterAll(() => db.drop())

describe('migration 00005_privacy', () => {
  test('creates the privacy tables; deliveries survive', async () => {
    expect(await tables(db.sql)).toEqual(
      expect.arrayContaining([
        'analytics_daily',
        'audit_anchor',
        'audit_log',
        'data_requests',
        'retention_deadlines',
      ]),
    )
    const [row] = await db.sql<{ idempotencyKey: string }[]>`select idempotency_key from deliveries`
    expect(row!.idempotencyKey).toBe('kept-delivery')
  })

  test('audit_log: hash chain columns, no foreign key to the portal (it must outlive it)', async () => {
    const cols = await columns(db.sql, 'audit_log')
    expect(cols.hash!.type).toBe('bytea')
    expect(cols.prev_hash!.type).toBe('bytea')
    expect(cols.portal_ref!.type).toBe('text')
    expect((await constraints(db.sql, 'audit_log')).filter((c) => c.type === 'f')).toEqual([])
    expect(Object.values(await indexes(db.sql, 'audit_log')).join('\n')).toContain('(at)')
    await db.sql`insert into audit_anchor (last_id, hash) values (1, '\\x00')`
    await expect(
      db.sql`insert into audit_anchor (id, last_id, hash) values (2, 1, '\\x00')`,
    ).rejects.toThrow()
  })

  test('data_requests: kinds, status and receipt', async () => {
    const cols = await columns(db.sql, 'data_requests')
    expect(cols.id!.type).toBe('uuid')
    expect(cols.receipt!.type).toBe('jsonb')
    await expect(
      db.sql`insert into data_requests (portal_ref, kind, requested_by) values ('p', 'rectify', 'x')`,
    ).rejects.toThrow('check constraint')
  })

  test('analytics_daily: one row per portal, account (null = portal-wide) and day', async () => {
    const defs = (await constraints(db.sql, 'analytics_daily')).map((c) => c.def)
    expect(defs).toContain('UNIQUE NULLS NOT DISTINCT (portal_id, account_id, day)')
    expect(await onDelete(db.sql, 'analytics_daily', 'portal_id')).toBe('c')
    await db.sql`insert into analytics_daily (portal_id, day, inbound) values (${portalId}, '2026-01-01', 1)`
    await expect(
      db.sql`insert into analytics_daily (portal_id, day, inbound) values (${portalId}, '2026-01-01', 1)`,
    ).rejects.toThrow('duplicate key')
  })

  test('retention_deadlines: one deadline per class and subject, indexed by due time', async () => {
    const cols = await columns(db.sql, 'retention_deadlines')
    expect(cols.due_at!.type).toBe('timestamp with time zone')
    const defs = (await constraints(db.sql, 'retention_deadlines')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (data_class, subject_type, subject_id)')
    expect(Object.values(await indexes(db.sql, 'retention_deadlines')).join('\n')).toContain('(due_at)')
  })
})
