import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { migrate } from '../../storage/migrate.ts'
import { chainHash, type HashedContent } from '../../storage/repos/audit-log.ts'
import { repositories } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { columns, constraints } from './catalog.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
  await migrate(db.sql, { upTo: 9 })
})
afterAll(() => db.drop())

/** An entry chained the way version 9 chained them (by hash, no position), written straight into the table. */
async function appendV9(prev: Buffer | null, action: string): Promise<Buffer> {
  const content: HashedContent = {
    at: new Date('2026-03-01T10:00:00.000Z'),
    portalRef: null,
    actor: 'system',
    actorRole: null,
    action,
    target: null,
    sourceIp: null,
    details: {},
  }
  const hash = chainHash(prev, content)
  await db.sql`
    insert into audit_log (at, actor, action, details, prev_hash, hash)
    values (${content.at}, 'system', ${action}, '{}', ${prev}, ${hash})`
  return hash
}

describe('migration 00010_audit_chain', () => {
  test('P2: existing entries get gap-free positions after the purged ones, the head is the newest', async () => {
    let prev: Buffer | null = null
    for (const action of ['a', 'b', 'c', 'd', 'e']) prev = await appendV9(prev, action)
    // As version 9 purged: two entries gone, the hash of the second anchored.
    const [second] = await db.sql<{ id: string; hash: Buffer }[]>`
      select id, hash from audit_log order by id offset 1 limit 1`
    await db.sql`delete from audit_log where id <= ${second!.id}`
    await db.sql`insert into audit_anchor (last_id, hash, purged_count) values (${second!.id}, ${second!.hash}, 2)`

    expect(await migrate(db.sql, { upTo: 10 })).toEqual({ applied: [10], version: 10 })

    const rows = await db.sql<{ action: string; seq: string }[]>`
      select action, seq::text as seq from audit_log order by id`
    expect([...rows]).toEqual([
      { action: 'c', seq: '3' },
      { action: 'd', seq: '4' },
      { action: 'e', seq: '5' },
    ])
    const [anchor] = await db.sql<{ lastSeq: string }[]>`select last_seq::text as last_seq from audit_anchor`
    expect(anchor!.lastSeq).toBe('2')
    const [head] = await db.sql<{ seq: string; hash: Buffer }[]>`
      select seq::text as seq, hash from audit_chain_head`
    expect(head).toEqual({ seq: '5', hash: prev! })

    // The migrated chain verifies and keeps growing from its head.
    const repos = repositories(db.sql)
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 3 })
    const next = await repos.auditLog.append({ actor: 'system', action: 'f' })
    expect(next).toMatchObject({ seq: '6', prevHash: prev! })
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 4 })
  })

  test('columns and constraints: seq is required and unique, one head row only', async () => {
    const cols = await columns(db.sql, 'audit_log')
    expect(cols.seq).toMatchObject({ type: 'bigint', nullable: false })
    const defs = (await constraints(db.sql, 'audit_log')).map((c) => c.def)
    expect(defs).toContain('UNIQUE (seq)')
    await expect(
      db.sql`insert into audit_log (seq, actor, action, hash) values (6, 'x', 'y', '\\x00')`,
    ).rejects.toThrow('audit_log_seq_key')
    await expect(
      db.sql`insert into audit_chain_head (id, seq, hash) values (2, 1, '\\x00')`,
    ).rejects.toThrow()
    await expect(db.sql`update audit_chain_head set hash = null`).rejects.toThrow('audit_chain_head_hash')
  })

  test('a fresh database starts with an empty head', async () => {
    const fresh = await createTestDatabase()
    try {
      const [head] = await fresh.sql<{ seq: string; hash: Buffer | null }[]>`
        select seq::text as seq, hash from audit_chain_head`
      expect(head).toEqual({ seq: '0', hash: null })
      const first = await repositories(fresh.sql).auditLog.append({ actor: 'system', action: 'first' })
      expect(first).toMatchObject({ seq: '1', prevHash: null })
    } finally {
      await fresh.drop()
    }
  })
})
