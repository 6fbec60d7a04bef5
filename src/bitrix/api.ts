/**
 * @module The contract between the Bitrix24 REST client (`src/bitrix/client/`) and everything that calls
 * Bitrix24 (install, placement, the portal sender). Callers name a stored portal; the client owns tokens,
 * refresh, the per-portal rate budget, retries and timeouts.
 */

export interface BitrixCallOptions {
  /** Per-attempt timeout; default 30 s (cloud portals cut a request at 60 s). */
  timeoutMs?: number
  /**
   * True when repeating the call after a timeout or a lost response cannot duplicate anything (reads, `event.bind`,
   * `imconnector.register`, `activate`). Non-idempotent calls are retried only when the portal provably did not
   * run them (503 QUERY_LIMIT_EXCEEDED, 429 OPERATION_TIME_LIMIT, 401 expired_token, connection refused).
   */
  idempotent?: boolean
}

export interface BatchCommand {
  method: string
  params?: Record<string, unknown>
}

export interface BatchResult {
  /** Results by command key, for the commands that succeeded. */
  results: Record<string, unknown>
  /** Errors by command key (the call itself still answered 200). */
  errors: Record<string, { error: string; description: string }>
}

export interface BitrixApi {
  /** Calls `method` for a stored portal and returns the response's `result` (not unwrapped further). */
  call<T = unknown>(
    portalId: string,
    method: string,
    params?: Record<string, unknown>,
    options?: BitrixCallOptions,
  ): Promise<T>
  /** One `batch` request (≤ 50 commands; it counts once against the rate budget). */
  batch(
    portalId: string,
    commands: Record<string, BatchCommand>,
    options?: BitrixCallOptions & { halt?: boolean },
  ): Promise<BatchResult>
}

/** A REST error answered by the portal or the OAuth server (`{"error","error_description"}`). */
export class BitrixError extends Error {
  override name = 'BitrixError'
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status: number,
    readonly method: string,
  ) {
    super(`${method}: ${code}${description ? ` (${description})` : ''}`)
  }
}

/** The portal's refresh token is dead (`invalid_grant`): an admin must reopen the app. Nothing is dropped. */
export class PortalNeedsReauthError extends Error {
  override name = 'PortalNeedsReauthError'
  constructor(readonly portalId: string) {
    super(`portal ${portalId} needs re-authorisation: an administrator must open the Olchat app in Bitrix24`)
  }
}

/** The portal is uninstalled or unknown: calls for it are refused without reaching the network. */
export class PortalInactiveError extends Error {
  override name = 'PortalInactiveError'
  constructor(
    readonly portalId: string,
    readonly status: string,
  ) {
    super(`portal ${portalId} is ${status}`)
  }
}

/**
 * The request got no usable answer: timeout, connection refused or lost, gateway 502/504. `maybeExecuted` says
 * whether the portal may have run the call anyway (false only when it provably did not, e.g. connection refused);
 * callers of non-idempotent methods use it to decide between a retry and their own dedup.
 */
export class BitrixTransportError extends BitrixError {
  override name = 'BitrixTransportError'
  constructor(
    code: 'TIMEOUT' | 'NETWORK_ERROR' | 'CONNECTION_REFUSED' | 'BAD_GATEWAY',
    description: string,
    method: string,
    readonly maybeExecuted: boolean,
    status = 0,
  ) {
    super(code, description, status, method)
  }
}
