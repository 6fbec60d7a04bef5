/**
 * @module How Olchat's PostgreSQL connections use TLS (PRIVACY S1), resolved once from `DATABASE_SSL_MODE`,
 * `DATABASE_CA_FILE` and the `sslmode` parameter of `DATABASE_URL`. The modes mean what they mean in libpq, so
 * a URL that works with `psql` works here; only the file parameters (`sslrootcert`, client certificates) are
 * refused in the URL, because the driver would silently send them to the server as settings.
 */

export const databaseSslModes = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type DatabaseSslMode = (typeof databaseSslModes)[number]

export interface DatabaseTls {
  /**
   * `disable` plain; `prefer` TLS when the server offers it; `require` TLS, certificate not checked;
   * `verify-ca` certificate signed by a trusted CA; `verify-full` that, and issued for the host dialled.
   */
  mode: DatabaseSslMode
  /** PEM CA bundle trusted instead of the built-in roots (libpq `sslrootcert`); verify modes only. */
  caFile?: string
}

/** URL parameters libpq reads that the driver would pass on to the server as run-time settings. */
const refusedUrlParameters: Record<string, string> = {
  ssl: 'write sslmode=… (or set DATABASE_SSL_MODE) instead',
  sslrootcert: 'set DATABASE_CA_FILE instead',
  sslcert: 'client certificates are not supported',
  sslkey: 'client certificates are not supported',
  sslpassword: 'client certificates are not supported',
  sslcrl: 'certificate revocation lists are not supported',
  sslcrldir: 'certificate revocation lists are not supported',
}

function isMode(value: string): value is DatabaseSslMode {
  return (databaseSslModes as readonly string[]).includes(value)
}

/**
 * @returns the TLS settings, or the one-line problem (`VARIABLE: reason`) for a ConfigError.
 * @example resolveDatabaseTls('postgres://db/olchat?sslmode=verify-full', undefined, '/etc/olchat/db-ca.pem')
 */
export function resolveDatabaseTls(
  url: string,
  envMode: DatabaseSslMode | undefined,
  caFile: string | undefined,
): DatabaseTls | string {
  const params = new URL(url).searchParams
  for (const [name, advice] of Object.entries(refusedUrlParameters)) {
    if (params.has(name)) return `DATABASE_URL: the ${name} parameter is not read from the URL; ${advice}`
  }
  const urlMode = params.get('sslmode') ?? undefined
  if (urlMode !== undefined && !isMode(urlMode)) {
    return `DATABASE_URL: sslmode must be one of ${databaseSslModes.join(', ')}`
  }
  if (envMode !== undefined && urlMode !== undefined && envMode !== urlMode) {
    return `DATABASE_SSL_MODE: ${envMode} contradicts sslmode=${urlMode} in DATABASE_URL; set one of them`
  }
  // A CA given without a mode can only mean "verify against it".
  const mode = envMode ?? urlMode ?? (caFile ? 'verify-full' : 'disable')
  if (caFile && mode !== 'verify-ca' && mode !== 'verify-full') {
    return `DATABASE_CA_FILE: only used with verify-ca or verify-full, but the mode is ${mode}`
  }
  return caFile ? { mode, caFile } : { mode }
}
