import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints, onDelete, tables } from './catalog.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 0 })
})
afterAll(() => db.drop())

describe('migration 00001_portals', () => {
  test('creates portals and lines', async () => {
    expect(await tables(db.sql)).toEqual(['schema_migrations'])
    expect(await migrate(db.sql, { upTo: 1 })).toEqual({ applied: [1], version: 1 })
    expect(await tables(db.sql)).toEqual(['lines', 'portals', 'schema_migrations'])
  })

  test('portals: columns, sealed tokens as bytea, enums as checks', async () => {
    const cols = await columns(db.sql, 'portals')
    expect(Object.keys(cols).sort()).toEqual(
      [
        'access_token_enc',
        'app_client_id',
        'app_client_secret_enc',
        'application_token_enc',
        'client_endpoint',
        'domain',
        'id',
        'installed_at',
        'member_id',
        'rate_plan',
        'refresh_token_enc',
        'server_endpoint',
        'status',
        'token_expires_at',
        'updated_at',
      ].sort(),
    )
    for (const name of [
      'access_token_enc',
      'refresh_token_enc',
      'application_token_enc',
      'app_client_secret_enc',
    ]) {
      expect(cols[name]!.type).toBe('bytea')
    }
    expect(cols.id!.type).toBe('uuid')
    expect(cols.installed_at!.type).toBe('timestamp with time zone')
    expect(cols.member_id!.nullable).toBe(false)
    const defs = (await constraints(db.sql, 'portals')).map((c) => `${c.type} ${c.def}`)
    expect(defs).toContain('u UNIQUE (member_id)')
    expect(defs.some((d) => d.startsWith('c') && d.includes('needs_reauth'))).toBe(true)
    expect(defs.some((d) => d.startsWith('c') && d.includes('enterprise'))).toBe(true)
    await expect(
      db.sql`insert into portals (member_id, domain, status) values ('m', 'd', 'bogus')`,
    ).rejects.toThrow('check constraint')
  })

  test('lines: unique per portal, connector and line; deleted with the portal', async () => {
    const cols = await columns(db.sql, 'lines')
    expect(cols.settings!.type).toBe('jsonb')
    const defs = (await constraints(db.sql, 'lines')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (portal_id, connector_id, line_id)')
    expect(await onDelete(db.sql, 'lines', 'portal_id')).toBe('c')
    const [portal] = await db.sql<{ id: string }[]>`
      insert into portals (member_id, domain) values ('m1', 'a.bitrix24.ru') returning id`
    await db.sql`
      insert into lines (portal_id, connector_id, line_id) values (${portal!.id}, 'olchat_tg', '1')`
    await expect(
      db.sql`insert into lines (portal_id, connector_id, line_id) values (${portal!.id}, 'olchat_tg', '1')`,
    ).rejects.toThrow('duplicate key')
    await db.sql`delete from portals where id = ${portal!.id}`
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from lines`
    expect(left!.n).toBe(0)
  })
})
