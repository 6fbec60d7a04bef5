/**
 * @module S1, S5: the TLS variables are validated when the configuration loads — files exist and parse, the key
 * belongs to the certificate, combinations that would silently do less than asked are refused — and the
 * PostgreSQL mode resolves the way the README says.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { createTestCa, opensslMissing, type TestCa } from '../support/tls-ca.ts'

const root = resolve(import.meta.dir, '../..')
const DB = 'postgres://olchat@db.internal:5432/olchat'

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a configuration error')
}

function databaseTls(env: Record<string, string>) {
  const { database } = loadConfig(env)
  if (database.kind !== 'postgres') throw new Error('expected a real database')
  return database.tls
}

const skipReason = opensslMissing()

// The reason a suite does not run is in its name, so the test output says why.
describe.skipIf(skipReason !== undefined)(
  `TLS configuration${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let ca: TestCa
    let server: { certFile: string; keyFile: string }
    let otherKey: string
    let notPem: string

    beforeAll(() => {
      ca = createTestCa()
      server = ca.issue('server', ['DNS:olchat.example'])
      otherKey = ca.issue('other', ['DNS:other.example']).keyFile
      notPem = join(ca.dir, 'not-pem.txt')
      writeFileSync(notPem, 'this is not a certificate\n')
    })

    afterAll(() => ca?.remove())

    test('S1: the PostgreSQL mode comes from DATABASE_SSL_MODE or the URL, a CA alone means verify-full', () => {
      expect(databaseTls({ DATABASE_URL: DB })).toEqual({ mode: 'disable' })
      expect(databaseTls({ DATABASE_URL: `${DB}?sslmode=require` })).toEqual({ mode: 'require' })
      expect(databaseTls({ DATABASE_URL: DB, DATABASE_SSL_MODE: 'prefer' })).toEqual({ mode: 'prefer' })
      expect(databaseTls({ DATABASE_URL: DB, DATABASE_CA_FILE: ca.certFile })).toEqual({
        mode: 'verify-full',
        caFile: ca.certFile,
      })
      const both = { DATABASE_URL: `${DB}?sslmode=verify-ca`, DATABASE_SSL_MODE: 'verify-ca' }
      expect(databaseTls(both)).toEqual({ mode: 'verify-ca' })
    })

    test('S1: contradicting or meaningless PostgreSQL TLS settings are refused with the variable named', () => {
      expect(errorOf({ DATABASE_URL: `${DB}?sslmode=require`, DATABASE_SSL_MODE: 'verify-full' })).toContain(
        'DATABASE_SSL_MODE: verify-full contradicts sslmode=require',
      )
      expect(errorOf({ DATABASE_URL: `${DB}?sslmode=allow` })).toStartWith(
        'DATABASE_URL: sslmode must be one of',
      )
      expect(errorOf({ DATABASE_URL: DB, DATABASE_SSL_MODE: 'on' })).toStartWith(
        'DATABASE_SSL_MODE: must be one of',
      )
      expect(
        errorOf({ DATABASE_URL: DB, DATABASE_SSL_MODE: 'require', DATABASE_CA_FILE: ca.certFile }),
      ).toStartWith('DATABASE_CA_FILE: only used with verify-ca or verify-full')
      expect(errorOf({ DATABASE_SSL_MODE: 'require' })).toStartWith('DATABASE_SSL_MODE: needs DATABASE_URL')
      expect(errorOf({ DATABASE_URL: `${DB}?sslmode=verify-full&sslrootcert=/etc/ca.pem` })).toContain(
        'set DATABASE_CA_FILE instead',
      )
      expect(errorOf({ DATABASE_URL: `${DB}?ssl=true` })).toContain('sslmode')
    })

    test('S1, S5: a CA file must exist and hold PEM certificates', () => {
      expect(errorOf({ DATABASE_URL: DB, DATABASE_CA_FILE: join(ca.dir, 'missing.pem') })).toStartWith(
        'DATABASE_CA_FILE: file not found',
      )
      expect(errorOf({ DATABASE_URL: DB, DATABASE_CA_FILE: notPem })).toStartWith(
        'DATABASE_CA_FILE: no PEM certificate',
      )
      expect(errorOf({ REDIS_URL: 'rediss://cache:6380', REDIS_CA_FILE: ca.dir })).toStartWith(
        'REDIS_CA_FILE: is a directory',
      )
      expect(
        errorOf({ S3_BUCKET: 'olchat', S3_ENDPOINT: 'https://s3.internal', S3_CA_FILE: notPem }),
      ).toStartWith('S3_CA_FILE: no PEM certificate')
    })

    test('S5: the HTTPS certificate and key are both needed, must parse and must belong together', () => {
      const config = loadConfig({ HTTPS_CERT_FILE: server.certFile, HTTPS_KEY_FILE: server.keyFile })
      expect(config.https).toEqual({ certFile: server.certFile, keyFile: server.keyFile })
      expect(loadConfig({}).https).toBeUndefined()
      expect(errorOf({ HTTPS_CERT_FILE: server.certFile })).toStartWith(
        'HTTPS_KEY_FILE: must be set together',
      )
      expect(errorOf({ HTTPS_CERT_FILE: server.certFile, HTTPS_KEY_FILE: otherKey })).toStartWith(
        'HTTPS_KEY_FILE: is not the key of the first certificate',
      )
      expect(errorOf({ HTTPS_CERT_FILE: server.certFile, HTTPS_KEY_FILE: server.certFile })).toStartWith(
        'HTTPS_KEY_FILE: no unencrypted PEM private key',
      )
      expect(errorOf({ HTTPS_CERT_FILE: server.keyFile, HTTPS_KEY_FILE: server.keyFile })).toStartWith(
        'HTTPS_CERT_FILE: no PEM certificate',
      )
    })

    test('S5: CA files for Redis and S3 only with a TLS link', () => {
      expect(errorOf({ REDIS_URL: 'redis://cache:6379', REDIS_CA_FILE: ca.certFile })).toStartWith(
        'REDIS_CA_FILE: needs a rediss:// REDIS_URL',
      )
      expect(
        errorOf({ S3_BUCKET: 'olchat', S3_ENDPOINT: 'http://s3.internal', S3_CA_FILE: ca.certFile }),
      ).toStartWith('S3_CA_FILE: S3_ENDPOINT is http://')
      expect(errorOf({ S3_CA_FILE: ca.certFile })).toStartWith('S3_BUCKET: required')
      const redis = loadConfig({ REDIS_URL: 'rediss://cache:6380', REDIS_CA_FILE: ca.certFile }).cache
      expect(redis).toEqual({ kind: 'redis', url: 'rediss://cache:6380', caFile: ca.certFile })
    })

    test('S5: Olchat does not start with a broken TLS file: exit code 2 and one line naming the variable', async () => {
      const child = Bun.spawn([process.execPath, 'src/main.ts'], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', HTTPS_CERT_FILE: notPem, HTTPS_KEY_FILE: server.keyFile },
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
      })
      expect(await child.exited).toBe(2)
      expect((await new Response(child.stderr).text()).trim()).toBe(
        `olchat: configuration error: HTTPS_CERT_FILE: no PEM certificate in ${notPem}`,
      )
    })
  },
)
