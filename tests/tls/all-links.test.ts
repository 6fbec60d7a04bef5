/**
 * @module S5 end to end: one Olchat process with every link on TLS — PostgreSQL (`verify-full`, ssl-on cluster),
 * Redis (TLS-only `redis-server`, `rediss://` + `REDIS_CA_FILE`), S3 (https s3rver + `S3_CA_FILE`) and its own
 * HTTPS listener — all certificates from one throwaway CA. `/readyz` runs a query, a ping and a bucket check,
 * so 200 means every link handshook; PostgreSQL also confirms that each of Olchat's sessions is encrypted.
 * Needs PostgreSQL binaries and redis-server: skipped on the embedded backend.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { generateKey } from '../../src/crypto/key-ring.ts'
import { testBackendSet } from '../support/backends.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.ts'
import { startS3rver, type TestS3 } from '../support/s3rver.ts'
import { createTestCa, opensslMissing, type TestCa } from '../support/tls-ca.ts'
import { startTlsRedis, type TlsRedis } from '../support/tls-redis.ts'
import { until } from '../support/until.ts'

const skipReason =
  testBackendSet() === 'embedded'
    ? 'needs real PostgreSQL and redis-server binaries (the embedded backend has no network links)'
    : opensslMissing()

// The reason a suite does not run is in its name, so the test output says why.
describe.skipIf(skipReason !== undefined)(
  `S5: every link of one Olchat process on TLS${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let ca: TestCa
    let pg: PrivatePostgres
    let redis: TlsRedis
    let s3: TestS3
    let olchat: OlchatProcess
    let dataDir: string

    beforeAll(async () => {
      ca = createTestCa()
      const server = ca.issue('services', ['IP:127.0.0.1'])
      const web = ca.issue('olchat', ['IP:127.0.0.1'])
      ;[pg, redis, s3] = await Promise.all([
        startPrivatePostgres({ tls: server }),
        startTlsRedis({ ...server, caFile: ca.certFile }),
        startS3rver({ tls: { cert: server.cert, key: await Bun.file(server.keyFile).text() } }),
      ])
      dataDir = mkdtempSync(join(tmpdir(), 'olchat-all-tls-'))
      olchat = startOlchat({
        OLCHAT_DATA_DIR: dataDir,
        OLCHAT_ENCRYPTION_KEYS: `k1:${generateKey()}`,
        DATABASE_URL: await pg.createDatabase('olchat'),
        DATABASE_SSL_MODE: 'verify-full',
        DATABASE_CA_FILE: ca.certFile,
        DATABASE_POOL_MAX: '3',
        REDIS_URL: redis.url,
        REDIS_CA_FILE: ca.certFile,
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        S3_CA_FILE: ca.certFile,
        HTTPS_CERT_FILE: web.certFile,
        HTTPS_KEY_FILE: web.keyFile,
      })
    })

    afterAll(async () => {
      await olchat?.stop()
      await Promise.all([pg?.close(), redis?.close(), s3?.stop()])
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
      ca?.remove()
    })

    test('S5: /readyz over https is 200 and every database session of Olchat is encrypted', async () => {
      const port = Number((await olchat.waitForLog((line) => line.msg === 'listening')).port)
      const readyz = `https://127.0.0.1:${port}/readyz`
      const ready = await until(
        'Olchat ready over TLS',
        async () => {
          if (olchat.child.exitCode !== null) throw new Error(`Olchat exited: ${olchat.stderr()}`)
          const response = await fetch(readyz, { tls: { ca: ca.cert } })
          return response.status === 200 ? response.json() : undefined
        },
        { timeoutMs: 20_000, everyMs: 200, ignoreErrors: true },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; log: ${JSON.stringify(olchat.lines.slice(-5))}`)
      })
      expect(ready).toMatchObject({
        status: 'ready',
        checks: { database: { ok: true }, cache: { ok: true }, files: { ok: true } },
      })

      const admin = postgres(pg.url(), { max: 1, onnotice: () => {} })
      try {
        const sessions = await admin<{ ssl: boolean }[]>`
        select s.ssl from pg_stat_ssl s join pg_stat_activity a using (pid) where a.application_name = 'olchat'`
        expect(sessions.length).toBeGreaterThan(0)
        expect(sessions.every((session) => session.ssl)).toBe(true)
      } finally {
        await admin.end({ timeout: 1 })
      }
    })
  },
)
