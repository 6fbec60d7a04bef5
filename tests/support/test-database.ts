/**
 * @module One throwaway database per test file: a fresh database on the real server (dropped with force at
 * the end), or a fresh in-memory PGlite behind its socket server. Either way the suites talk to it through
 * the same `postgres` client options as production (`storage/db.ts`).
 */
import postgres from 'postgres'
import { connect, type Sql } from '../../storage/db.ts'
import { startEmbeddedPostgres } from '../../storage/embedded-postgres.ts'
import { migrate } from '../../storage/migrate.ts'
import { type BackendSet, testBackendSet, testPostgresUrl } from './backends.ts'

export interface TestDatabase {
  sql: Sql
  /** Connection URL (for child processes in the real-server mode). */
  url: string
  backend: BackendSet
  drop(): Promise<void>
}

let counter = 0

export async function createTestDatabase({
  migrated = true,
  backend = testBackendSet(),
  poolMax = 4,
}: {
  migrated?: boolean
  backend?: BackendSet
  poolMax?: number
} = {}): Promise<TestDatabase> {
  if (backend === 'embedded') {
    const embedded = await startEmbeddedPostgres(undefined)
    const sql = connect(embedded.url, 1)
    if (migrated) await migrate(sql)
    return {
      sql,
      url: embedded.url,
      backend,
      async drop() {
        await sql.end({ timeout: 1 })
        await embedded.stop()
      },
    }
  }
  const name = `olchat_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
  const admin = postgres(testPostgresUrl, { max: 1, onnotice: () => {} })
  await admin`create database ${admin(name)}`
  await admin.end()
  const url = new URL(testPostgresUrl)
  url.pathname = `/${name}`
  const sql = connect(url.toString(), poolMax)
  if (migrated) await migrate(sql)
  return {
    sql,
    url: url.toString(),
    backend,
    async drop() {
      await sql.end({ timeout: 1 })
      const cleanup = postgres(testPostgresUrl, { max: 1, onnotice: () => {} })
      await cleanup`drop database if exists ${cleanup(name)} with (force)`
      await cleanup.end()
    },
  }
}
