/**
 * @module What the privacy page states about this installation, taken from the running configuration: the
 * retention periods in force, which stores are in use (embedded or PostgreSQL, Redis or in-process, S3 or
 * a local directory), whether each link is encrypted, and how long backups live. The page is rendered from
 * these facts and the policy only, so it cannot promise what the code does not do.
 */
import type { Config } from '../config/load.ts'
import type { RetentionPeriods } from './retention-periods.ts'

/** How a network link is protected: not at all, TLS when offered, TLS, TLS with the certificate checked. */
export type LinkProtection = 'none' | 'opportunistic' | 'tls' | 'verified'

export interface PrivacyFacts {
  periods: RetentionPeriods
  database: { kind: 'embedded' } | { kind: 'postgres'; link: LinkProtection }
  cache: { kind: 'memory' } | { kind: 'redis'; link: LinkProtection }
  files: { kind: 'local'; linkMinutes: number } | { kind: 's3'; link: LinkProtection }
  /** Olchat's own HTTP: served with TLS, or published at an https address (TLS at a proxy). */
  https: boolean
  backupDays: number
}

const SSL_MODE_LINK: Record<string, LinkProtection> = {
  disable: 'none',
  prefer: 'opportunistic',
  require: 'tls',
  'verify-ca': 'verified',
  'verify-full': 'verified',
}

export function privacyFacts(config: Config): PrivacyFacts {
  const { database, cache, files } = config
  return {
    periods: config.retention,
    database:
      database.kind === 'postgres'
        ? { kind: 'postgres', link: SSL_MODE_LINK[database.tls.mode] ?? 'none' }
        : { kind: 'embedded' },
    // ioredis checks the server's certificate on rediss:// (against the CA file or the built-in roots).
    cache:
      cache.kind === 'redis'
        ? { kind: 'redis', link: cache.url.startsWith('rediss:') ? 'verified' : 'none' }
        : cache,
    files:
      files.kind === 's3'
        ? { kind: 's3', link: files.endpoint?.startsWith('http:') ? 'none' : 'verified' }
        : { kind: 'local', linkMinutes: Math.max(1, Math.round(config.fileUrlTtlSeconds / 60)) },
    https: config.https !== undefined || (config.publicUrl?.startsWith('https:') ?? false),
    backupDays: config.backup.retentionDays,
  }
}
