/**
 * @module Errors in Telegram's RPC shape: an UPPER_SNAKE name plus the HTTP status Telegram would give the
 * same error (400 bad input, 401 unauthorized, 406 AUTH_KEY_DUPLICATED, 420 flood). The body is
 * `{"error","code","message"}`, plus `seconds` for FLOOD_WAIT_n and `hint` for SESSION_PASSWORD_NEEDED.
 */

export class ApiError extends Error {
  constructor(
    readonly error: string,
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message)
  }

  body(): Record<string, unknown> {
    return { error: this.error, code: this.status, message: this.message, ...this.extra }
  }
}

export function badRequest(error: string, message: string): ApiError {
  return new ApiError(error, 400, message)
}

export function floodWait(seconds: number): ApiError {
  const s = Math.max(1, Math.ceil(seconds))
  return new ApiError(`FLOOD_WAIT_${s}`, 420, `A wait of ${s} seconds is required`, { seconds: s })
}

export function notFound(message = 'Unknown path'): ApiError {
  return new ApiError('NOT_FOUND', 404, message)
}

/** Status of a revoked session's error: 406 for a duplicated key, 401 otherwise (as Telegram). */
export function revokedError(reason: string): ApiError {
  return reason === 'AUTH_KEY_DUPLICATED'
    ? new ApiError(reason, 406, 'The session was used from two connections at once and is destroyed')
    : new ApiError(reason, 401, 'The session is not valid; log in again')
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  })
}

export function errorResponse(e: ApiError): Response {
  const headers: Record<string, string> = {}
  if (typeof e.extra.seconds === 'number') headers['retry-after'] = String(e.extra.seconds)
  return json(e.status, e.body(), headers)
}
