/**
 * P4 on the backend of this run: a busy database is backed up (pg_dump on the real server, PGlite's own
 * dump when embedded), the file is encrypted, restores into an empty database with every row the same,
 * is refused when changed, cut off or opened with another key ring, never lands in a non-empty database,
 * and backups past their retention are deleted (by prune and by every create).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import {
  type BackupTarget,
  BackupTargetNotEmptyError,
  backupFileName,
  createBackup,
  listBackups,
  pruneBackups,
  restoreBackup,
} from '../../src/backup/backups.ts'
import { BackupIntegrityError, readEncrypted } from '../../src/backup/envelope.ts'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { connect, type Sql } from '../../storage/db.ts'
import { startEmbeddedPostgres } from '../../storage/embedded-postgres.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { migrate } from '../../storage/migrate.ts'
import { seedBusyPortal } from '../privacy/seed.ts'
import type { PrivacyStores } from '../privacy/stores.ts'
import { repositories, secrets } from '../storage/fixtures.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const backend = testBackendSet()
const work = mkdtempSync(join(tmpdir(), 'olchat-backup-'))
const backupDir = join(work, 'backups')
const DAY = 86_400_000

/** A database to back up and one empty database to restore into, on this run's backend. */
interface Databases {
  source: BackupTarget
  /** Fresh empty targets (each restore attempt gets its own). */
  emptyTarget(): Promise<BackupTarget>
  /** Every row of every table, as text, of a target. */
  contents(target: BackupTarget): Promise<Record<string, string[]>>
  close(): Promise<void>
}

async function tableContents(sql: Sql): Promise<Record<string, string[]>> {
  const tables = await sql<{ name: string }[]>`
    select c.relname as name from pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
    order by 1`
  const contents: Record<string, string[]> = {}
  for (const { name } of tables) {
    const rows = await sql<{ row: string }[]>`select t::text as row from ${sql(name)} t`
    contents[name] = rows.map((r) => r.row).sort()
  }
  return contents
}

async function seed(sql: Sql, dir: string): Promise<string> {
  const files = new LocalFileStore({ dir, baseUrl: 'http://127.0.0.1:1', signingKey: randomBytes(32) })
  const stores = { db: { sql }, cache: new MemoryCache(), files } as unknown as PrivacyStores
  const seeded = await seedBusyPortal(stores, repositories(sql))
  return seeded.domain
}

async function openDatabases(): Promise<Databases & { domain: string }> {
  if (backend === 'real') {
    const source = await createTestDatabase()
    const domain = await seed(source.sql, join(work, 'files'))
    const targets: TestDatabase[] = []
    return {
      domain,
      source: { kind: 'postgres', url: source.url },
      async emptyTarget() {
        const target = await createTestDatabase({ migrated: false, poolMax: 1 })
        targets.push(target)
        return { kind: 'postgres', url: target.url }
      },
      async contents(target) {
        const sql = connect((target as { url: string }).url, 1)
        try {
          return await tableContents(sql)
        } finally {
          await sql.end({ timeout: 1 })
        }
      },
      async close() {
        for (const target of targets) await target.drop()
        await source.drop()
      },
    }
  }
  // Embedded: a persisted PGlite directory, closed before the backup (the CLI holds its lock the same way).
  const dir = join(work, 'pg-source')
  const embedded = await startEmbeddedPostgres(dir)
  const sql = connect(embedded.url, 1)
  await migrate(sql)
  const domain = await seed(sql, join(work, 'files'))
  await sql.end({ timeout: 1 })
  await embedded.stop()
  let n = 0
  return {
    domain,
    source: { kind: 'embedded', dir },
    async emptyTarget() {
      return { kind: 'embedded', dir: join(work, `pg-target-${++n}`) }
    },
    async contents(target) {
      const opened = await startEmbeddedPostgres((target as { dir: string }).dir)
      const client = connect(opened.url, 1)
      try {
        return await tableContents(client)
      } finally {
        await client.end({ timeout: 1 })
        await opened.stop()
      }
    },
    async close() {},
  }
}

let dbs: Databases & { domain: string }
let backupPath: string

beforeAll(async () => {
  dbs = await openDatabases()
})
afterAll(async () => {
  await dbs.close()
  rmSync(work, { recursive: true, force: true })
})

async function isEmpty(target: BackupTarget): Promise<boolean> {
  if (target.kind === 'embedded') {
    try {
      return readdirSync(target.dir).length === 0
    } catch {
      return true
    }
  }
  return Object.keys(await dbs.contents(target)).length === 0
}

function flipByte(path: string, at: number, copy: string): string {
  copyFileSync(path, copy)
  const bytes = readFileSync(copy)
  bytes[at] = bytes[at]! ^ 0x01
  writeFileSync(copy, bytes)
  return copy
}

describe(`backups (${backend} backend)`, () => {
  test('P4: create writes an encrypted, consistent dump that restores into an empty database with the same rows', async () => {
    // An expired backup already lies there: create deletes it after writing the new one.
    const monthAgo = new Date(Date.now() - 31 * DAY)
    const old = await createBackup(dbs.source, {
      dir: backupDir,
      keys: secrets,
      retentionDays: 30,
      now: monthAgo,
    })
    expect(old.path).toBe(join(backupDir, backupFileName(monthAgo, dbs.source.kind)))
    const created = await createBackup(dbs.source, { dir: backupDir, keys: secrets, retentionDays: 30 })
    backupPath = created.path
    expect(created.pruned).toEqual([basename(old.path)])
    expect(listBackups(backupDir).map((b) => b.path)).toEqual([created.path])
    expect(created.header.kind).toBe(dbs.source.kind)
    expect(created.header.schemaVersion).toBeGreaterThan(0)

    // Encrypted: the plain dump names the tables; the file shows nothing of it.
    const plain: Buffer[] = []
    for await (const part of readEncrypted(created.path, secrets)) plain.push(part)
    const file = readFileSync(created.path)
    expect(file.subarray(0, 8).toString()).toBe('OLCHATBK')
    expect(Buffer.concat(plain).length).toBe(created.plainBytes)
    if (dbs.source.kind === 'postgres') expect(Buffer.concat(plain).includes('schema_migrations')).toBe(true)
    expect(file.includes('schema_migrations')).toBe(false)
    expect(file.includes(dbs.domain)).toBe(false)

    const target = await dbs.emptyTarget()
    const restored = await restoreBackup(created.path, target, secrets)
    expect(restored.createdAt).toBe(created.header.createdAt)
    const before = await dbs.contents(dbs.source)
    const after = await dbs.contents(target)
    expect(Object.keys(before).length).toBeGreaterThan(15)
    expect(before.portals!.join()).toContain(dbs.domain)
    expect(after).toEqual(before)
  })

  test('P4: a changed, cut-off or foreign-key backup is refused and the target stays empty', async () => {
    const size = readFileSync(backupPath).length
    const cut = join(work, 'cut.backup')
    writeFileSync(cut, readFileSync(backupPath).subarray(0, size - 100))
    const appended = join(work, 'appended.backup')
    writeFileSync(appended, Buffer.concat([readFileSync(backupPath), Buffer.from('extra')]))
    const cases: [string, string, KeyRing][] = [
      ['a byte of the dump flipped', flipByte(backupPath, size - 50, join(work, 'flipped.backup')), secrets],
      ['a byte of the header flipped', flipByte(backupPath, 30, join(work, 'header.backup')), secrets],
      ['cut off', cut, secrets],
      ['data appended', appended, secrets],
      ['another key ring', backupPath, KeyRing.fromText(`k9:${generateKey()}`)],
    ]
    for (const [what, path, keys] of cases) {
      const target = await dbs.emptyTarget()
      const error = await restoreBackup(path, target, keys).then(
        () => undefined,
        (e: Error) => e,
      )
      expect({ what, refused: error instanceof BackupIntegrityError }).toEqual({ what, refused: true })
      expect({ what, empty: await isEmpty(target) }).toEqual({ what, empty: true })
    }
  })

  test('P4: restore never writes into a database that is not empty', async () => {
    const before = await dbs.contents(dbs.source)
    await expect(restoreBackup(backupPath, dbs.source, secrets)).rejects.toThrow(BackupTargetNotEmptyError)
    expect(await dbs.contents(dbs.source)).toEqual(before)
  })

  test('P4: prune deletes backups older than the retention and nothing else', () => {
    const dir = join(work, 'prune')
    const now = new Date('2026-03-31T12:00:00Z')
    const names = {
      old: backupFileName(new Date(now.getTime() - 30 * DAY - 1000), 'postgres'),
      oldPartial: `${backupFileName(new Date(now.getTime() - 40 * DAY), 'embedded')}.partial`,
      recent: backupFileName(new Date(now.getTime() - 29 * DAY), 'postgres'),
      foreign: 'olchat-notes.txt',
    }
    mkdirSync(dir, { recursive: true })
    for (const name of Object.values(names)) writeFileSync(join(dir, name), 'x')
    expect(pruneBackups(dir, 30, now)).toEqual([names.old, names.oldPartial].sort())
    expect(readdirSync(dir).sort()).toEqual([names.foreign, names.recent].sort())
    expect(pruneBackups(dir, 7, now)).toEqual([names.recent])
  })
})
