/**
 * @module The one place the `postgres` client is configured: real server or embedded PGlite, same options.
 * Column names are camelCased on the way out and snake_cased on the way in (`postgres.camel`).
 */
import postgres from 'postgres'
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

export function connect(url: string, max: number): Sql {
  return postgres(url, {
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
    const sql = connect(config.url, config.poolMax)
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
