/**
 * @module `olchat backup <create|restore <file>|verify <file>|prune|list>` (P4), run by `src/cli.ts` before it
 * opens any service: an embedded database is dumped or restored by PGlite itself, which must be the only
 * one holding the data directory (the CLI has taken its lock). Results go to stdout as one JSON line.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Config } from '../config/load.ts'
import type { Logger } from '../log/logger.ts'
import { openKeyRing } from '../runtime/services.ts'
import { type BackupTarget, createBackup, listBackups, pruneBackups, restoreBackup } from './backups.ts'
import { verifyEncrypted } from './envelope.ts'

export const BACKUP_USAGE = 'usage: olchat backup <create | restore <file> | verify <file> | prune | list>'

function targetOf(config: Config): BackupTarget {
  return config.database.kind === 'postgres'
    ? { kind: 'postgres', url: config.database.url, tls: config.database.tls }
    : { kind: 'embedded', dir: config.database.dir }
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

/** @returns the exit code: 0 done, 1 failed, 2 bad arguments. */
export async function runBackupCommand(args: string[], config: Config, log: Logger): Promise<number> {
  const [action, file, ...rest] = args
  const needsFile = action === 'restore' || action === 'verify'
  const known = ['create', 'restore', 'verify', 'prune', 'list']
  if (!action || !known.includes(action) || rest.length > 0 || needsFile !== (file !== undefined)) {
    process.stderr.write(`${BACKUP_USAGE}\n`)
    return 2
  }
  const { dir, retentionDays } = config.backup
  if (action === 'list') {
    print({ dir, retentionDays, backups: listBackups(dir) })
    return 0
  }
  if (action === 'prune') {
    const pruned = pruneBackups(dir, retentionDays)
    log.info({ dir, retentionDays, pruned: pruned.length }, 'old backups deleted')
    print({ pruned })
    return 0
  }
  const keys = openKeyRing(config, log)
  if (action === 'create') {
    const created = await createBackup(targetOf(config), { dir, keys, retentionDays })
    log.info(
      {
        path: created.path,
        kind: created.header.kind,
        bytes: created.fileBytes,
        pruned: created.pruned.length,
      },
      'backup written',
    )
    print(created)
    return 0
  }
  const path = resolve(file!)
  if (!existsSync(path)) {
    process.stderr.write(`olchat: no such backup file: ${path}\n`)
    return 2
  }
  if (action === 'verify') {
    print({ ok: true, header: await verifyEncrypted(path, keys) })
    return 0
  }
  const header = await restoreBackup(path, targetOf(config), keys)
  log.info({ path, kind: header.kind, createdAt: header.createdAt }, 'backup restored')
  print({ restored: path, header })
  return 0
}
