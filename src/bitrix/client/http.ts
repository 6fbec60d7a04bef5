/**
 * @module One HTTP exchange with a portal or the OAuth server: endpoint checks (https unless allowed), the
 * request with a per-attempt timeout, and the answer sorted into the classes the retry rules care about
 * (reference/bitrix24.md §3.3, §4.3, §4.4). No retries, tokens or rate budget here.
 */
import { BitrixError, BitrixTransportError } from '../api.ts'

/** Default per-attempt timeout; cloud portals cut a request at 60 s (§4.6). */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Method names as Bitrix24 spells them; anything else could walk out of `/rest/` in the URL. */
const METHOD_NAME = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/i

export function checkMethodName(method: string): void {
  if (!METHOD_NAME.test(method)) {
    throw new BitrixError(
      'INVALID_METHOD',
      `not a Bitrix24 method name: ${JSON.stringify(method)}`,
      0,
      method,
    )
  }
}

/**
 * Parses a portal or OAuth endpoint and refuses plain http unless allowed (emulators on loopback only).
 * @throws BitrixError `INVALID_ENDPOINT` / `INSECURE_ENDPOINT`, before any network traffic
 */
export function checkEndpoint(
  endpoint: string | null | undefined,
  allowHttp: boolean,
  method: string,
  what = 'client_endpoint',
): URL {
  let url: URL
  try {
    url = new URL(endpoint ?? '')
  } catch {
    throw new BitrixError('INVALID_ENDPOINT', `${what} is missing or not a URL`, 0, method)
  }
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:') {
    if (allowHttp) return url
    throw new BitrixError('INSECURE_ENDPOINT', `${what} must be https:// (${url.origin})`, 0, method)
  }
  throw new BitrixError('INVALID_ENDPOINT', `${what} must be an https:// URL`, 0, method)
}

/** `<client_endpoint><method>` (§4.1). */
export function restUrl(clientEndpoint: URL, method: string): string {
  checkMethodName(method)
  const base = clientEndpoint.href.endsWith('/') ? clientEndpoint.href : `${clientEndpoint.href}/`
  return base + method
}

/** `<server_endpoint minus rest/>oauth/token/` (§3.1: never hard-code the OAuth host). */
export function tokenUrl(serverEndpoint: URL): string {
  const url = new URL(serverEndpoint.href)
  url.pathname = `${url.pathname.replace(/\/+$/, '').replace(/\/rest$/, '')}/oauth/token/`
  url.search = ''
  url.hash = ''
  return url.href
}

export interface HttpAnswer {
  status: number
  /** The JSON object answered, or undefined when the body was not a JSON object. */
  body: Record<string, unknown> | undefined
}

function connectionRefused(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ECONNREFUSED' || code === 'ConnectionRefused'
}

/**
 * Sends one request and reads the whole answer within `timeoutMs`.
 * @throws BitrixTransportError when no answer arrived
 */
export async function send(
  url: string,
  init: { body: string; contentType: string },
  timeoutMs: number,
  method: string,
): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': init.contentType, accept: 'application/json' },
      body: init.body,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await response.text()
    let body: Record<string, unknown> | undefined
    try {
      const parsed: unknown = JSON.parse(text)
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>
      }
    } catch {
      body = undefined
    }
    return { status: response.status, body }
  } catch (error) {
    const name = (error as { name?: unknown } | null)?.name
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new BitrixTransportError('TIMEOUT', `no answer within ${timeoutMs} ms`, method, true)
    }
    if (connectionRefused(error)) {
      throw new BitrixTransportError('CONNECTION_REFUSED', 'connection refused', method, false)
    }
    const reason = error instanceof Error ? error.message : String(error)
    throw new BitrixTransportError('NETWORK_ERROR', reason, method, true)
  }
}

/** What an answer means for the retry rules. */
export type Outcome =
  | { kind: 'ok'; result: unknown; time: unknown; body: Record<string, unknown> }
  /** 401 expired_token / invalid_token: refresh and retry once (§3.3). */
  | { kind: 'token'; error: BitrixError }
  /** 503: the leaky bucket is full (QUERY_LIMIT_EXCEEDED) or the portal is overloaded; nothing ran. */
  | { kind: 'rate'; error: BitrixError; bucketFull: boolean }
  /** 429 OPERATION_TIME_LIMIT: the method's execution-time budget is spent (§4.6); nothing ran. */
  | { kind: 'operating'; error: BitrixError }
  /** No answer, or 502/504 from a gateway: the portal may or may not have run the call. */
  | { kind: 'transport'; error: BitrixTransportError }
  | { kind: 'error'; error: BitrixError }

export function classify({ status, body }: HttpAnswer, method: string): Outcome {
  const code = typeof body?.error === 'string' ? body.error : undefined
  const description = typeof body?.error_description === 'string' ? body.error_description : ''
  if (status >= 200 && status < 300 && body && code === undefined && 'result' in body) {
    return { kind: 'ok', result: body.result, time: body.time, body }
  }
  const error = new BitrixError(
    code ?? (body ? 'INVALID_RESPONSE' : `HTTP_${status}`),
    description,
    status,
    method,
  )
  if (status === 401 && (code === 'expired_token' || code === 'invalid_token'))
    return { kind: 'token', error }
  if (status === 503) return { kind: 'rate', error, bucketFull: code === 'QUERY_LIMIT_EXCEEDED' }
  if (status === 429 || code === 'OPERATION_TIME_LIMIT') return { kind: 'operating', error }
  if (status === 502 || status === 504) {
    const gateway = new BitrixTransportError(
      'BAD_GATEWAY',
      `gateway answered ${status}`,
      method,
      true,
      status,
    )
    return { kind: 'transport', error: gateway }
  }
  return { kind: 'error', error }
}

/**
 * One REST call with a given access token, for a portal that is not stored yet (the install handler verifies
 * the posted tokens with `app.info` before storing anything). No refresh, no rate budget, no retries.
 * @throws BitrixError (including BitrixTransportError)
 */
export async function callWithToken<T = unknown>({
  clientEndpoint,
  accessToken,
  method,
  params = {},
  allowHttp = false,
  timeoutMs = DEFAULT_TIMEOUT_MS,
}: {
  clientEndpoint: string
  accessToken: string
  method: string
  params?: Record<string, unknown>
  allowHttp?: boolean
  timeoutMs?: number
}): Promise<T> {
  const url = restUrl(checkEndpoint(clientEndpoint, allowHttp, method), method)
  const body = JSON.stringify({ ...params, auth: accessToken })
  const outcome = classify(
    await send(url, { body, contentType: 'application/json' }, timeoutMs, method),
    method,
  )
  if (outcome.kind === 'ok') return outcome.result as T
  throw outcome.error
}
