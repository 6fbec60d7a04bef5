import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { canonicalJson } from '../../storage/repos/audit-log.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
})
afterAll(() => db.drop())

async function dbNow(): Promise<Date> {
  const [row] = await db.sql<{ now: Date }[]>`select clock_timestamp() as now`
  return row!.now
}

describe('AuditLogRepository', () => {
  test('canonical JSON ignores key order and undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}',
    )
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }))
  })

  test('P2: appended entries form a hash chain that verifies', async () => {
    const first = await repos.auditLog.append({
      portalRef: 'ref-1',
      actor: 'admin:7',
      actorRole: 'admin',
      action: 'account.connect',
      target: 'account:abc',
      sourceIp: '203.0.113.5',
      details: { MESSENGER: 'telegram', step_id: 'code', nested: { at: new Date('2026-01-01T00:00:00Z') } },
    })
    expect(first.prevHash).toBeNull()
    expect(first.hash).toHaveLength(32)
    expect(first.details).toEqual({
      MESSENGER: 'telegram',
      step_id: 'code',
      nested: { at: '2026-01-01T00:00:00.000Z' },
    })
    const second = await repos.auditLog.append({ actor: 'system', action: 'retention.sweep' })
    expect(second.prevHash).toEqual(first.hash)
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 2 })
  })

  test('append joins the caller transaction: rolled back with it, chain intact', async () => {
    const failure = await db.sql
      .begin(async (tx) => {
        await repos.auditLog.append({ actor: 'admin:7', action: 'settings.change' }, tx)
        throw new Error('the action itself failed')
      })
      .catch((error: Error) => error)
    expect((failure as Error).message).toBe('the action itself failed')
    await db.sql.begin((tx) => repos.auditLog.append({ actor: 'admin:7', action: 'settings.change' }, tx))
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 3 })
  })

  test('concurrent appends still chain one after another', async () => {
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        repos.auditLog.append({ actor: `worker:${i}`, action: 'auth.failed' }),
      ),
    )
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 15 })
  })

  test('listByPortal, newest first', async () => {
    await repos.auditLog.append({ portalRef: 'ref-1', actor: 'admin:7', action: 'account.disconnect' })
    const entries = await repos.auditLog.listByPortal('ref-1')
    expect(entries.map((e) => e.action)).toEqual(['account.disconnect', 'account.connect'])
    expect(await repos.auditLog.listByPortal('ref-1', { beforeId: entries[0]!.id })).toHaveLength(1)
  })

  test('P2: verifyChain fails after a row is tampered with, and names the row', async () => {
    const [target] = await db.sql<{ id: string; details: string }[]>`
      select id, details::text as details from audit_log where action = 'account.connect'`
    await db.sql`update audit_log set details = '{"MESSENGER": "max"}' where id = ${target!.id}`
    const result = await repos.auditLog.verifyChain()
    expect(result).toMatchObject({ ok: false, brokenAt: target!.id, reason: 'hash does not match the entry' })
    const original = db.sql.json(JSON.parse(target!.details))
    await db.sql`update audit_log set details = ${original} where id = ${target!.id}`
    expect((await repos.auditLog.verifyChain()).ok).toBe(true)
    // Deleting an entry from the middle breaks the link of the next one (tried in a rolled-back transaction).
    const [middle] = await db.sql<{ id: string }[]>`select id from audit_log order by id offset 2 limit 1`
    const rolledBack = new Error('roll back')
    const outcome = await db.sql
      .begin(async (tx) => {
        await tx`delete from audit_log where id = ${middle!.id}`
        const broken = await repos.auditLog.verifyChain(tx)
        expect(broken).toMatchObject({ ok: false, reason: expect.stringContaining('prev_hash') })
        throw rolledBack
      })
      .catch((error: unknown) => error)
    expect(outcome).toBe(rolledBack)
    expect((await repos.auditLog.verifyChain()).ok).toBe(true)
  })

  test('R5: purging old entries anchors the chain, which still verifies and keeps growing', async () => {
    const cutoff = await dbNow()
    const kept = await repos.auditLog.append({ actor: 'system', action: 'after.cutoff' })
    const total = (await repos.auditLog.verifyChain()) as { checked: number }
    expect(await repos.auditLog.purgeOlderThan(cutoff)).toBe(total.checked - 1)
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 1 })
    const [anchor] = await db.sql<
      { hash: Buffer; purgedCount: string }[]
    >`select hash, purged_count from audit_anchor`
    expect(anchor!.hash).toEqual(kept.prevHash!)
    expect(Number(anchor!.purgedCount)).toBe(total.checked - 1)
    expect(await repos.auditLog.purgeOlderThan(cutoff)).toBe(0)
    await repos.auditLog.append({ actor: 'system', action: 'later' })
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 2 })
    // Everything purged: the next entry chains onto the anchor.
    expect(await repos.auditLog.purgeOlderThan(new Date(Date.now() + 60_000))).toBe(2)
    const next = await repos.auditLog.append({ actor: 'system', action: 'fresh' })
    const [anchorNow] = await db.sql<{ hash: Buffer }[]>`select hash from audit_anchor`
    expect(next.prevHash).toEqual(anchorNow!.hash)
    expect(await repos.auditLog.verifyChain()).toEqual({ ok: true, checked: 1 })
    await db.sql`update audit_anchor set hash = '\\x00'`
    expect((await repos.auditLog.verifyChain()).ok).toBe(false)
  })
})
