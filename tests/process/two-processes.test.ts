import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { loadMigrations } from '../../storage/migrate.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

// Scale-out needs the real server: embedded PGlite is one process by design (see embedded.test.ts).
const real = testBackendSet() === 'real'
let db: TestDatabase

beforeAll(async () => {
  if (real) db = await createTestDatabase({ migrated: false })
})
afterAll(async () => {
  if (real) await db.drop()
})

describe('two processes against one empty PostgreSQL database', () => {
  test.skipIf(!real)('both come up at the same moment; migrations ran once', async () => {
    const env = {
      DATABASE_URL: db.url,
      REDIS_URL: testRedisUrl,
      OLCHAT_ENCRYPTION_KEYS: `k1:${generateKey()}`,
      OLCHAT_DATA_DIR: `/tmp/olchat-two-${process.pid}`,
    }
    const a = startOlchat(env)
    const b = startOlchat(env)
    try {
      await Promise.all([a.waitReady(20_000), b.waitReady(20_000)])
      const logs = await Promise.all(
        [a, b].map((p) =>
          p.waitForLog((l) => l.msg === 'migrations applied' || l.msg === 'schema up to date'),
        ),
      )
      const versions = loadMigrations().map((m) => m.version)
      const applied = logs.map((l) => l.applied as number[])
      // Exactly one of them applied everything; the other waited on the lock and found nothing to do.
      expect(applied.filter((list) => list.length > 0)).toEqual([versions])
      expect(applied.filter((list) => list.length === 0)).toHaveLength(1)
      const rows = await db.sql<{ version: number; n: number }[]>`
        select version, count(*)::int as n from schema_migrations group by version order by version`
      expect(rows.map((r) => r.version)).toEqual(versions)
      expect(rows.every((r) => r.n === 1)).toBe(true)
    } finally {
      expect(await Promise.all([a.stop(), b.stop()])).toEqual([0, 0])
    }
  })
})
