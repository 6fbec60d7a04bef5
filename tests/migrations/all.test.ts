import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { connect } from '../../storage/db.ts'
import { loadMigrations, migrate } from '../../storage/migrate.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

const versions = loadMigrations().map((m) => m.version)

describe('all migrations', () => {
  let db: TestDatabase
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false })
  })
  afterAll(() => db.drop())

  test('apply on an empty database, and a second run applies nothing', async () => {
    expect(await migrate(db.sql)).toEqual({ applied: versions, version: versions.length })
    expect(await migrate(db.sql)).toEqual({ applied: [], version: versions.length })
  })

  test('every table has a primary key', async () => {
    const rows = await db.sql<{ name: string }[]>`
      select c.relname as name from pg_class c
      where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
        and not c.relispartition
        and not exists (select 1 from pg_constraint k where k.conrelid = c.oid and k.contype = 'p')`
    expect(rows.map((r) => r.name)).toEqual([])
  })
})

describe('concurrent start-up', () => {
  test.skipIf(testBackendSet() === 'embedded')(
    'two pools migrating one fresh database at once apply each version exactly once',
    async () => {
      const db = await createTestDatabase({ migrated: false })
      const other = connect(db.url, 2)
      try {
        const results = await Promise.all([migrate(db.sql), migrate(other)])
        expect(results.flatMap((r) => r.applied).sort((a, b) => a - b)).toEqual(versions)
        expect(results.map((r) => r.version)).toEqual([versions.length, versions.length])
        const rows = await db.sql<
          { version: number }[]
        >`select version from schema_migrations order by version`
        expect(rows.map((r) => r.version)).toEqual(versions)
      } finally {
        await other.end({ timeout: 1 })
        await db.drop()
      }
    },
  )
})
