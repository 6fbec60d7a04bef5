/**
 * @module Stores and sweep dependencies for the retention suites: a throwaway database, the cache (Redis
 * under a unique prefix, or the in-process one) and the file store (S3 through s3rver, or the local
 * directory), on the backends of this run; plus `sweepDeps` with an injected clock for time travel.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { SweepDeps } from '../../src/retention/sweep.ts'
import type { Cache } from '../../storage/cache/cache.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { RedisCache } from '../../storage/cache/redis-cache.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import { S3FileStore } from '../../storage/files/s3-file-store.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories } from '../storage/fixtures.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { startS3rver } from '../support/s3rver.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'

export const DAY = 86_400_000

export interface RetentionStores {
  db: TestDatabase
  repos: Repositories
  cache: Cache
  files: FileStore
  close(): Promise<void>
}

export async function openRetentionStores({ files: withFiles = false } = {}): Promise<RetentionStores> {
  const db = await createTestDatabase()
  const repos = repositories(db.sql)
  const closers: Array<() => Promise<void>> = [() => db.drop()]
  const close = async () => {
    for (const closer of closers.reverse()) await closer()
  }
  let cache: Cache
  let files: FileStore
  if (testBackendSet() === 'embedded') {
    cache = new MemoryCache()
    const dir = await mkdtemp(join(tmpdir(), 'olchat-retention-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    files = new LocalFileStore({ dir, baseUrl: 'http://127.0.0.1:1', signingKey: randomBytes(32) })
  } else {
    const redis = new RedisCache({ url: testRedisUrl, keyPrefix: `olchat-test:${randomUUID()}:` })
    closers.push(async () => {
      await redis.deleteByPrefix('')
      await redis.close()
    })
    cache = redis
    if (withFiles) {
      const s3 = await startS3rver()
      const store = new S3FileStore({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: s3.credentials,
        bucket: s3.bucket,
      })
      closers.push(async () => {
        store.close()
        await s3.stop()
      })
      files = store
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'olchat-retention-'))
      closers.push(() => rm(dir, { recursive: true, force: true }))
      files = new LocalFileStore({ dir, baseUrl: 'http://127.0.0.1:1', signingKey: randomBytes(32) })
    }
  }
  return { db, repos, cache, files, close }
}

/** Sweep dependencies over `stores`, the clock fixed at `now` unless a function is given. */
export function sweepDeps(
  stores: RetentionStores,
  now: Date | (() => Date),
  overrides: Partial<SweepDeps> = {},
): SweepDeps {
  return {
    sql: stores.db.sql,
    repos: stores.repos,
    files: stores.files,
    cache: stores.cache,
    periods: { R3: 90, R5: 30, R6: 7, R7: 90, R8: 7 },
    fileTtlMs: 60_000,
    now: typeof now === 'function' ? now : () => now,
    batchSize: 3,
    maxBatches: 100,
    lockTimeoutMs: 100,
    ...overrides,
  }
}

export const putText = (files: FileStore, key: string, text = 'file body') =>
  files.put(key, Readable.from([Buffer.from(text)]))

export async function objectKeys(files: FileStore): Promise<string[]> {
  const keys: string[] = []
  for await (const object of files.listExpired(new Date(8.64e15))) keys.push(object.key)
  return keys.sort()
}

/** Values of one column of a table, sorted (what is left after a sweep). */
export async function column(db: TestDatabase, table: string, name: string): Promise<string[]> {
  const rows = await db.sql<{ value: string }[]>`
    select ${db.sql(name)}::text as value from ${db.sql(table)} order by 1`
  return rows.map((row) => row.value)
}
