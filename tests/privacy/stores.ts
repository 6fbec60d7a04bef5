/**
 * @module The three stores of one privacy suite, on the backends of this run: a throwaway database, the
 * cache (Redis under a unique key prefix, or the in-process one) and a file store (S3 through s3rver, or
 * the local directory store).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Cache } from '../../storage/cache/cache.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { RedisCache } from '../../storage/cache/redis-cache.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { S3FileStore } from '../../storage/files/s3-file-store.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { startS3rver } from '../support/s3rver.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

export interface PrivacyStores {
  db: TestDatabase
  cache: Cache
  files: FileStore
  /** Which cache and file store this run uses (for test names and logs). */
  kinds: string
  close(): Promise<void>
}

export async function openStores(): Promise<PrivacyStores> {
  const db = await createTestDatabase()
  if (testBackendSet() === 'embedded') {
    const dir = await mkdtemp(join(tmpdir(), 'olchat-privacy-'))
    const cache = new MemoryCache()
    const files = new LocalFileStore({ dir, baseUrl: 'http://127.0.0.1:1', signingKey: randomBytes(32) })
    return {
      db,
      cache,
      files,
      kinds: 'PGlite, in-process cache, local files',
      async close() {
        await cache.close()
        await rm(dir, { recursive: true, force: true })
        await db.drop()
      },
    }
  }
  const cache = new RedisCache({ url: testRedisUrl, keyPrefix: `olchat-test:${randomUUID()}:` })
  const s3 = await startS3rver()
  const files = new S3FileStore({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.credentials,
    bucket: s3.bucket,
  })
  return {
    db,
    cache,
    files,
    kinds: 'PostgreSQL, Redis, S3 (s3rver)',
    async close() {
      await cache.deleteByPrefix('')
      await cache.close()
      files.close()
      await s3.stop()
      await db.drop()
    },
  }
}

export function putText(files: FileStore, key: string, text = 'file body'): Promise<number> {
  return files.put(key, Readable.from([Buffer.from(text)]))
}

export async function allObjects(files: FileStore): Promise<string[]> {
  const keys: string[] = []
  for await (const object of files.listExpired(new Date(8.64e15))) keys.push(object.key)
  return keys.sort()
}
