/**
 * @module Backups of a PostgreSQL server (P4) with the server's own tools: `pg_dump --format=custom` (one
 * repeatable-read snapshot of the whole database: consistent while Olchat keeps running) and `pg_restore
 * --single-transaction` (all or nothing). The dump streams through the encryption; plain SQL never touches
 * the disk. The password travels in `PGPASSWORD`, not on the command line (visible in `ps`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { DatabaseTls } from '../config/database-tls.ts'

export class BackupToolError extends Error {
  override name = 'BackupToolError'
}

const PG_LIB = '/usr/lib/postgresql'

/** The tool on PATH, else the newest one of Debian's versioned PostgreSQL directories. */
export function findPgTool(name: 'pg_dump' | 'pg_restore'): string {
  const onPath = Bun.which(name)
  if (onPath) return onPath
  const versions = existsSync(PG_LIB)
    ? readdirSync(PG_LIB)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : []
  for (const version of versions) {
    const path = join(PG_LIB, version, 'bin', name)
    if (existsSync(path)) return path
  }
  throw new BackupToolError(
    `${name} not found on PATH or in ${PG_LIB}/*/bin: install the PostgreSQL client tools ` +
      '(Debian: apt-get install postgresql-client) at the version of the server or newer',
  )
}

/** Where and how to connect: Olchat's `DATABASE_URL` and its TLS settings (`DATABASE_SSL_MODE`, CA). */
export interface PgConnection {
  url: string
  tls?: DatabaseTls
}

/** libpq takes the URL as is; the password and the TLS settings go through its environment variables. */
function connection({ url, tls }: PgConnection): { dbname: string; env: Record<string, string> } {
  const parsed = new URL(url)
  const password = decodeURIComponent(parsed.password)
  parsed.password = ''
  const env: Record<string, string> = { ...(process.env as Record<string, string>) }
  if (password) env.PGPASSWORD = password
  if (tls) env.PGSSLMODE = tls.mode
  if (tls?.caFile) env.PGSSLROOTCERT = tls.caFile
  return { dbname: parsed.toString(), env }
}

/** Collects the last few kB of a tool's stderr for the error message. */
function stderrTail(child: ChildProcess): () => string {
  let tail = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (text: string) => {
    tail = (tail + text).slice(-2000)
  })
  return () => tail.trim()
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve(code ?? 1))
  })
}

export async function pgToolVersion(tool: string): Promise<string> {
  const child = spawn(tool, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (text: string) => {
    out += text
  })
  await exited(child)
  return out.trim()
}

/**
 * Streams a custom-format dump of the database. The generator fails (after the data) when
 * pg_dump exits non-zero, so a partial dump never passes for a complete one.
 */
export async function* pgDump(target: PgConnection): AsyncGenerator<Uint8Array> {
  const { dbname, env } = connection(target)
  const child = spawn(
    findPgTool('pg_dump'),
    ['--format=custom', '--no-owner', '--no-privileges', `--dbname=${dbname}`],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const tail = stderrTail(child)
  const done = exited(child)
  for await (const chunk of child.stdout as Readable) yield chunk as Uint8Array
  const code = await done
  if (code !== 0) throw new BackupToolError(`pg_dump failed (exit ${code}): ${tail()}`)
}

/** Feeds a custom-format dump to pg_restore in one transaction: on any error nothing is restored. */
export async function pgRestore(target: PgConnection, dump: AsyncIterable<Uint8Array>): Promise<void> {
  const { dbname, env } = connection(target)
  const child = spawn(
    findPgTool('pg_restore'),
    ['--single-transaction', '--exit-on-error', '--no-owner', '--no-privileges', `--dbname=${dbname}`],
    { env, stdio: ['pipe', 'ignore', 'pipe'] },
  )
  const tail = stderrTail(child)
  const done = exited(child)
  const stdin = child.stdin!
  // A restore that stops early closes its stdin; keep the write error from surfacing twice.
  stdin.on('error', () => {})
  try {
    for await (const chunk of dump) {
      if (!stdin.write(chunk)) await new Promise((resolve) => stdin.once('drain', resolve))
      if (child.exitCode !== null) break
    }
  } catch (error) {
    // The dump failed its check half-way: pg_restore must not commit what it got.
    child.kill('SIGKILL')
    await done.catch(() => {})
    throw error
  }
  stdin.end()
  const code = await done
  if (code !== 0) throw new BackupToolError(`pg_restore failed (exit ${code}): ${tail()}`)
}
