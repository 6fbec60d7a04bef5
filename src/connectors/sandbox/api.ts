/**
 * @module The sandbox messenger's client API over HTTP: one `call` per endpoint, answers parsed, failures
 * turned into `SandboxApiError` (the messenger said no) or `TransientNetworkError` (we never got an answer).
 * Mapping the messenger's errors to the bridge's typed errors is the caller's job (`errors.ts`), because the
 * same name means different things in a login and in a send.
 */
import { TransientNetworkError } from '../../bridge/errors.ts'

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** A refusal by the sandbox, in its Telegram-shaped body `{error, code, message, seconds?, hint?}`. */
export class SandboxApiError extends Error {
  override name = 'SandboxApiError'
  constructor(
    readonly error: string,
    readonly status: number,
    message: string,
    readonly seconds?: number,
    readonly hint?: string,
  ) {
    super(`${error}: ${message}`)
  }
}

export interface CallOptions {
  token?: string
  json?: unknown
  /** A raw streamed body (uploads); `json` wins when both are given. */
  body?: ReadableStream<Uint8Array>
  headers?: Record<string, string>
  signal?: AbortSignal
}

/** User as the sandbox shows it. */
export interface SandboxUser {
  id: number
  phone: string
  name: string
  username?: string
}

export interface SandboxFile {
  id: string
  name: string
  mime: string
  size: number
  sha256?: string
}

export interface SandboxMessage {
  id: number
  chatId: number
  out: boolean
  date: number
  text: string
  file?: SandboxFile
  randomId?: string
  replyTo?: number
  editDate?: number
  deleted?: boolean
}

export class SandboxApi {
  readonly apiUrl: string
  readonly wsUrl: string

  constructor(
    baseUrl: string,
    private readonly fetchImpl: FetchLike = fetch,
  ) {
    const base = baseUrl.replace(/\/+$/, '')
    this.apiUrl = `${base}/v1`
    this.wsUrl = `${base.replace(/^http/, 'ws')}/v1/updates/ws`
  }

  /** Calls and parses a JSON answer. */
  async call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const res = await this.raw(method, path, options)
    try {
      return (await res.json()) as T
    } catch (error) {
      // The connection broke while the body was on its way: the work may have been done (in doubt).
      throw new TransientNetworkError(`sandbox: ${method} ${path}: answer lost`, { cause: error })
    }
  }

  /** Calls and returns the response of a 2xx answer unread (downloads). */
  async raw(method: string, path: string, options: CallOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: RequestInit['body'] = options.body
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(options.json)
    }
    let res: Response
    try {
      res = await this.fetchImpl(`${this.apiUrl}${path}`, {
        method,
        headers,
        body,
        signal: options.signal,
        // Streamed request bodies need half-duplex under the fetch spec.
        ...(options.body ? { duplex: 'half' } : {}),
      } as RequestInit)
    } catch (error) {
      if (options.signal?.aborted) throw error
      throw new TransientNetworkError(`sandbox: ${method} ${path}: ${String(error)}`, { cause: error })
    }
    if (res.ok) return res
    throw await apiError(res, `${method} ${path}`)
  }
}

async function apiError(res: Response, what: string): Promise<Error> {
  let body: { error?: unknown; message?: unknown; seconds?: unknown; hint?: unknown } = {}
  try {
    body = (await res.json()) as typeof body
  } catch (error) {
    return new TransientNetworkError(`sandbox: ${what}: HTTP ${res.status} without a body`, { cause: error })
  }
  const name = typeof body.error === 'string' ? body.error : `HTTP_${res.status}`
  const header = Number(res.headers.get('retry-after'))
  const seconds =
    typeof body.seconds === 'number'
      ? body.seconds
      : Number.isFinite(header) && header > 0
        ? header
        : undefined
  const hint = typeof body.hint === 'string' ? body.hint : undefined
  return new SandboxApiError(name, res.status, String(body.message ?? what), seconds, hint)
}
