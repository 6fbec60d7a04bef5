/** @module Parses the environment once into the typed configuration every other module receives. */
import { resolve } from 'node:path'
import * as v from 'valibot'
import type { RetentionPeriods } from '../retention/periods.ts'
import { version } from '../version.ts'
import { type DatabaseTls, resolveDatabaseTls } from './database-tls.ts'
import { envSchema } from './schema.ts'
import { keyMatchesCertificate } from './tls-files.ts'

export interface Config {
  port: number
  host: string
  /** Serve HTTPS (not HTTP) on `port` with this certificate and key, both validated at load. */
  https: { certFile: string; keyFile: string } | undefined
  publicUrl: string | undefined
  dataDir: string
  database:
    | { kind: 'postgres'; url: string; poolMax: number; tls: DatabaseTls }
    | { kind: 'embedded'; dir: string }
  /** `caFile`: PEM bundle trusted for `rediss://` instead of the built-in roots. */
  cache: { kind: 'redis'; url: string; caFile?: string } | { kind: 'memory' }
  files:
    | {
        kind: 's3'
        bucket: string
        endpoint: string | undefined
        region: string
        forcePathStyle: boolean
        credentials: { accessKeyId: string; secretAccessKey: string } | undefined
        /** PEM bundle trusted for an https endpoint besides the built-in roots. */
        caFile: string | undefined
      }
    | { kind: 'local'; dir: string }
  fileUrlTtlSeconds: number
  /** Raw key ring text, or undefined for the generated embedded key. */
  encryptionKeys: string | undefined
  logLevel: v.InferOutput<typeof envSchema>['LOG_LEVEL']
  /** Sandbox messenger base URL; the sandbox connector is enabled only when set. */
  sandboxUrl: string | undefined
  max: {
    apiUrl: string
    /** Path of a PEM bundle trusted besides the built-in roots. */
    caFile: string | undefined
    /** How updates arrive, `auto` already resolved. */
    mode: 'webhook' | 'polling'
  }
  /** Telegram app credentials and device parameters; the connector is enabled only when they are set. */
  telegram: TelegramConfig | undefined
  /** Days kept per retention rule (PRIVACY R3, R5, R6, R7, R8). */
  retention: RetentionPeriods
  /** Encrypted backups (P4): where they are written, and how many days they are kept. */
  backup: { dir: string; retentionDays: number }
  /** Plain first support token from the environment (hashed before it is stored). */
  adminToken: string | undefined
  /** Most accounts this instance holds leases for (undefined: no limit). */
  maxAccounts: number | undefined
  bitrix: {
    /** Marketplace app credentials; undefined when every portal is a local app with its own. */
    app: { clientId: string; clientSecret: string } | undefined
    allowHttpPortals: boolean
    /** Overrides the plans' REST buckets for every portal (`BITRIX_REST_BUDGET`). */
    restBudget: { burst: number; drainPerSecond: number } | undefined
  }
}

export interface TelegramConfig {
  apiId: number
  apiHash: string
  /** Given to new logins; each account keeps the ones it logged in with (stable per account). */
  device: { deviceModel: string; systemVersion: string; appVersion: string; langCode: string }
}

/** A configuration problem, already phrased as the one line the operator sees. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads only the variables the schema knows; empty strings count as unset (compose files often pass `VAR=`). */
function pickKnown(env: Record<string, string | undefined>): Record<string, string> {
  const picked: Record<string, string> = {}
  for (const key of Object.keys(envSchema.entries)) {
    const value = env[key]
    if (value !== undefined && value !== '') picked[key] = value
  }
  return picked
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = v.safeParse(envSchema, pickKnown(env))
  if (!parsed.success) {
    const lines = parsed.issues.map((issue) => `${v.getDotPath(issue) ?? 'environment'}: ${issue.message}`)
    throw new ConfigError(lines.join('; '))
  }
  const e = parsed.output
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError('S3_SECRET_ACCESS_KEY: must be set together with S3_ACCESS_KEY_ID')
  }
  if (
    e.S3_BUCKET === undefined &&
    (e.S3_ENDPOINT !== undefined || e.S3_ACCESS_KEY_ID !== undefined || e.S3_CA_FILE !== undefined)
  ) {
    throw new ConfigError('S3_BUCKET: required when other S3_* variables are set')
  }
  if ((e.BITRIX_CLIENT_ID === undefined) !== (e.BITRIX_CLIENT_SECRET === undefined)) {
    throw new ConfigError('BITRIX_CLIENT_SECRET: must be set together with BITRIX_CLIENT_ID')
  }
  if ((e.TELEGRAM_API_ID === undefined) !== (e.TELEGRAM_API_HASH === undefined)) {
    throw new ConfigError('TELEGRAM_API_HASH: must be set together with TELEGRAM_API_ID')
  }
  const publicUrl = e.OLCHAT_PUBLIC_URL?.replace(/\/+$/, '')
  if (e.MAX_MODE === 'webhook' && publicUrl === undefined) {
    throw new ConfigError('MAX_MODE: webhook needs OLCHAT_PUBLIC_URL (the address MAX calls)')
  }
  const tls = checkTlsVariables(e)
  const dataDir = resolve(e.OLCHAT_DATA_DIR)
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    dataDir,
    https: tls.https,
    database:
      e.DATABASE_URL && tls.database
        ? { kind: 'postgres', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, tls: tls.database }
        : { kind: 'embedded', dir: resolve(dataDir, 'pg') },
    cache: e.REDIS_URL
      ? { kind: 'redis', url: e.REDIS_URL, ...(e.REDIS_CA_FILE ? { caFile: e.REDIS_CA_FILE } : {}) }
      : { kind: 'memory' },
    files: e.S3_BUCKET
      ? {
          kind: 's3',
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT,
          region: e.S3_REGION,
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
          credentials:
            e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
              ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
              : undefined,
          caFile: e.S3_CA_FILE,
        }
      : { kind: 'local', dir: resolve(dataDir, 'files') },
    fileUrlTtlSeconds: e.FILE_URL_TTL_SECONDS,
    encryptionKeys: e.OLCHAT_ENCRYPTION_KEYS,
    logLevel: e.LOG_LEVEL,
    sandboxUrl: e.SANDBOX_URL?.replace(/\/+$/, ''),
    max: {
      apiUrl: e.MAX_API_URL.replace(/\/+$/, ''),
      caFile: e.MAX_CA_FILE,
      mode: e.MAX_MODE === 'auto' ? (reachableByMax(publicUrl) ? 'webhook' : 'polling') : e.MAX_MODE,
    },
    telegram:
      e.TELEGRAM_API_ID !== undefined && e.TELEGRAM_API_HASH !== undefined
        ? {
            apiId: e.TELEGRAM_API_ID,
            apiHash: e.TELEGRAM_API_HASH.toLowerCase(),
            device: {
              deviceModel: e.TELEGRAM_DEVICE_MODEL,
              systemVersion: e.TELEGRAM_SYSTEM_VERSION,
              appVersion: e.TELEGRAM_APP_VERSION ?? `Olchat ${version}`,
              langCode: e.TELEGRAM_LANG_CODE,
            },
          }
        : undefined,
    retention: {
      R3: e.RETENTION_MESSAGES_DAYS,
      R5: e.RETENTION_LOGS_DAYS,
      R6: e.RETENTION_STALE_DAYS,
      R7: e.RETENTION_ANALYTICS_DAYS,
      R8: e.RETENTION_UNDELIVERED_DAYS,
    },
    backup: {
      dir: e.OLCHAT_BACKUP_DIR ? resolve(e.OLCHAT_BACKUP_DIR) : resolve(dataDir, 'backups'),
      retentionDays: e.BACKUP_RETENTION_DAYS,
    },
    adminToken: e.OLCHAT_ADMIN_TOKEN,
    maxAccounts: e.OLCHAT_MAX_ACCOUNTS,
    bitrix: {
      app:
        e.BITRIX_CLIENT_ID && e.BITRIX_CLIENT_SECRET
          ? { clientId: e.BITRIX_CLIENT_ID, clientSecret: e.BITRIX_CLIENT_SECRET }
          : undefined,
      allowHttpPortals: e.OLCHAT_ALLOW_HTTP_PORTALS,
      restBudget: restBudget(e.BITRIX_REST_BUDGET),
    },
  }
}

function restBudget(value: string | undefined): Config['bitrix']['restBudget'] {
  if (value === undefined) return undefined
  const [burst, perSecond] = value.split('/').map(Number)
  return { burst: burst!, drainPerSecond: perSecond! }
}

/** The TLS variables that only make sense together (PRIVACY S1, S5); the files themselves are checked by the schema. */
function checkTlsVariables(e: v.InferOutput<typeof envSchema>): {
  https: Config['https']
  database: DatabaseTls | undefined
} {
  if ((e.HTTPS_CERT_FILE === undefined) !== (e.HTTPS_KEY_FILE === undefined)) {
    throw new ConfigError('HTTPS_KEY_FILE: must be set together with HTTPS_CERT_FILE')
  }
  if (e.HTTPS_CERT_FILE && e.HTTPS_KEY_FILE && !keyMatchesCertificate(e.HTTPS_CERT_FILE, e.HTTPS_KEY_FILE)) {
    throw new ConfigError('HTTPS_KEY_FILE: is not the key of the first certificate in HTTPS_CERT_FILE')
  }
  if (e.REDIS_CA_FILE && !e.REDIS_URL?.startsWith('rediss:')) {
    throw new ConfigError('REDIS_CA_FILE: needs a rediss:// REDIS_URL (TLS)')
  }
  if (e.S3_CA_FILE && e.S3_ENDPOINT?.startsWith('http:')) {
    throw new ConfigError('S3_CA_FILE: S3_ENDPOINT is http://; a CA is only used with https://')
  }
  let database: DatabaseTls | undefined
  if (e.DATABASE_URL) {
    const resolved = resolveDatabaseTls(e.DATABASE_URL, e.DATABASE_SSL_MODE, e.DATABASE_CA_FILE)
    if (typeof resolved === 'string') throw new ConfigError(resolved)
    database = resolved
  } else if (e.DATABASE_SSL_MODE || e.DATABASE_CA_FILE) {
    throw new ConfigError('DATABASE_SSL_MODE: needs DATABASE_URL (the embedded database has no network link)')
  }
  const https =
    e.HTTPS_CERT_FILE && e.HTTPS_KEY_FILE
      ? { certFile: e.HTTPS_CERT_FILE, keyFile: e.HTTPS_KEY_FILE }
      : undefined
  return { https, database }
}

/** MAX delivers webhooks only to https on port 443 (reference/max-bot-api.md §4.2). */
function reachableByMax(publicUrl: string | undefined): boolean {
  if (!publicUrl) return false
  const url = new URL(publicUrl)
  return url.protocol === 'https:' && (url.port === '' || url.port === '443')
}

/**
 * For process entry points (server, CLI): the configuration, or the one-line reason on stderr and exit code 2.
 */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`olchat: configuration error: ${error.message}`)
    process.exit(2)
  }
}
