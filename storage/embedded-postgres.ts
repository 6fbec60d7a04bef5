/**
 * @module Embedded default: PGlite (real PostgreSQL 18 in WASM) persisted in the data dir and served on a
 * loopback port, so the very same `postgres` client and SQL run against it as against a real server.
 * One connection only: PGlite is single-session, and pooled connections hang it.
 */
import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

export interface EmbeddedPostgres {
  /** `postgres://` URL of the loopback server. */
  url: string
  stop(): Promise<void>
}

/** @param dir a directory to persist to, or undefined for a throwaway in-memory database (tests). */
export async function startEmbeddedPostgres(dir: string | undefined): Promise<EmbeddedPostgres> {
  if (dir) mkdirSync(dir, { recursive: true })
  const db = await PGlite.create(dir)
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0 })
  await server.start()
  // "127.0.0.1:<port>" once listening (port 0 asks the OS for a free one).
  const hostPort = server.getServerConn()
  return {
    url: `postgres://postgres@${hostPort}/postgres`,
    async stop() {
      await server.stop()
      await db.close()
    },
  }
}
