/**
 * @module Backups of the embedded database (P4) with PGlite's own facility: `dumpDataDir` packs the data
 * directory into a tarball while holding PGlite's exclusive lock, after a CHECKPOINT, so it is a consistent
 * image; `loadDataDir` unpacks one into a new directory (PGlite refuses one that already holds a database).
 * The system `pg_dump` is not an option: PGlite is PostgreSQL 18 in WASM with no server to connect to while
 * Olchat is stopped. The data directory must not be in use (the CLI holds the data-dir lock).
 */
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'

/** The tarball of the database in `dir`, and its migration version. */
export async function dumpEmbedded(dir: string): Promise<{ tarball: Uint8Array; schemaVersion: number }> {
  if (!existsSync(join(dir, 'PG_VERSION'))) throw new Error(`no embedded database in ${dir}`)
  const db = await PGlite.create(dir)
  try {
    await db.exec('checkpoint')
    const schemaVersion = await migrationVersion(db)
    const blob = await db.dumpDataDir('gzip')
    return { tarball: new Uint8Array(await blob.arrayBuffer()), schemaVersion }
  } finally {
    await db.close()
  }
}

/** Whether `dir` holds nothing (or does not exist): the only place a restore may go. */
export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

/** Unpacks `tarball` into the empty directory `dir` and checks the database opens. */
export async function restoreEmbedded(dir: string, tarball: Uint8Array): Promise<{ schemaVersion: number }> {
  if (!isEmptyDir(dir)) throw new Error(`${dir} is not empty: restore needs an empty database`)
  const db = await PGlite.create(dir, { loadDataDir: new Blob([tarball as Uint8Array<ArrayBuffer>]) })
  try {
    return { schemaVersion: await migrationVersion(db) }
  } finally {
    await db.close()
  }
}

async function migrationVersion(db: PGlite): Promise<number> {
  const exists = await db.query<{ found: boolean }>(
    `select to_regclass('schema_migrations') is not null as found`,
  )
  if (!exists.rows[0]?.found) return 0
  const result = await db.query<{ version: number | null }>(
    'select max(version)::int as version from schema_migrations',
  )
  return result.rows[0]?.version ?? 0
}
