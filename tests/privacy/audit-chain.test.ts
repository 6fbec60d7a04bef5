import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { verifyAuditChain } from '../../src/privacy/audit-chain.ts'
import { cutoffOf, defaultPeriods } from '../../src/privacy/retention-periods.ts'
import { connect } from '../../storage/db.ts'
import { AuditLogRepository } from '../../storage/repos/audit-log.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

let db: TestDatabase
let audit: AuditLogRepository
beforeAll(async () => {
  db = await createTestDatabase()
  audit = new AuditLogRepository(db.sql)
})
afterAll(() => db.drop())

const DAY = 86_400_000

async function appendSome(n: number, action = 'account.connected') {
  for (let i = 0; i < n; i++) {
    await audit.append({
      portalRef: 'portal:0123456789abcdef0123456789abcdef',
      actor: `api-token:${i}`,
      actorRole: 'portal-admin',
      action,
      target: `account:${i}`,
      sourceIp: '203.0.113.7',
      details: { step: i, nested: { ok: true } },
    })
  }
}

/** An entry as JSON text (not through the client: its camelCase transform would rename the keys). */
async function saveRow(id: string): Promise<string> {
  const [row] = await db.sql<
    { row: string }[]
  >`select to_jsonb(a)::text as row from audit_log a where id = ${id}`
  return row!.row
}

const restoreRow = (id: string, saved: string) => db.sql`
  update audit_log a set
    (seq, at, portal_ref, actor, actor_role, action, target, source_ip, details, prev_hash, hash) = (
      select seq, at, portal_ref, actor, actor_role, action, target, source_ip, details, prev_hash, hash
      from jsonb_populate_record(null::audit_log, ${saved}::text::jsonb))
  where a.id = ${id}`

const reinsertRow = (saved: string) => db.sql`
  insert into audit_log overriding system value
  select * from jsonb_populate_record(null::audit_log, ${saved}::text::jsonb)`

/** Each way to alter one stored entry (SQL assignments). */
const tamperings: { what: string; change: string }[] = [
  { what: 'details', change: `details = details || '{"step": 99}'` },
  { what: 'actor', change: `actor = 'api-token:someone-else'` },
  { what: 'time', change: `at = at - interval '1 hour'` },
  { what: 'target', change: 'target = null' },
  { what: 'hash', change: 'hash = sha256(hash)' },
  { what: 'prev_hash', change: `prev_hash = sha256(coalesce(prev_hash, '\\x00'))` },
  { what: 'seq (moved)', change: 'seq = seq + 1000' },
]

describe('audit hash chain', () => {
  test('P2: every tampering with any entry is detected, and verification passes again once undone', async () => {
    await appendSome(5)
    expect(await verifyAuditChain(db.sql)).toMatchObject({ ok: true, checked: 5, head: { seq: '5' } })
    const ids = (await db.sql<{ id: string }[]>`select id from audit_log order by seq`).map((r) => r.id)
    for (const id of ids) {
      for (const { what, change } of tamperings) {
        const saved = await saveRow(id)
        await db.sql.unsafe(`update audit_log set ${change} where id = ${id}`)
        const result = await verifyAuditChain(db.sql)
        expect({ id, what, ok: result.ok }).toEqual({ id, what, ok: false })
        await restoreRow(id, saved)
        expect({ id, what, ok: (await verifyAuditChain(db.sql)).ok }).toEqual({ id, what, ok: true })
      }
    }
  })

  test('P2: a missing entry is detected, in the middle (broken link) and at the end (the head)', async () => {
    const [middle] = await db.sql<{ id: string }[]>`select id from audit_log order by seq offset 2 limit 1`
    const [last] = await db.sql<{ id: string }[]>`select id from audit_log order by seq desc limit 1`
    const missing: Record<string, unknown> = {}
    for (const [where, id] of [
      ['middle', middle!.id],
      ['end', last!.id],
    ] as const) {
      const saved = await saveRow(id)
      await db.sql`delete from audit_log where id = ${id}`
      missing[where] = await verifyAuditChain(db.sql)
      await reinsertRow(saved)
      expect((await verifyAuditChain(db.sql)).ok).toBe(true)
    }
    expect(missing).toMatchObject({
      middle: { ok: false, reason: 'prev_hash does not match the previous entry' },
      // The end cut off without touching the head: only the head can tell.
      end: { ok: false, brokenAt: 'head' },
    })
  })

  test('R5: purging entries older than 30 days keeps an anchor, so the chain still verifies (time travel)', async () => {
    const before = await verifyAuditChain(db.sql)
    // 31 days on, everything so far is past R5.
    const later = new Date(Date.now() + 31 * DAY)
    const purged = await audit.purgeOlderThan(cutoffOf(defaultPeriods, 'R5', later))
    expect(purged).toBe(before.checked)
    const afterPurge = await verifyAuditChain(db.sql)
    expect(afterPurge).toMatchObject({
      ok: true,
      checked: 0,
      head: before.head,
      anchor: { lastSeq: before.head.seq },
    })
    await appendSome(2, 'settings.changed')
    expect(await verifyAuditChain(db.sql)).toMatchObject({
      ok: true,
      checked: 2,
      head: { seq: String(Number(before.head.seq) + 2) },
    })
    // The anchor is part of the chain: altering it is detected.
    await db.sql`update audit_anchor set hash = sha256(hash)`
    expect((await verifyAuditChain(db.sql)).ok).toBe(false)
    await db.sql`update audit_anchor set hash = ${before.head.hash ? Buffer.from(before.head.hash, 'hex') : null}`
    expect((await verifyAuditChain(db.sql)).ok).toBe(true)
  })

  test.skipIf(testBackendSet() !== 'real')(
    'P2: appends from two pools at once stay one gap-free chain (the head row serialises them)',
    async () => {
      const other = connect(db.url, 4)
      try {
        const otherAudit = new AuditLogRepository(other)
        const start = Number((await verifyAuditChain(db.sql)).head.seq)
        await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            (i % 2 ? audit : otherAudit).append({ actor: `worker:${i}`, action: 'auth.failed' }),
          ),
        )
        const result = await verifyAuditChain(db.sql)
        expect(result).toMatchObject({ ok: true, head: { seq: String(start + 40) } })
        const seqs = await db.sql<
          { seq: string }[]
        >`select seq::text as seq from audit_log order by audit_log.seq`
        expect(seqs.map((r) => Number(r.seq))).toEqual(seqs.map((_, i) => Number(seqs[0]!.seq) + i))
      } finally {
        await other.end({ timeout: 1 })
      }
    },
  )

  // The CLI opens the database its configuration names; the embedded set has no server to point it at.
  test.skipIf(testBackendSet() !== 'real')(
    'P2: `olchat audit-verify` prints the verdict and fails on a broken chain',
    async () => {
      const run = async () => {
        const child = Bun.spawn([process.execPath, 'src/cli.ts', 'audit-verify'], {
          cwd: resolve(import.meta.dir, '../..'),
          env: {
            PATH: process.env.PATH ?? '',
            DATABASE_URL: db.url,
            REDIS_URL: testRedisUrl,
            OLCHAT_ENCRYPTION_KEYS: `k1:${generateKey()}`,
          },
          stdout: 'pipe',
          stderr: 'pipe',
        })
        const out = await new Response(child.stdout).text()
        return { code: await child.exited, report: JSON.parse(out.trim().split('\n').at(-1)!) }
      }
      const good = await run()
      expect(good).toMatchObject({ code: 0, report: { ok: true } })
      await db.sql`update audit_log set actor = 'forged' where seq = (select max(seq) from audit_log)`
      const bad = await run()
      expect(bad).toMatchObject({ code: 1, report: { ok: false, reason: 'hash does not match the entry' } })
    },
  )
})
