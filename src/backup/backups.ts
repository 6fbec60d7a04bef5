/**
 * @module Encrypted backups (PRIVACY P4): `createBackup` dumps the database consistently (pg_dump, or
 * PGlite's data-dir dump), seals it under the key ring into the backup directory and deletes backups past
 * their retention; `restoreBackup` checks the whole file first, then restores into an EMPTY database only;
 * `pruneBackups` deletes what is older than the retention, so deleted personal data does not live on in
 * backups longer than that.
 *
 * Files are named `olchat-<UTC time>-<kind>.backup`; the time in the name is what retention counts from
 * (a copied file keeps it). Files of any other name in the directory are never touched.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import { connect } from '../../storage/db.ts'
import type { SecretBox } from '../crypto/secret-box.ts'
import { dumpEmbedded, isEmptyDir, restoreEmbedded } from './embedded-dump.ts'
import { type BackupHeader, readEncrypted, verifyEncrypted, writeEncrypted } from './envelope.ts'
import { findPgTool, type PgConnection, pgDump, pgRestore, pgToolVersion } from './postgres-dump.ts'

export type BackupTarget = ({ kind: 'postgres' } & PgConnection) | { kind: 'embedded'; dir: string }

export interface BackupFile {
  name: string
  path: string
  kind: BackupTarget['kind']
  createdAt: Date
  bytes: number
}

export class BackupTargetNotEmptyError extends Error {
  override name = 'BackupTargetNotEmptyError'
}

const DAY_MS = 86_400_000
const NAME =
  /^olchat-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-(postgres|embedded)\.backup(\.partial)?$/

export function backupFileName(createdAt: Date, kind: BackupTarget['kind']): string {
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace('.', '')
  return `olchat-${stamp}-${kind}.backup`
}

function parseName(
  name: string,
): { kind: BackupTarget['kind']; createdAt: Date; partial: boolean } | undefined {
  const m = NAME.exec(name)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, ms, kind, partial] = m
  const createdAt = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`)
  if (Number.isNaN(createdAt.getTime())) return undefined
  return { kind: kind as BackupTarget['kind'], createdAt, partial: partial !== undefined }
}

/** Finished backups in `dir`, oldest first. */
export function listBackups(dir: string): BackupFile[] {
  if (!isDir(dir)) return []
  const found: BackupFile[] = []
  for (const name of readdirSync(dir)) {
    const parsed = parseName(name)
    if (!parsed || parsed.partial) continue
    const path = join(dir, name)
    found.push({ name, path, kind: parsed.kind, createdAt: parsed.createdAt, bytes: statSync(path).size })
  }
  return found.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())
}

function isDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory()
  } catch {
    return false
  }
}

/** Deletes backups (and abandoned partial ones) made more than `retentionDays` before `now`. @returns their names. */
export function pruneBackups(dir: string, retentionDays: number, now = new Date()): string[] {
  if (!isDir(dir)) return []
  const cutoff = now.getTime() - retentionDays * DAY_MS
  const deleted: string[] = []
  for (const name of readdirSync(dir)) {
    const parsed = parseName(name)
    if (!parsed || parsed.createdAt.getTime() >= cutoff) continue
    rmSync(join(dir, name), { force: true })
    deleted.push(name)
  }
  return deleted.sort()
}

export interface CreateOptions {
  dir: string
  keys: SecretBox
  retentionDays: number
  now?: Date
}

export interface CreatedBackup {
  path: string
  header: BackupHeader
  plainBytes: number
  fileBytes: number
  /** Backups past their retention, deleted after this one was written. */
  pruned: string[]
}

export async function createBackup(source: BackupTarget, options: CreateOptions): Promise<CreatedBackup> {
  const now = options.now ?? new Date()
  mkdirSync(options.dir, { recursive: true, mode: 0o700 })
  const path = join(options.dir, backupFileName(now, source.kind))
  const partial = `${path}.partial`
  let header: BackupHeader
  let sizes: { plainBytes: number; fileBytes: number }
  try {
    if (source.kind === 'postgres') {
      const tool = await pgToolVersion(findPgTool('pg_dump'))
      header = {
        kind: 'postgres',
        createdAt: now.toISOString(),
        schemaVersion: await serverVersion(source),
        tool,
      }
      sizes = await writeEncrypted(partial, pgDump(source), options.keys, header)
    } else {
      const { tarball, schemaVersion } = await dumpEmbedded(source.dir)
      header = {
        kind: 'embedded',
        createdAt: now.toISOString(),
        schemaVersion,
        tool: 'pglite dumpDataDir (gzip)',
      }
      sizes = await writeEncrypted(partial, [tarball], options.keys, header)
    }
    // Only a complete file carries the backup's name.
    await rename(partial, path)
  } catch (error) {
    rmSync(partial, { force: true })
    throw error
  }
  const pruned = pruneBackups(options.dir, options.retentionDays, now)
  return { path, header, ...sizes, pruned }
}

async function serverVersion(target: PgConnection): Promise<number> {
  const sql = connect(target.url, 1, target.tls)
  try {
    const [row] = await sql<{ version: number | null }[]>`
      select max(version)::int as version from schema_migrations`
    return row?.version ?? 0
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/** Tables outside the system schemas: a restore target must have none. */
async function userTables(target: PgConnection): Promise<number> {
  const sql = connect(target.url, 1, target.tls)
  try {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from information_schema.tables
      where table_schema not in ('pg_catalog', 'information_schema')`
    return row!.n
  } finally {
    await sql.end({ timeout: 5 })
  }
}

/**
 * Checks every chunk of `path` (a changed or cut-off file is refused before anything is written), then
 * restores it into `target`, which must be empty. @throws BackupIntegrityError, BackupTargetNotEmptyError
 */
export async function restoreBackup(
  path: string,
  target: BackupTarget,
  keys: SecretBox,
): Promise<BackupHeader> {
  const header = await verifyEncrypted(path, keys)
  if (header.kind !== target.kind) {
    throw new Error(`this is a ${header.kind} backup; it restores into a ${header.kind} database only`)
  }
  if (target.kind === 'postgres') {
    const tables = await userTables(target)
    if (tables > 0)
      throw new BackupTargetNotEmptyError(`the database has ${tables} tables: restore needs an empty one`)
    await pgRestore(target, readEncrypted(path, keys))
    return header
  }
  if (!isEmptyDir(target.dir)) {
    throw new BackupTargetNotEmptyError(
      `${target.dir} is not empty: restore needs an empty database directory`,
    )
  }
  const parts: Buffer[] = []
  for await (const part of readEncrypted(path, keys)) parts.push(part)
  await restoreEmbedded(target.dir, Buffer.concat(parts))
  return header
}
