import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { loadMigrations } from '../../storage/migrate.ts'
import { startOlchat } from '../support/olchat-process.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'olchat-embedded-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('embedded defaults: no configuration at all', () => {
  test('starts, becomes ready within 15 s, refuses a second process, stops on SIGTERM', async () => {
    const first = startOlchat({ OLCHAT_DATA_DIR: dataDir })
    try {
      const readyAfterMs = await first.waitReady(15_000)
      expect(readyAfterMs).toBeLessThan(15_000)
      const applied = await first.waitForLog((l) => l.msg === 'migrations applied')
      expect(applied.applied).toEqual(loadMigrations().map((m) => m.version))
      const ready = await first.waitForLog((l) => l.msg === 'ready')
      expect(ready).toMatchObject({ database: 'embedded', cache: 'memory', files: 'local' })
      // The generated key is announced loudly and kept owner-only.
      expect(
        first.lines.some((l) => l.level === 'warn' && String(l.msg).includes('OLCHAT_ENCRYPTION_KEYS')),
      ).toBe(true)
      expect(statSync(join(dataDir, 'encryption-keys')).mode & 0o777).toBe(0o600)

      const second = startOlchat({ OLCHAT_DATA_DIR: dataDir })
      expect(await second.child.exited).toBe(1)
      await Bun.sleep(50)
      expect(second.stderr()).toContain(`data directory ${dataDir} is in use by process ${first.child.pid}`)
    } finally {
      const started = performance.now()
      expect(await first.stop('SIGTERM')).toBe(0)
      expect(performance.now() - started).toBeLessThan(10_000)
    }
  })

  test('data written survives a restart', async () => {
    // What the first run wrote (its migrations) is on disk: PGlite opened directly on the directory sees it…
    const db = await PGlite.create(join(dataDir, 'pg'))
    const rows = await db.query<{ version: number }>('select version from schema_migrations order by version')
    expect(rows.rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version))
    await db.exec(`create table restart_marker (note text); insert into restart_marker values ('kept')`)
    await db.close()
    // …and a restarted Olchat finds the schema current and the data intact.
    const again = startOlchat({ OLCHAT_DATA_DIR: dataDir })
    try {
      await again.waitReady(15_000)
      const upToDate = await again.waitForLog((l) => l.msg === 'schema up to date')
      expect(upToDate.applied).toEqual([])
    } finally {
      expect(await again.stop('SIGINT')).toBe(0)
    }
    const reopened = await PGlite.create(join(dataDir, 'pg'))
    expect((await reopened.query<{ note: string }>('select note from restart_marker')).rows).toEqual([
      { note: 'kept' },
    ])
    await reopened.close()
  })
})
