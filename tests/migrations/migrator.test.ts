import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { loadMigrations, type Migration, MigrationError, migrate } from '../../storage/migrate.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const m = (version: number, sql: string): Migration => ({
  version,
  name: `m${version}`,
  sql,
  checksum: `c${version}`,
})

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrated: false })
})
afterAll(() => db.drop())

async function tableExists(name: string): Promise<boolean> {
  const [row] = await db.sql<{ found: boolean }[]>`select to_regclass(${name}) is not null as found`
  return row!.found
}

describe('migrator', () => {
  test('a failing migration rolls back every pending one and says which failed', async () => {
    const error = await migrate(db.sql, {
      migrations: [m(1, 'create table ok_one (id int)'), m(2, 'create table broken (id nosuchtype)')],
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MigrationError)
    expect((error as Error).message).toStartWith('migration 2 (m2) failed:')
    expect(await tableExists('ok_one')).toBe(false)
    // Even the bookkeeping table was rolled back with the rest.
    expect(await tableExists('schema_migrations')).toBe(false)
  })

  test('applies in order, once; upTo stops early', async () => {
    const list = [m(1, 'create table step_one (id int)'), m(2, 'create table step_two (id int)')]
    expect(await migrate(db.sql, { migrations: list, upTo: 1 })).toEqual({ applied: [1], version: 1 })
    expect(await tableExists('step_two')).toBe(false)
    expect(await migrate(db.sql, { migrations: list })).toEqual({ applied: [2], version: 2 })
    expect(await migrate(db.sql, { migrations: list })).toEqual({ applied: [], version: 2 })
  })

  test('an applied migration that was edited afterwards is refused', async () => {
    const edited = [{ ...m(1, 'create table step_one (id int)'), checksum: 'other' }, m(2, '')]
    await expect(migrate(db.sql, { migrations: edited })).rejects.toThrow('migration 1 (m1) was changed')
  })

  test('a database newer than the code is refused', async () => {
    await expect(migrate(db.sql, { migrations: [m(1, 'create table step_one (id int)')] })).rejects.toThrow(
      'newer than this Olchat knows',
    )
  })

  test('migration folders must be numbered without gaps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'olchat-migrations-'))
    try {
      for (const name of ['00001_first', '00003_third']) {
        mkdirSync(join(dir, name))
        writeFileSync(join(dir, name, 'index.sql'), 'select 1')
      }
      expect(() => loadMigrations(dir)).toThrow('expected version 2')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('the shipped migrations are numbered 1..N', () => {
    const list = loadMigrations()
    expect(list.length).toBeGreaterThan(0)
    expect(list.map((x) => x.version)).toEqual(list.map((_, i) => i + 1))
  })
})

describe('start-up', () => {
  test.skipIf(testBackendSet() !== 'real')('a migration that cannot apply stops the process', async () => {
    const broken = await createTestDatabase({ migrated: false })
    try {
      // Version 1 recorded with a checksum that is not the shipped file's: Olchat must refuse to start.
      await broken.sql`create table schema_migrations (version int primary key, name text not null,
        checksum text not null, applied_at timestamptz not null default now())`
      await broken.sql`insert into schema_migrations (version, name, checksum) values (1, 'tampered', 'x')`
      const olchat = startOlchat({
        DATABASE_URL: broken.url,
        REDIS_URL: testRedisUrl,
        OLCHAT_ENCRYPTION_KEYS: `k1:${generateKey()}`,
      })
      expect(await olchat.child.exited).toBe(1)
      const fatal = await olchat.waitForLog((l) => l.level === 'fatal')
      expect(fatal.msg).toBe('start-up failed')
      expect(JSON.stringify(fatal.err)).toContain('was changed after it was applied')
    } finally {
      await broken.drop()
    }
  })
})
