import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, onDelete, tables } from './catalog.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 7 })
})
afterAll(() => db.drop())

describe('migration 00008_api_tokens', () => {
  test('creates api_tokens: hash only, optional portal scope deleted with the portal', async () => {
    expect(await migrate(db.sql, { upTo: 8 })).toEqual({ applied: [8], version: 8 })
    expect(await tables(db.sql)).toContain('api_tokens')
    const cols = await columns(db.sql, 'api_tokens')
    expect(Object.keys(cols).sort()).toEqual(
      ['created_at', 'id', 'last_used_at', 'name', 'portal_id', 'role', 'token_hash'].sort(),
    )
    expect(cols.token_hash!.type).toBe('bytea')
    expect(cols.portal_id!.nullable).toBe(true)
    expect(await onDelete(db.sql, 'api_tokens', 'portal_id')).toBe('c')
    await expect(
      db.sql`insert into api_tokens (token_hash, role) values (${Buffer.alloc(5)}, 'support')`,
    ).rejects.toThrow('check constraint')
    const [portal] = await db.sql<{ id: string }[]>`
      insert into portals (member_id, domain) values ('m', 'm.bitrix24.ru') returning id`
    await db.sql`
      insert into api_tokens (token_hash, role, portal_id) values (${Buffer.alloc(32)}, 'x', ${portal!.id})`
    await db.sql`delete from portals where id = ${portal!.id}`
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from api_tokens`
    expect(left!.n).toBe(0)
  })
})
