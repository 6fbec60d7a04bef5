/**
 * @module The environment Olchat reads, as one valibot schema, and the documentation of each variable.
 * `envDocs` must name every key of the schema (the type enforces it); the README's configuration table is
 * generated from it (`bun src/config/docs.ts`) and a test keeps the two in step.
 */
import * as v from 'valibot'

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

export const envSchema = v.object({
  PORT: v.optional(integer(0, 65535), '8080'),
  HOST: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), '0.0.0.0'),
  OLCHAT_PUBLIC_URL: v.optional(url(['http:', 'https:'], 'http(s)://')),
  OLCHAT_DATA_DIR: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), './data'),
  DATABASE_URL: v.optional(url(['postgres:', 'postgresql:'], 'postgres://')),
  DATABASE_POOL_MAX: v.optional(integer(1, 100), '10'),
  REDIS_URL: v.optional(url(['redis:', 'rediss:'], 'redis:// or rediss://')),
  S3_BUCKET: v.optional(
    v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name')),
  ),
  S3_ENDPOINT: v.optional(url(['http:', 'https:'], 'http(s)://')),
  S3_REGION: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty')), 'us-east-1'),
  S3_FORCE_PATH_STYLE: v.optional(boolean, 'false'),
  S3_ACCESS_KEY_ID: v.optional(v.string()),
  S3_SECRET_ACCESS_KEY: v.optional(v.string()),
  FILE_URL_TTL_SECONDS: v.optional(integer(30, 7 * 24 * 3600), '900'),
  OLCHAT_ENCRYPTION_KEYS: v.optional(keyRing),
  LOG_LEVEL: v.optional(v.picklist(logLevels, `must be one of ${logLevels.join(', ')}`), 'info'),
  BITRIX_CLIENT_ID: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,128}$/, 'not a Bitrix24 client id'))),
  BITRIX_CLIENT_SECRET: v.optional(v.pipe(v.string(), v.minLength(8, 'too short for a client secret'))),
  OLCHAT_ALLOW_HTTP_PORTALS: v.optional(boolean, 'false'),
  SANDBOX_URL: v.optional(url(['http:', 'https:'], 'http(s)://')),
  OLCHAT_ADMIN_TOKEN: v.optional(v.pipe(v.string(), v.minLength(24, 'must be at least 24 characters'))),
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
  OLCHAT_PUBLIC_URL: {
    format: 'http(s):// URL',
    default: 'http://localhost:PORT',
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
    description: 'PostgreSQL server; add `?sslmode=require` (or `verify-full`) for TLS',
  },
  DATABASE_POOL_MAX: {
    format: '1–100',
    default: '10',
    description: 'Connections in the pool (real PostgreSQL only; embedded uses one)',
  },
  REDIS_URL: {
    format: 'redis:// or rediss:// URL',
    default: 'in-process cache',
    description: 'Redis for the cache and locks; `rediss://` for TLS',
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
  OLCHAT_ALLOW_HTTP_PORTALS: {
    format: 'true / false',
    default: 'false',
    description:
      'Accept `http://` portal and OAuth endpoints — only for emulators on loopback; never in production',
  },
}
