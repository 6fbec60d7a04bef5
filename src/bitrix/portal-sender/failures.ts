/**
 * @module What a thrown call error means for the rows it carried. The one question that matters for
 * `send.messages` (no de-duplication on the portal, §5.8, pitfall 6): did the portal maybe run it?
 */
import { BitrixError, BitrixTransportError, PortalInactiveError, PortalNeedsReauthError } from '../api.ts'

export type FailureClass =
  /** NOT_ACTIVE_LINE: the connector is not active on the line; an admin must reconnect it (pitfall 10). */
  | 'line-inactive'
  /** Needs re-authorisation, uninstalled or deleted: nothing was sent, nothing can be until an admin acts. */
  | 'portal-unavailable'
  /** Provably not run: rate limits, token errors, connection refused, DNS. */
  | 'not-run'
  /** The portal answered with a 4xx error: it refused the call before touching any item. */
  | 'rejected'
  /** A timeout, a reset connection or a 5xx: the portal may have run the call, wholly or in part. */
  | 'in-doubt'

/** Errors the portal answers before it runs anything (reference §4.4, §4.6). */
const NOT_RUN_CODES = new Set([
  'QUERY_LIMIT_EXCEEDED',
  'OPERATION_TIME_LIMIT',
  'OVERLOAD_LIMIT',
  'expired_token',
  'invalid_token',
  'NO_AUTH_FOUND',
])
/** Connection set-up failures: the request never left this machine. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ConnectionRefused',
  'ENOTFOUND',
  'EAI_AGAIN',
  'FailedToOpenSocket',
  'UnableToConnect',
])

function connectionCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string') return code
  const cause = (error as { cause?: unknown } | undefined)?.cause
  return cause && cause !== error ? connectionCode(cause) : undefined
}

export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof PortalNeedsReauthError || error instanceof PortalInactiveError) {
    return 'portal-unavailable'
  }
  // The client knows whether the request may have reached the portal (refused connection: it did not).
  if (error instanceof BitrixTransportError) return error.maybeExecuted ? 'in-doubt' : 'not-run'
  if (error instanceof BitrixError) {
    if (error.code === 'NOT_ACTIVE_LINE') return 'line-inactive'
    if (error.code === 'PORTAL_DELETED') return 'portal-unavailable'
    if (NOT_RUN_CODES.has(error.code) || error.status === 401) return 'not-run'
    if (error.status >= 400 && error.status < 500) return 'rejected'
    return 'in-doubt'
  }
  const code = connectionCode(error)
  if (code && NOT_SENT_CODES.has(code)) return 'not-run'
  return 'in-doubt'
}

/** A short, body-free description for `last_error` and logs. */
export function describeFailure(error: unknown): string {
  if (error instanceof BitrixError) {
    const description = error.description ? `: ${error.description.slice(0, 200)}` : ''
    return `${error.code} (HTTP ${error.status})${description}`
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300)
  return String(error).slice(0, 300)
}
