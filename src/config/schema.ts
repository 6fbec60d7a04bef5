/**
 * @module The environment Olchat reads, as one valibot schema, and the documentation of each variable.
 * `envDocs` must name every key of the schema (the type enforces it); the README's configuration table is
 * generated from it (`bun src/config/docs.ts`) and a test keeps the two in step.
 */
import * as v from 'valibot'
import { databaseSslModes } from './database-tls.ts'
import { certificatesFile, privateKeyFile } from './tls-files.ts'

const url = (protocols: readonly string[], label: string) =>
  v.pipe(
    v.string(),
    v.check((value) => {
      try {
        return protocols.includes(new URL(value).protocol)
      } catch {
        return false
      }
    }, `not a ${label} URL`),
  )

const integer = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, 'not a whole number'),
    v.transform(Number),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  )

const boolean = v.pipe(
  v.picklist(['true', 'false', '1', '0'], 'must be true or false'),
  v.transform((value) => value === 'true' || value === '1'),
)

function isKeyRingEntry(entry: string): boolean {
  const [id, key, ...rest] = entry.trim().split(':')
  return (
    rest.length === 0 &&
    id !== undefined &&
    /^[A-Za-z0-9_-]{1,32}$/.test(id) &&
    key !== undefined &&
    /^[A-Za-z0-9+/]+={0,2}$/.test(key) &&
    Buffer.from(key, 'base64').length === 32
  )
}

/** `id:base64key` pairs; the last one encrypts new data, every one decrypts. */
const keyRing = v.pipe(
  v.string(),
  v.check(
    (value) => value.split(',').every(isKeyRingEntry),
    'expected comma-separated keyId:base64 pairs, each key 32 bytes',
  ),
  v.check((value) => {
    const ids = value.split(',').map((entry) => entry.trim().split(':')[0])
    return new Set(ids).size === ids.length
  }, 'key ids must be unique'),
)

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export const maxModes = ['auto', 'webhook', 'polling'] as const

/** What Telegram shows in the account's list of sessions (device, system, app version). */
const deviceText = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(64, 'at most 64 characters'),
)

export const envSchema = v.object({
  PORT: v.optional(integer(0, 65535), '8080'),
  HOST: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), '0.0.0.0'),
  HTTPS_CERT_FILE: v.optional(certificatesFile),
  HTTPS_KEY_FILE: v.optional(privateKeyFile),
  OLCHAT_PUBLIC_URL: v.optional(url(['http:', 'https:'], 'http(s)://')),
  OLCHAT_DATA_DIR: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), './data'),
  DATABASE_URL: v.optional(url(['postgres:', 'postgresql:'], 'postgres://')),
  DATABASE_POOL_MAX: v.optional(integer(1, 100), '10'),
  DATABASE_SSL_MODE: v.optional(
    v.picklist(databaseSslModes, `must be one of ${databaseSslModes.join(', ')}`),
  ),
  DATABASE_CA_FILE: v.optional(certificatesFile),
  REDIS_URL: v.optional(url(['redis:', 'rediss:'], 'redis:// or rediss://')),
  REDIS_CA_FILE: v.optional(certificatesFile),
  S3_BUCKET: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name')),
  ),
  S3_ENDPOINT: v.optional(url(['http:', 'https:'], 'http(s)://')),
  S3_REGION: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), 'us-east-1'),
  S3_FORCE_PATH_STYLE: v.optional(boolean, 'false'),
  S3_ACCESS_KEY_ID: v.optional(v.string()),
  S3_SECRET_ACCESS_KEY: v.optional(v.string()),
  S3_CA_FILE: v.optional(certificatesFile),
  FILE_URL_TTL_SECONDS: v.optional(integer(30, 7 * 24 * 3600), '900'),
  OLCHAT_ENCRYPTION_KEYS: v.optional(keyRing),
  LOG_LEVEL: v.optional(v.picklist(logLevels, `must be one of ${logLevels.join(', ')}`), 'info'),
  BITRIX_CLIENT_ID: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,128}$/, 'not a Bitrix24 client id'))),
  BITRIX_CLIENT_SECRET: v.optional(v.pipe(v.string(), v.minLength(8, 'too short for a client secret'))),
  BITRIX_REST_BUDGET: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[1-9]\d{0,6}\/[1-9]\d{0,6}$/, 'expected <burst>/<requests per second>, e.g. 250/5'),
    ),
  ),
  OLCHAT_ALLOW_HTTP_PORTALS: v.optional(boolean, 'false'),
  SANDBOX_URL: v.optional(url(['http:', 'https:'], 'http(s)://')),
  RETENTION_MESSAGES_DAYS: v.optional(integer(1, 3650), '90'),
  RETENTION_LOGS_DAYS: v.optional(integer(1, 3650), '30'),
  RETENTION_STALE_DAYS: v.optional(integer(1, 3650), '7'),
  RETENTION_ANALYTICS_DAYS: v.optional(integer(1, 3650), '90'),
  RETENTION_UNDELIVERED_DAYS: v.optional(integer(1, 3650), '7'),
  OLCHAT_BACKUP_DIR: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
  BACKUP_RETENTION_DAYS: v.optional(integer(1, 3650), '30'),
  OLCHAT_ADMIN_TOKEN: v.optional(v.pipe(v.string(), v.minLength(24, 'must be at least 24 characters'))),
  MAX_API_URL: v.optional(url(['http:', 'https:'], 'http(s)://'), 'https://platform-api2.max.ru'),
  MAX_CA_FILE: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'))),
  MAX_MODE: v.optional(v.picklist(maxModes, `must be one of ${maxModes.join(', ')}`), 'auto'),
  TELEGRAM_API_ID: v.optional(integer(1, 2_147_483_647)),
  TELEGRAM_API_HASH: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/i, 'expected 32 hex characters'))),
  TELEGRAM_DEVICE_MODEL: v.optional(deviceText, 'Olchat'),
  TELEGRAM_SYSTEM_VERSION: v.optional(deviceText, 'Linux'),
  TELEGRAM_APP_VERSION: v.optional(deviceText),
  TELEGRAM_LANG_CODE: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z]{2}$/, 'expected a two-letter language code')),
    'ru',
  ),
  OLCHAT_MAX_ACCOUNTS: v.optional(integer(1, 1_000_000)),
})

export type Env = v.InferOutput<typeof envSchema>

export interface VariableDoc {
  format: string
  default: string
  description: string
}

export const envDocs: Record<keyof typeof envSchema.entries, VariableDoc> = {
  PORT: {
    format: '0–65535',
    default: '8080',
    description: 'HTTP port; 0 picks a free one (logged at start)',
  },
  HOST: { format: 'address', default: '0.0.0.0', description: 'Address the HTTP server binds to' },
  HTTPS_CERT_FILE: {
    format: 'path to a PEM file',
    default: 'plain HTTP',
    description:
      'Certificate (leaf first, then its chain) for serving HTTPS on `PORT` itself, instead of HTTP; set together with `HTTPS_KEY_FILE`',
  },
  HTTPS_KEY_FILE: {
    format: 'path to a PEM file',
    default: '—',
    description: 'Unencrypted private key of `HTTPS_CERT_FILE` (checked to match it at start)',
  },
  OLCHAT_PUBLIC_URL: {
    format: 'http(s):// URL',
    default: 'http(s)://localhost:PORT',
    description: 'Address Bitrix24 and browsers use to reach Olchat (handlers, signed file links)',
  },
  OLCHAT_DATA_DIR: {
    format: 'directory',
    default: './data',
    description: 'Embedded database (`pg/`), local files (`files/`) and the generated key live here',
  },
  DATABASE_URL: {
    format: 'postgres:// URL',
    default: 'embedded PGlite',
    description: 'PostgreSQL server; its `sslmode` parameter is honoured like `DATABASE_SSL_MODE`',
  },
  DATABASE_POOL_MAX: {
    format: '1–100',
    default: '10',
    description: 'Connections in the pool (real PostgreSQL only; embedded uses one)',
  },
  DATABASE_SSL_MODE: {
    format: databaseSslModes.join(' \\| '),
    default: 'disable (verify-full with a CA file)',
    description:
      "TLS to PostgreSQL, as libpq's `sslmode`: `require` encrypts without checking the certificate, `verify-full` " +
      'also checks its CA and host name. May instead be `sslmode` in `DATABASE_URL`; both set must agree',
  },
  DATABASE_CA_FILE: {
    format: 'path to a PEM file',
    default: 'built-in roots',
    description:
      'CA certificates trusted for the PostgreSQL server instead of the built-in roots (verify modes only)',
  },
  REDIS_URL: {
    format: 'redis:// or rediss:// URL',
    default: 'in-process cache',
    description: 'Redis for the cache and locks; `rediss://` for TLS',
  },
  REDIS_CA_FILE: {
    format: 'path to a PEM file',
    default: 'built-in roots',
    description: 'CA certificates trusted for a `rediss://` server instead of the built-in roots',
  },
  S3_BUCKET: {
    format: 'bucket name',
    default: 'local directory',
    description: 'S3 bucket for files in transfer; setting it switches from the local directory to S3',
  },
  S3_ENDPOINT: {
    format: 'http(s):// URL',
    default: 'AWS',
    description: 'S3-compatible endpoint (MinIO, Yandex Object Storage, VK Cloud…)',
  },
  S3_REGION: { format: 'region name', default: 'us-east-1', description: 'S3 region' },
  S3_FORCE_PATH_STYLE: {
    format: 'true / false',
    default: 'false',
    description: 'Path-style bucket addressing (most self-hosted stores need `true`)',
  },
  S3_ACCESS_KEY_ID: {
    format: 'string',
    default: 'AWS SDK chain',
    description: 'S3 access key id; unset: the AWS SDK default credential chain',
  },
  S3_SECRET_ACCESS_KEY: {
    format: 'string',
    default: '—',
    description: 'S3 secret access key (set together with `S3_ACCESS_KEY_ID`)',
  },
  S3_CA_FILE: {
    format: 'path to a PEM file',
    default: '—',
    description: 'Extra CA certificates trusted for an `https://` `S3_ENDPOINT`, added to the built-in roots',
  },
  FILE_URL_TTL_SECONDS: {
    format: '30–604800',
    default: '900',
    description: 'Lifetime of a signed file download link, in seconds',
  },
  OLCHAT_ENCRYPTION_KEYS: {
    format: 'id:base64[,id:base64…]',
    default: 'generated into the data dir',
    description:
      'Key ring for secrets at rest (AES-256-GCM, 32-byte keys, ids `[A-Za-z0-9_-]`). The last key seals ' +
      'new data; every key opens. Rotate by appending a key, then `npm run olchat -- reencrypt`',
  },
  LOG_LEVEL: { format: logLevels.join(' \\| '), default: 'info', description: 'Least severe level written' },
  BITRIX_CLIENT_ID: {
    format: 'string',
    default: '—',
    description:
      'Client id of the Marketplace app (`app.xxxx`). A local app instead stores its own id per portal ' +
      '(`npm run olchat -- portal-credentials`)',
  },
  BITRIX_CLIENT_SECRET: {
    format: 'string',
    default: '—',
    description: 'Client secret of the Marketplace app (set together with `BITRIX_CLIENT_ID`)',
  },
  BITRIX_REST_BUDGET: {
    format: '<burst>/<requests per second>',
    default: 'by plan: 50/2, Enterprise 250/5',
    description:
      "Every portal's REST budget, instead of the cloud plans' limits: for on-premise Bitrix24 with other limits, or an emulator with its limit off",
  },
  RETENTION_MESSAGES_DAYS: {
    format: '1–3650',
    default: '90',
    description: 'R3: days message metadata is kept (whole days are dropped as partitions)',
  },
  RETENTION_LOGS_DAYS: {
    format: '1–3650',
    default: '30',
    description: 'R5: days stored logs are kept (finished Bitrix24 events, audit entries)',
  },
  RETENTION_STALE_DAYS: {
    format: '1–3650',
    default: '7',
    description:
      'R6: days after the stale mark until stale contacts (and their avatars) and chat mappings go',
  },
  RETENTION_ANALYTICS_DAYS: {
    format: '1–3650',
    default: '90',
    description: 'R7: days of daily analytics kept (rolling history)',
  },
  RETENTION_UNDELIVERED_DAYS: {
    format: '1–3650',
    default: '7',
    description:
      'R8: days an undeliverable body or file is kept at most (dead letters, waiting events), and finished relay jobs',
  },
  OLCHAT_BACKUP_DIR: {
    format: 'directory',
    default: 'DATA_DIR/backups',
    description: 'Where `npm run olchat -- backup create` writes encrypted backups (P4)',
  },
  BACKUP_RETENTION_DAYS: {
    format: '1–3650',
    default: '30',
    description:
      'P4: days a backup is kept; older ones are deleted by `backup prune` and every `backup create`, so deleted data does not live on in them',
  },
  SANDBOX_URL: {
    format: 'http(s):// URL',
    default: 'off',
    description:
      'Base URL of a sandbox messenger (`npm run emulator:sandbox`); enables the sandbox connector for demos and tests',
  },
  OLCHAT_ADMIN_TOKEN: {
    format: '≥ 24 characters',
    default: '—',
    description:
      'First support token for the admin API (`Authorization: Bearer …`); stored hashed at start. Generate with ' +
      '`openssl rand -base64 32`',
  },
  MAX_API_URL: {
    format: 'http(s):// URL',
    default: 'https://platform-api2.max.ru',
    description: 'MAX Bot API base URL (an emulator in tests)',
  },
  MAX_CA_FILE: {
    format: 'path to a PEM file',
    default: '—',
    description:
      'Extra CA certificates trusted for MAX (the Russian Trusted Root CA MAX asks clients to trust), added to the built-in roots',
  },
  MAX_MODE: {
    format: maxModes.join(' \\| '),
    default: 'auto',
    description:
      'How MAX updates arrive: `webhook` (MAX calls `OLCHAT_PUBLIC_URL/max/webhook/<account>`; needs public HTTPS on 443), ' +
      '`polling` (long polling, ≤ 2 req/s; for installations without a public address), `auto` = webhook when ' +
      '`OLCHAT_PUBLIC_URL` is https on port 443, else polling',
  },
  TELEGRAM_API_ID: {
    format: 'number',
    default: 'Telegram off',
    description:
      'Telegram app id from my.telegram.org (set together with `TELEGRAM_API_HASH`); enables the Telegram connector',
  },
  TELEGRAM_API_HASH: {
    format: '32 hex characters',
    default: '—',
    description: 'Telegram app hash from my.telegram.org (set together with `TELEGRAM_API_ID`)',
  },
  TELEGRAM_DEVICE_MODEL: {
    format: 'text ≤ 64',
    default: 'Olchat',
    description:
      "Device name shown in the account's Telegram sessions. This and the three below are stored with each " +
      'account at login and reused on every connect, so a later change applies to new logins only',
  },
  TELEGRAM_SYSTEM_VERSION: {
    format: 'text ≤ 64',
    default: 'Linux',
    description: 'System version shown in the Telegram sessions list',
  },
  TELEGRAM_APP_VERSION: {
    format: 'text ≤ 64',
    default: "Olchat's version",
    description: 'App version shown in the Telegram sessions list',
  },
  TELEGRAM_LANG_CODE: {
    format: 'two letters',
    default: 'ru',
    description: 'Language code sent to Telegram (service messages, login code texts)',
  },
  OLCHAT_ALLOW_HTTP_PORTALS: {
    format: 'true / false',
    default: 'false',
    description:
      'Accept `http://` portal and OAuth endpoints — only for emulators on loopback; never in production',
  },
  OLCHAT_MAX_ACCOUNTS: {
    format: '1–1000000',
    default: 'no limit',
    description:
      'Most messenger accounts this process runs; the others are left to the other instances on the same database',
  },
}
