/**
 * @module Telegram's failures → the bridge's typed errors (reference §2.2, §2.6, §7.1). 401s end the session
 * (`NeedsLoginError`), 406 `AUTH_KEY_DUPLICATED` kills it for good, `FLOOD_WAIT_n` (and its slow-mode and
 * premium cousins) become `FloodWaitError(n)`, 5xx and lost connections are transient, every other refusal
 * is permanent for that item.
 */
import { MtPeerNotFoundError, MtTimeoutError, tl } from '@mtcute/core'
import {
  BridgeError,
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
} from '../../bridge/errors.ts'

/** Texts of the 401 family: the session is gone and only a new login helps. */
const SESSION_GONE = new Set([
  'AUTH_KEY_UNREGISTERED',
  'AUTH_KEY_INVALID',
  'AUTH_KEY_PERM_EMPTY',
  'SESSION_REVOKED',
  'SESSION_EXPIRED',
  'USER_DEACTIVATED',
  'USER_DEACTIVATED_BAN',
])

const WAITS = new Set([
  'FLOOD_WAIT_%d',
  'SLOWMODE_WAIT_%d',
  'FLOOD_PREMIUM_WAIT_%d',
  'FLOOD_TEST_PHONE_WAIT_%d',
])

/** Seconds to wait when the error is a flood wait of some kind, else undefined. */
export function floodWaitSeconds(error: unknown): number | undefined {
  if (!tl.RpcError.is(error)) return undefined
  if (error.code !== 420 && !WAITS.has(error.text)) return undefined
  const seconds = (error as { seconds?: number }).seconds
  return Math.max(1, Math.ceil(typeof seconds === 'number' ? seconds : 1))
}

/** Whether the error says the session is no longer valid (needs a new login). */
export function isSessionGone(error: unknown): boolean {
  if (!tl.RpcError.is(error)) return false
  if (error.text === 'AUTH_KEY_DUPLICATED') return true
  return SESSION_GONE.has(error.text) || (error.code === 401 && error.text !== 'SESSION_PASSWORD_NEEDED')
}

/** Maps any failure of a client call; typed bridge errors pass through. */
export function toBridgeError(error: unknown): Error {
  if (error instanceof BridgeError) return error
  if (tl.RpcError.is(error)) {
    const seconds = floodWaitSeconds(error)
    if (seconds !== undefined) return new FloodWaitError(seconds, { cause: error })
    if (error.text === 'AUTH_KEY_DUPLICATED') return new NeedsLoginError('revoked', { cause: error })
    if (error.text === 'AUTH_KEY_UNREGISTERED') return new NeedsLoginError('logged-out', { cause: error })
    if (isSessionGone(error)) return new NeedsLoginError('revoked', { cause: error })
    if (error.code >= 500 || error.code < 0 || error.code === 420) {
      return new TransientNetworkError(`${error.code} ${error.text}`, { cause: error })
    }
    return new PermanentSendError(error.text, error.message, { cause: error })
  }
  if (error instanceof MtPeerNotFoundError) {
    return new PermanentSendError('PEER_ID_INVALID', error.message, { cause: error })
  }
  if (error instanceof MtTimeoutError) return new TransientNetworkError(error.message, { cause: error })
  return error instanceof Error
    ? new TransientNetworkError(error.message, { cause: error })
    : new TransientNetworkError(String(error))
}
