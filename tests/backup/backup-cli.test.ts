/**
 * P4 as the operator runs it: `bun src/cli.ts backup …` as real processes with the configuration in the
 * environment — create, list, verify, restore into an empty database, prune — on this run's backend
 * (DATABASE_URL and pg_dump, or the embedded database in OLCHAT_DATA_DIR).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { connect, type Sql } from '../../storage/db.ts'
import { startEmbeddedPostgres } from '../../storage/embedded-postgres.ts'
import { migrate } from '../../storage/migrate.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const root = resolve(import.meta.dir, '../..')
const backend = testBackendSet()
const work = mkdtempSync(join(tmpdir(), 'olchat-backup-cli-'))
const keys = `k1:${generateKey()}`
const backupDir = join(work, 'backups')
const databases: TestDatabase[] = []

/** Environment of one Olchat installation: its data dir and, on the real backend, its database. */
let sourceEnv: Record<string, string>
let targetEnv: Record<string, string>

async function withSql<T>(env: Record<string, string>, run: (sql: Sql) => Promise<T>): Promise<T> {
  if (env.DATABASE_URL) {
    const sql = connect(env.DATABASE_URL, 1)
    try {
      return await run(sql)
    } finally {
      await sql.end({ timeout: 1 })
    }
  }
  const embedded = await startEmbeddedPostgres(join(env.OLCHAT_DATA_DIR!, 'pg'))
  const sql = connect(embedded.url, 1)
  try {
    return await run(sql)
  } finally {
    await sql.end({ timeout: 1 })
    await embedded.stop()
  }
}

beforeAll(async () => {
  const common = { OLCHAT_ENCRYPTION_KEYS: keys, OLCHAT_BACKUP_DIR: backupDir, LOG_LEVEL: 'warn' }
  sourceEnv = { ...common, OLCHAT_DATA_DIR: join(work, 'source') }
  targetEnv = { ...common, OLCHAT_DATA_DIR: join(work, 'target') }
  if (backend === 'real') {
    const source = await createTestDatabase()
    const target = await createTestDatabase({ migrated: false, poolMax: 1 })
    databases.push(source, target)
    sourceEnv.DATABASE_URL = source.url
    targetEnv.DATABASE_URL = target.url
  }
  await withSql(sourceEnv, async (sql) => {
    await migrate(sql)
    await sql`insert into portals (member_id, domain) values ('cli-member', 'cli-portal.bitrix24.ru')`
  })
})
afterAll(async () => {
  for (const db of databases) await db.drop()
  rmSync(work, { recursive: true, force: true })
})

async function olchat(env: Record<string, string>, ...args: string[]) {
  const child = Bun.spawn([process.execPath, 'src/cli.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, out, err] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ])
  // stdout carries log lines too (they have a level); the command's result is the line without one.
  const result = out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => !('level' in line))
    .pop()
  return { code, result, err }
}

describe(`olchat backup (${backend} backend)`, () => {
  test('P4: backup create → list → verify → restore into an empty database → prune, as commands', async () => {
    const created = await olchat(sourceEnv, 'backup', 'create')
    expect({ code: created.code, err: created.err }).toEqual({ code: 0, err: '' })
    const path = created.result!.path as string
    expect(path.startsWith(backupDir)).toBe(true)
    expect(readFileSync(path).includes('cli-portal')).toBe(false)

    const listed = await olchat(sourceEnv, 'backup', 'list')
    expect((listed.result!.backups as { path: string }[]).map((b) => b.path)).toEqual([path])
    expect(listed.result!.retentionDays).toBe(30)
    expect((await olchat(sourceEnv, 'backup', 'verify', path)).result).toMatchObject({ ok: true })

    const restored = await olchat(targetEnv, 'backup', 'restore', path)
    expect({ code: restored.code, err: restored.err }).toEqual({ code: 0, err: '' })
    const domains = await withSql(targetEnv, (sql) => sql<{ domain: string }[]>`select domain from portals`)
    expect(domains.map((r) => r.domain)).toEqual(['cli-portal.bitrix24.ru'])

    // Restoring again: the target is no longer empty.
    const again = await olchat(targetEnv, 'backup', 'restore', path)
    expect(again.code).toBe(1)
    expect(again.err).toContain('restore needs an empty')

    const pruned = await olchat({ ...sourceEnv, BACKUP_RETENTION_DAYS: '1' }, 'backup', 'prune')
    expect(pruned.result).toEqual({ pruned: [] })
  })

  test('P4: a tampered file is refused by verify and restore; bad usage exits 2', async () => {
    const [backup] = (await olchat(sourceEnv, 'backup', 'list')).result!.backups as { path: string }[]
    const tampered = join(work, 'tampered.backup')
    const bytes = readFileSync(backup!.path)
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff
    writeFileSync(tampered, bytes)
    const verify = await olchat(sourceEnv, 'backup', 'verify', tampered)
    expect(verify.code).toBe(1)
    expect(verify.err).toContain('changed or is incomplete')
    // The file is checked before the target: refused for what it is, whatever the database holds.
    const restore = await olchat(targetEnv, 'backup', 'restore', tampered)
    expect(restore.code).toBe(1)
    expect(restore.err).toContain('changed or is incomplete')
    const usage = await olchat(sourceEnv, 'backup', 'restore')
    expect(usage.code).toBe(2)
    expect(usage.err).toContain('usage: olchat backup')
  })
})
