/**
 * @module S1, S5: Olchat's database client speaks TLS to a real PostgreSQL. A private cluster runs with `ssl=on`
 * and a certificate from a throwaway CA, issued for 127.0.0.1 only; each case goes through the same path as the
 * server (environment → loadConfig → openDatabase) and asks the server itself whether the session is encrypted.
 * Needs the PostgreSQL binaries: skipped on the embedded backend (PGlite has no TLS and no network link).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config/load.ts'
import { type Database, openDatabase } from '../../storage/db.ts'
import { testBackendSet } from '../support/backends.ts'
import { type PrivatePostgres, startPrivatePostgres } from '../support/private-postgres.ts'
import { createTestCa, opensslMissing, type TestCa } from '../support/tls-ca.ts'

const skipReason =
  testBackendSet() === 'embedded'
    ? 'needs a real PostgreSQL server (embedded PGlite has no TLS)'
    : opensslMissing()

// The reason a suite does not run is in its name, so the test output says why.
describe.skipIf(skipReason !== undefined)(
  `S1: PostgreSQL over TLS${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let ca: TestCa
    let otherCa: TestCa
    let pg: PrivatePostgres
    const opened: Database[] = []

    beforeAll(async () => {
      ca = createTestCa()
      otherCa = createTestCa('Some other CA')
      pg = await startPrivatePostgres({ tls: ca.issue('postgres', ['IP:127.0.0.1']) })
    })

    afterAll(async () => {
      for (const db of opened) await db.close(1)
      await pg?.close()
      ca?.remove()
      otherCa?.remove()
    })

    async function sessionSsl(
      env: Record<string, string>,
    ): Promise<{ ssl: boolean; version: string | null }> {
      const config = loadConfig(env)
      if (config.database.kind !== 'postgres') throw new Error('expected a real database')
      const db = await openDatabase(config.database)
      opened.push(db)
      const [row] = await db.sql<{ ssl: boolean; version: string | null }[]>`
      select ssl, version from pg_stat_ssl where pid = pg_backend_pid()`
      if (!row) throw new Error('pg_stat_ssl has no row for this session')
      return row
    }

    test('S1: verify-full with DATABASE_CA_FILE: the server reports the session encrypted', async () => {
      const session = await sessionSsl({
        DATABASE_URL: pg.url(),
        DATABASE_SSL_MODE: 'verify-full',
        DATABASE_CA_FILE: ca.certFile,
      })
      expect(session.ssl).toBe(true)
      expect(session.version).toMatch(/^TLSv1\.[23]$/)
    })

    test('S1: sslmode=verify-full in DATABASE_URL is honoured the same way', async () => {
      const session = await sessionSsl({
        DATABASE_URL: `${pg.url()}?sslmode=verify-full`,
        DATABASE_CA_FILE: ca.certFile,
      })
      expect(session.ssl).toBe(true)
    })

    test('S1: verify-full refuses a server whose certificate the trusted CA did not sign', async () => {
      const env = {
        DATABASE_URL: pg.url(),
        DATABASE_SSL_MODE: 'verify-full',
        DATABASE_CA_FILE: otherCa.certFile,
      }
      await expect(sessionSsl(env)).rejects.toThrow(/certificate/i)
    })

    test('S1: verify-full without a CA file trusts only the built-in roots, so a private CA fails', async () => {
      await expect(sessionSsl({ DATABASE_URL: pg.url(), DATABASE_SSL_MODE: 'verify-full' })).rejects.toThrow(
        /certificate/i,
      )
    })

    test('S1: verify-full checks the host name; verify-ca accepts the CA-signed certificate for another name', async () => {
      // The certificate names 127.0.0.1 only; `localhost` reaches the same server under another name.
      const url = `postgres://postgres@localhost:${pg.port}/postgres`
      await expect(
        sessionSsl({ DATABASE_URL: url, DATABASE_SSL_MODE: 'verify-full', DATABASE_CA_FILE: ca.certFile }),
      ).rejects.toThrow(/altnames|does not match/i)
      const session = await sessionSsl({
        DATABASE_URL: url,
        DATABASE_SSL_MODE: 'verify-ca',
        DATABASE_CA_FILE: ca.certFile,
      })
      expect(session.ssl).toBe(true)
    })

    test('S1: require encrypts without checking the certificate; disable stays plain', async () => {
      expect((await sessionSsl({ DATABASE_URL: pg.url(), DATABASE_SSL_MODE: 'require' })).ssl).toBe(true)
      expect((await sessionSsl({ DATABASE_URL: `${pg.url()}?sslmode=prefer` })).ssl).toBe(true)
      expect((await sessionSsl({ DATABASE_URL: pg.url() })).ssl).toBe(false)
    })
  },
)

// Shows the reason in the report instead of a silently empty suite.
