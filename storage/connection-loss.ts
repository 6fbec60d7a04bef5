/**
 * @module Riding out a lost database connection (PostgreSQL restarted, failed over, network blip) where an
 * outcome is already known and must be written: a message the portal or the messenger accepted has to be
 * recorded as delivered, or it is sent again. Only connection loss is retried; any other error is thrown.
 */

/** postgres.js client-side codes of a connection that went away or never came up. */
const CLIENT_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ConnectionRefused',
  'ConnectionClosed',
])

/**
 * PostgreSQL SQLSTATEs of a server going down or coming up: class 08 (connection exception) and
 * 57P01–57P03 (admin/crash shutdown, cannot connect now).
 */
function isServerGoingAway(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03'
}

export function isConnectionLoss(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false
  const code = (error as { code?: unknown }).code
  if (typeof code !== 'string') return false
  return CLIENT_CODES.has(code) || isServerGoingAway(code)
}

export interface ConnectionLossRetry {
  /** Give up (throw the last error) after this long. */
  maxMs: number
  /** First pause; doubles up to `capMs`. */
  baseMs: number
  capMs: number
  /** Called before each pause, e.g. to log once. */
  onRetry?: (error: unknown, attempt: number) => void
  signal?: AbortSignal
}

const DEFAULTS: ConnectionLossRetry = { maxMs: 60_000, baseMs: 200, capMs: 5_000 }

/**
 * Runs `work` until it succeeds, retrying while the database connection is lost, for up to `maxMs`. `work`
 * must be safe to run again after a failure (a transaction that rolled back, an idempotent update).
 */
export async function retryOnConnectionLoss<T>(
  work: () => Promise<T>,
  options: Partial<ConnectionLossRetry> = {},
): Promise<T> {
  const { maxMs, baseMs, capMs, onRetry, signal } = { ...DEFAULTS, ...options }
  const started = Date.now()
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      const delay = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 20))
      if (!isConnectionLoss(error) || signal?.aborted || Date.now() - started + delay > maxMs) throw error
      onRetry?.(error, attempt)
      await Bun.sleep(delay)
    }
  }
}
