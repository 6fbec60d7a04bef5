/**
 * @module The one place the `postgres` client is configured: real server or embedded PGlite, same options.
 * Column names are camelCased on the way out and snake_cased on the way in (`postgres.camel`). TLS to a real
 * server follows the configured libpq-style mode (PRIVACY S1); the embedded server is in-process and has none.
 */
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import postgres from 'postgres'
import type { DatabaseTls } from '../src/config/database-tls.ts'
import type { Config } from '../src/config/load.ts'
import { startEmbeddedPostgres } from './embedded-postgres.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

export interface Database {
  sql: Sql
  kind: 'postgres' | 'embedded'
  /** Closes the pool (waiting up to `timeoutSeconds` for running queries), then the embedded server. */
  close(timeoutSeconds?: number): Promise<void>
}

/**
 * The driver's `ssl` option for a mode. Its own string modes `prefer`/`require` skip certificate checks, as
 * libpq's do; verification is spelled out here so it does not depend on how the driver reads a string.
 */
export function sslOption(tls: DatabaseTls): boolean | 'prefer' | 'require' | ConnectionOptions {
  if (tls.mode === 'disable') return false
  if (tls.mode === 'prefer' || tls.mode === 'require') return tls.mode
  const trust: ConnectionOptions = {
    rejectUnauthorized: true,
    // A CA file replaces the built-in roots, like libpq's sslrootcert: only that CA may sign the server.
    ...(tls.caFile ? { ca: readFileSync(tls.caFile, 'utf8') } : {}),
  }
  // verify-ca: any certificate the CA signed, whatever host it names (libpq's meaning).
  return tls.mode === 'verify-ca' ? { ...trust, checkServerIdentity: () => undefined } : trust
}

/**
 * @param tls without it the driver reads `sslmode` from the URL itself (test helpers); the server passes the
 * resolved configuration.
 */
export function connect(url: string, max: number, tls?: DatabaseTls): Sql {
  return postgres(url, {
    ...(tls ? { ssl: sslOption(tls) } : {}),
    max,
    transform: postgres.camel,
    onnotice: () => {},
    connection: { application_name: 'olchat' },
    // A dead server must not hang start-up or /readyz forever.
    connect_timeout: 10,
    // bigint ids come back as JS numbers only when safe; otherwise strings (postgres default for int8).
  })
}

export async function openDatabase(config: Config['database']): Promise<Database> {
  if (config.kind === 'postgres') {
    const sql = connect(config.url, config.poolMax, config.tls)
    return { sql, kind: 'postgres', close: (timeout = 5) => sql.end({ timeout }) }
  }
  const embedded = await startEmbeddedPostgres(config.dir)
  const sql = connect(embedded.url, 1)
  return {
    sql,
    kind: 'embedded',
    async close(timeout = 5) {
      await sql.end({ timeout })
      await embedded.stop()
    },
  }
}
