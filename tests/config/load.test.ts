import { describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { ConfigError, loadConfig } from '../../src/config/load.ts'
import { generateKey } from '../../src/crypto/key-ring.ts'

const root = resolve(import.meta.dir, '../..')

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('configuration', () => {
  test('no configuration at all selects every embedded default', () => {
    const config = loadConfig({})
    expect(config.port).toBe(8080)
    expect(config.database).toEqual({ kind: 'embedded', dir: resolve('data/pg') })
    expect(config.cache).toEqual({ kind: 'memory' })
    expect(config.files).toEqual({ kind: 'local', dir: resolve('data/files') })
    expect(config.encryptionKeys).toBeUndefined()
    expect(config.logLevel).toBe('info')
  })

  test('real services are selected by their variables', () => {
    const keys = `old:${generateKey()},new:${generateKey()}`
    const config = loadConfig({
      PORT: '9000',
      DATABASE_URL: 'postgresql://u:p@db:5432/olchat?sslmode=require',
      DATABASE_POOL_MAX: '20',
      REDIS_URL: 'rediss://cache:6380',
      S3_BUCKET: 'olchat-files',
      S3_ENDPOINT: 'https://storage.example.ru',
      S3_FORCE_PATH_STYLE: 'true',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 'secret',
      OLCHAT_ENCRYPTION_KEYS: keys,
      OLCHAT_DATA_DIR: '/var/lib/olchat',
    })
    expect(config.port).toBe(9000)
    expect(config.database).toEqual({
      kind: 'postgres',
      url: 'postgresql://u:p@db:5432/olchat?sslmode=require',
      poolMax: 20,
      tls: { mode: 'require' },
    })
    expect(config.cache).toEqual({ kind: 'redis', url: 'rediss://cache:6380' })
    expect(config.files).toMatchObject({ kind: 's3', bucket: 'olchat-files', forcePathStyle: true })
    expect(config.encryptionKeys).toBe(keys)
    expect(config.dataDir).toBe('/var/lib/olchat')
  })

  test('empty values count as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', REDIS_URL: '' }).database.kind).toBe('embedded')
  })

  test('a bad URL names the variable and the reason', () => {
    expect(errorOf({ DATABASE_URL: 'mysql://x' })).toBe('DATABASE_URL: not a postgres:// URL')
    expect(errorOf({ REDIS_URL: 'http://x' })).toBe('REDIS_URL: not a redis:// or rediss:// URL')
    expect(errorOf({ S3_ENDPOINT: 'nonsense', S3_BUCKET: 'files' })).toBe('S3_ENDPOINT: not a http(s):// URL')
  })

  test('a bad key ring is refused', () => {
    const expected = 'OLCHAT_ENCRYPTION_KEYS: expected comma-separated keyId:base64 pairs, each key 32 bytes'
    expect(errorOf({ OLCHAT_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' })).toBe(expected)
    expect(errorOf({ OLCHAT_ENCRYPTION_KEYS: generateKey() })).toBe(expected)
    const key = generateKey()
    expect(errorOf({ OLCHAT_ENCRYPTION_KEYS: `a:${key},a:${generateKey()}` })).toBe(
      'OLCHAT_ENCRYPTION_KEYS: key ids must be unique',
    )
  })

  test('an unknown enum value lists the allowed ones', () => {
    expect(errorOf({ LOG_LEVEL: 'verbose' })).toBe(
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
    )
    expect(errorOf({ S3_FORCE_PATH_STYLE: 'yes', S3_BUCKET: 'files' })).toBe(
      'S3_FORCE_PATH_STYLE: must be true or false',
    )
  })

  test('numbers are checked for shape and range', () => {
    expect(errorOf({ PORT: 'http' })).toBe('PORT: not a whole number')
    expect(errorOf({ PORT: '70000' })).toBe('PORT: must be at most 65535')
  })

  test("BITRIX_REST_BUDGET overrides the plans' REST bucket; a malformed one is refused", () => {
    expect(loadConfig({}).bitrix.restBudget).toBeUndefined()
    expect(loadConfig({ BITRIX_REST_BUDGET: '500/20' }).bitrix.restBudget).toEqual({
      burst: 500,
      drainPerSecond: 20,
    })
    expect(errorOf({ BITRIX_REST_BUDGET: '500' })).toBe(
      'BITRIX_REST_BUDGET: expected <burst>/<requests per second>, e.g. 250/5',
    )
    expect(errorOf({ BITRIX_REST_BUDGET: '0/2' })).toContain('BITRIX_REST_BUDGET')
  })

  test('S3 settings that only make sense together are checked together', () => {
    expect(errorOf({ S3_BUCKET: 'files', S3_ACCESS_KEY_ID: 'id' })).toBe(
      'S3_SECRET_ACCESS_KEY: must be set together with S3_ACCESS_KEY_ID',
    )
    expect(errorOf({ S3_ENDPOINT: 'https://s3.example.ru' })).toBe(
      'S3_BUCKET: required when other S3_* variables are set',
    )
  })

  test.each([
    ['a bad URL', { DATABASE_URL: 'not-a-url' }, 'DATABASE_URL: not a postgres:// URL'],
    ['a bad key ring', { OLCHAT_ENCRYPTION_KEYS: 'nope' }, 'OLCHAT_ENCRYPTION_KEYS: expected'],
    ['an unknown enum value', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of'],
  ])('the process exits with code 2 and one line for %s', async (_, env, expected) => {
    const child = Bun.spawn([process.execPath, 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [code, stderr, stdout] = await Promise.all([
      child.exited,
      new Response(child.stderr).text(),
      new Response(child.stdout).text(),
    ])
    expect(code).toBe(2)
    expect(stdout).toBe('')
    const lines = stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toStartWith('olchat: configuration error: ')
    expect(lines[0]).toContain(expected)
  })
})
