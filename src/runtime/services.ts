/**
 * @module Opens the storage services the configuration names — real servers or embedded defaults — behind
 * one interface each. Shared by the server, the CLI and the benchmarks, so all three run the same code path.
 */

import { readFileSync } from 'node:fs'
import type { Cache } from '../../storage/cache/cache.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { RedisCache } from '../../storage/cache/redis-cache.ts'
import { lockDataDir } from '../../storage/data-dir-lock.ts'
import { type Database, openDatabase } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { S3FileStore } from '../../storage/files/s3-file-store.ts'
import type { Config } from '../config/load.ts'
import { loadOrCreateEmbeddedKeys } from '../crypto/embedded-key.ts'
import { KeyRing } from '../crypto/key-ring.ts'
import { schemeOf } from '../http/serve-options.ts'
import type { Logger } from '../log/logger.ts'

export interface Services {
  db: Database
  cache: Cache
  files: FileStore
  keys: KeyRing
  close(): Promise<void>
}

export function publicUrlOf(config: Config, boundPort = config.port): string {
  return config.publicUrl ?? `${schemeOf(config)}://localhost:${boundPort}`
}

export function openKeyRing(config: Config, log: Logger): KeyRing {
  if (config.encryptionKeys) return KeyRing.fromText(config.encryptionKeys)
  const { text, created } = loadOrCreateEmbeddedKeys(config.dataDir)
  log.warn(
    { dataDir: config.dataDir, created },
    'OLCHAT_ENCRYPTION_KEYS is not set: secrets are sealed with a key kept in the data directory. ' +
      'Anyone who can read that directory can read them — set OLCHAT_ENCRYPTION_KEYS in production',
  )
  return KeyRing.fromText(text)
}

/**
 * Embedded PGlite lives in the data dir and cannot be shared: the first process takes the directory, a
 * second one is refused with a clear message. Call before anything binds a port or opens the database.
 * @returns the release function (a no-op with a real database).
 */
export function claimDataDir(config: Config): () => void {
  return config.database.kind === 'embedded' ? lockDataDir(config.dataDir) : () => {}
}

/** ioredis reports every failed reconnect; one line per 30 s is enough to see an outage in the log. */
function everyThirtySeconds(log: Logger, message: string): (error: Error) => void {
  let last = 0
  return (error) => {
    if (Date.now() - last < 30_000) return
    last = Date.now()
    log.warn({ err: error }, message)
  }
}

export async function openServices(
  config: Config,
  log: Logger,
  { publicUrl = publicUrlOf(config) }: { publicUrl?: string } = {},
): Promise<Services> {
  const opened: Array<() => Promise<void>> = []
  const closeAll = async () => {
    for (const close of opened.reverse()) await close().catch(() => {})
  }
  try {
    const keys = openKeyRing(config, log)
    const db = await openDatabase(config.database)
    opened.push(() => db.close())
    const cache: Cache =
      config.cache.kind === 'redis'
        ? new RedisCache({
            url: config.cache.url,
            ...(config.cache.caFile ? { tls: { ca: readFileSync(config.cache.caFile, 'utf8') } } : {}),
            onError: everyThirtySeconds(log, 'Redis connection error'),
          })
        : new MemoryCache()
    opened.push(() => cache.close())
    const files: FileStore =
      config.files.kind === 's3'
        ? new S3FileStore(config.files)
        : new LocalFileStore({
            dir: config.files.dir,
            baseUrl: publicUrl,
            signingKey: keys.deriveKey('olchat file links v1'),
          })
    return { db, cache, files, keys, close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
