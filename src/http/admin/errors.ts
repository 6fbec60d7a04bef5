/**
 * @module The admin API's error format: `{ error, message, ...details }` with a stable snake_case `error`
 * code. Handlers throw `ApiError`; `adminErrorHandler` turns it (and hono's own 400s) into JSON, and logs
 * anything else without echoing it (it may carry personal data).
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from '../../log/logger.ts'

export interface ErrorBody {
  error: string
  message: string
  [detail: string]: unknown
}

export class ApiError extends Error {
  override name = 'ApiError'
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message)
  }

  body(): ErrorBody {
    return { error: this.code, message: this.message, ...this.details }
  }
}

export const unauthorized = () =>
  new ApiError(401, 'unauthorized', 'A valid bearer token is required (Authorization: Bearer …)')
export const forbidden = (message = 'This token may not do that') => new ApiError(403, 'forbidden', message)
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`)

export function adminErrorHandler(log: Logger) {
  return function adminError(error: Error, c: Context) {
    if (error instanceof ApiError) {
      if (error.status === 401) c.header('WWW-Authenticate', 'Bearer realm="olchat"')
      const { retryAfter } = error.details
      if (typeof retryAfter === 'number') c.header('Retry-After', String(Math.ceil(retryAfter)))
      return c.json(error.body(), error.status)
    }
    if (error instanceof HTTPException) {
      const status = error.status
      const code = status === 400 ? 'invalid_request' : 'request_failed'
      return c.json({ error: code, message: error.message || 'request failed' }, status)
    }
    log.error({ err: error, path: c.req.path }, 'admin API request failed')
    return c.json({ error: 'internal_error', message: 'internal error' }, 500)
  }
}
