/**
 * @module Keeps a database restart from killing the process. postgres.js 3.4.9 (the only version on our
 * registry) drops every listener of a socket it considers closed (`socket.removeAllListeners()` in its
 * `closed`), so a late `ECONNRESET` on that socket is an `error` event nobody handles, and it can write to a
 * socket it already nulled (a `TypeError` in its `nextWrite`; upstream PR porsager/postgres#1155). Both reach
 * us as uncaught exceptions although the client has already treated the connection as lost and reconnects.
 *
 * Only those two shapes are forgiven (logged, counted); anything else still ends the process, since
 * continuing after an unknown uncaught error would be worse than a restart.
 */
import type { Logger } from '../log/logger.ts'

const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED'])

/** A network error event of a socket whose owner stopped listening (no stack frame of ours involved). */
function isOrphanSocketError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const { code, syscall } = error as { code?: unknown; syscall?: unknown }
  return typeof code === 'string' && SOCKET_CODES.has(code) && (syscall === 'read' || syscall === 'write')
}

/** postgres.js writing to the socket it has just dropped. */
function isPostgresNullSocketWrite(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /socket\.write/.test(error.message) &&
    /postgres[\\/]src[\\/]connection\.js/.test(error.stack ?? '')
  )
}

export function isStraySocketError(error: unknown): boolean {
  return isOrphanSocketError(error) || isPostgresNullSocketWrite(error)
}

/**
 * Installs the process-wide handler. @returns a counter of forgiven errors (for tests and metrics) and an
 * uninstall function.
 */
export function forgiveStraySocketErrors(
  log: Logger,
  onFatal: (error: unknown) => void = () => process.exit(1),
): { forgiven: () => number; uninstall: () => void } {
  let forgiven = 0
  const handler = (error: unknown) => {
    if (isStraySocketError(error)) {
      forgiven++
      log.warn({ err: error }, 'stray socket error after a lost connection (ignored; the client reconnects)')
      return
    }
    log.fatal({ err: error }, 'uncaught exception')
    onFatal(error)
  }
  process.on('uncaughtException', handler)
  return { forgiven: () => forgiven, uninstall: () => process.off('uncaughtException', handler) }
}
