/**
 * @module Forward-only plain-SQL migrations (`migrations/NNNNN_name/index.sql`), applied at start-up.
 *
 * All pending migrations run in one transaction that first takes a transaction-scoped advisory lock, so
 * two processes starting at once serialise: the second waits, then finds nothing left to do. A failure rolls
 * everything back and stops start-up. Applied files are checksummed: editing one after release is refused.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Sql } from './db.ts'

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

export interface MigrationResult {
  /** Versions this call applied (empty when another process or an earlier start already did). */
  applied: number[]
  /** Schema version after the call. */
  version: number
}

export class MigrationError extends Error {
  override name = 'MigrationError'
}

export const migrationsDir = join(import.meta.dir, 'migrations')

/** Arbitrary but fixed: every Olchat process contends for the same lock. */
const MIGRATION_LOCK_KEY = 0x6f6c636861740001n

export function loadMigrations(dir: string = migrationsDir): Migration[] {
  const folders = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  return folders.map((folder, index) => {
    const match = /^(\d{5})_([a-z0-9_]+)$/.exec(folder)
    if (!match) throw new MigrationError(`migration folder ${folder}: expected NNNNN_snake_name`)
    const version = Number(match[1])
    if (version !== index + 1) {
      throw new MigrationError(
        `migration ${folder}: expected version ${index + 1}, numbering must have no gaps`,
      )
    }
    const sql = readFileSync(join(dir, folder, 'index.sql'), 'utf8')
    return {
      version,
      name: match[2]!,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    }
  })
}

interface AppliedRow {
  version: number
  name: string
  checksum: string
}

/**
 * Brings the schema to `upTo` (default: the newest migration).
 * @param options.upTo stop after this version (migration tests step through versions one by one).
 */
export async function migrate(
  sql: Sql,
  { migrations = loadMigrations(), upTo }: { migrations?: Migration[]; upTo?: number } = {},
): Promise<MigrationResult> {
  const target = upTo ?? migrations.length
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`
    await tx`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )`
    const applied = await tx<
      AppliedRow[]
    >`select version, name, checksum from schema_migrations order by version`
    for (const row of applied) {
      const known = migrations[row.version - 1]
      if (!known) {
        throw new MigrationError(
          `database schema is at version ${applied.length}, newer than this Olchat knows (${migrations.length}): upgrade Olchat`,
        )
      }
      if (known.checksum !== row.checksum) {
        throw new MigrationError(`migration ${row.version} (${row.name}) was changed after it was applied`)
      }
    }
    const done: number[] = []
    for (const migration of migrations.slice(applied.length, target)) {
      try {
        await tx.unsafe(migration.sql).simple()
      } catch (error) {
        throw new MigrationError(
          `migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`,
          { cause: error },
        )
      }
      await tx`
        insert into schema_migrations (version, name, checksum)
        values (${migration.version}, ${migration.name}, ${migration.checksum})`
      done.push(migration.version)
    }
    return { applied: done, version: Math.max(applied.length, applied.length + done.length) }
  })
}
