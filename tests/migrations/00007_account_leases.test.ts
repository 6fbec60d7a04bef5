import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, functionNames, indexes, onDelete, tables } from './catalog.ts'

let db: TestDatabase
let portalId: string
let keptAccount: string
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 6 })
  const [portal] = await db.sql<{ id: string }[]>`
    insert into portals (member_id, domain) values ('kept', 'kept.bitrix24.ru') returning id`
  portalId = portal!.id
  const [account] = await db.sql<{ id: string }[]>`
    insert into accounts (portal_id, messenger) values (${portalId}, 'sandbox') returning id`
  keptAccount = account!.id
  expect(await migrate(db.sql, { upTo: 7 })).toEqual({ applied: [7], version: 7 })
})
afterAll(() => db.drop())

const leaseOf = async (accountId: string) => {
  const [row] = await db.sql<{ owner: string | null; fencingToken: string }[]>`
    select owner, fencing_token from account_leases where account_id = ${accountId}`
  return row
}

describe('migration 00007_account_leases', () => {
  test('creates account_leases and instances; an existing account gets a free lease row', async () => {
    expect(await tables(db.sql)).toEqual(expect.arrayContaining(['account_leases', 'instances']))
    expect(await leaseOf(keptAccount)).toEqual({ owner: null, fencingToken: '0' })
  })

  test('columns: owner and times nullable, token bigint from 0', async () => {
    const cols = await columns(db.sql, 'account_leases')
    expect(cols.account_id!.type).toBe('uuid')
    expect(cols.owner).toMatchObject({ type: 'text', nullable: true })
    expect(cols.fencing_token).toMatchObject({ type: 'bigint', nullable: false, default: '0' })
    for (const name of ['expires_at', 'acquired_at', 'renewed_at']) {
      expect(cols[name]).toMatchObject({ type: 'timestamp with time zone', nullable: true })
    }
    const instances = await columns(db.sql, 'instances')
    expect(instances.id!.type).toBe('text')
    expect(instances.heartbeat_at!.default).toBe('now()')
  })

  test('a new account gets its lease row from the trigger', async () => {
    expect(await functionNames(db.sql)).toContain('account_leases_seed')
    const [account] = await db.sql<{ id: string }[]>`
      insert into accounts (portal_id, messenger) values (${portalId}, 'telegram') returning id`
    expect(await leaseOf(account!.id)).toEqual({ owner: null, fencingToken: '0' })
  })

  test('an owner always has an expiry and times; a free lease has no expiry', async () => {
    const defs = (await constraints(db.sql, 'account_leases')).map((c) => c.name)
    expect(defs).toEqual(
      expect.arrayContaining(['account_leases_owned', 'account_leases_times', 'account_leases_pkey']),
    )
    await expect(
      db.sql`update account_leases set owner = 'a' where account_id = ${keptAccount}`,
    ).rejects.toThrow('account_leases_owned')
    await expect(
      db.sql`update account_leases set owner = 'a', expires_at = now() where account_id = ${keptAccount}`,
    ).rejects.toThrow('account_leases_times')
    await expect(
      db.sql`update account_leases set fencing_token = -1 where account_id = ${keptAccount}`,
    ).rejects.toThrow('account_leases_fencing_token_check')
  })

  test('indexes for acquisition and per-owner lookups', async () => {
    const idx = await indexes(db.sql, 'account_leases')
    expect(idx.account_leases_expires_at).toContain('(expires_at NULLS FIRST)')
    expect(idx.account_leases_owner).toContain('WHERE (owner IS NOT NULL)')
    expect(Object.keys(await indexes(db.sql, 'instances'))).toContain('instances_heartbeat_at')
  })

  test('deleting the account deletes its lease', async () => {
    expect(await onDelete(db.sql, 'account_leases', 'account_id')).toBe('c')
    await db.sql`delete from portals where id = ${portalId}`
    const [row] = await db.sql<{ count: number }[]>`select count(*)::int as count from account_leases`
    expect(row!.count).toBe(0)
  })
})
