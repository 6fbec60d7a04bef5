/** @module Parses the environment once into the typed configuration every other module receives. */
import { resolve } from 'node:path'
import * as v from 'valibot'
import { envSchema } from './schema.ts'

export interface Config {
  port: number
  host: string
  publicUrl: string | undefined
  dataDir: string
  database: { kind: 'postgres'; url: string; poolMax: number } | { kind: 'embedded'; dir: string }
  cache: { kind: 'redis'; url: string } | { kind: 'memory' }
  files:
    | {
        kind: 's3'
        bucket: string
        endpoint: string | undefined
        region: string
        forcePathStyle: boolean
        credentials: { accessKeyId: string; secretAccessKey: string } | undefined
      }
    | { kind: 'local'; dir: string }
  fileUrlTtlSeconds: number
  /** Raw key ring text, or undefined for the generated embedded key. */
  encryptionKeys: string | undefined
  logLevel: v.InferOutput<typeof envSchema>['LOG_LEVEL']
  /** Sandbox messenger base URL; the sandbox connector is enabled only when set. */
  sandboxUrl: string | undefined
  /** Plain first support token from the environment (hashed before it is stored). */
  adminToken: string | undefined
  bitrix: {
    /** Marketplace app credentials; undefined when every portal is a local app with its own. */
    app: { clientId: string; clientSecret: string } | undefined
    allowHttpPortals: boolean
  }
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
  if (e.S3_BUCKET === undefined && (e.S3_ENDPOINT !== undefined || e.S3_ACCESS_KEY_ID !== undefined)) {
    throw new ConfigError('S3_BUCKET: required when other S3_* variables are set')
  }
  if ((e.BITRIX_CLIENT_ID === undefined) !== (e.BITRIX_CLIENT_SECRET === undefined)) {
    throw new ConfigError('BITRIX_CLIENT_SECRET: must be set together with BITRIX_CLIENT_ID')
  }
  const dataDir = resolve(e.OLCHAT_DATA_DIR)
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.OLCHAT_PUBLIC_URL?.replace(/\/+$/, ''),
    dataDir,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX }
      : { kind: 'embedded', dir: resolve(dataDir, 'pg') },
    cache: e.REDIS_URL ? { kind: 'redis', url: e.REDIS_URL } : { kind: 'memory' },
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
        }
      : { kind: 'local', dir: resolve(dataDir, 'files') },
    fileUrlTtlSeconds: e.FILE_URL_TTL_SECONDS,
    encryptionKeys: e.OLCHAT_ENCRYPTION_KEYS,
    logLevel: e.LOG_LEVEL,
    sandboxUrl: e.SANDBOX_URL?.replace(/\/+$/, ''),
    adminToken: e.OLCHAT_ADMIN_TOKEN,
    bitrix: {
      app:
        e.BITRIX_CLIENT_ID && e.BITRIX_CLIENT_SECRET
          ? { clientId: e.BITRIX_CLIENT_ID, clientSecret: e.BITRIX_CLIENT_SECRET }
          : undefined,
      allowHttpPortals: e.OLCHAT_ALLOW_HTTP_PORTALS,
    },
  }
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
