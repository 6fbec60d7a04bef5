/**
 * @module The MAX Bot API over fetch (reference/max-bot-api.md §2): the token as is in `Authorization`
 * (no `Bearer`), JSON in and out, every answer checked with its valibot schema, every call inside the
 * token's request budget (≤ 30 rps). Refusals become `MaxApiError` (status, MAX's `code`, message); a call
 * that got no answer becomes `TransientNetworkError`. Mapping to the bridge's errors is `errors.ts`'s job,
 * because a 401 means "wrong token" in a login and "revoked" in a running client.
 */
import * as v from 'valibot'
import { TransientNetworkError } from '../../bridge/errors.ts'
import { RequestBudget } from './budget.ts'
import { ErrorBody, SimpleResult } from './schemas.ts'

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** A refusal by MAX: an HTTP error with `{code, message}` (§2.5), or 200 `{success: false}`. */
export class MaxApiError extends Error {
  override name = 'MaxApiError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** From `Retry-After` on a 429, when MAX sent one. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${code}: ${message}`)
  }
}

export interface MaxHttpOptions {
  /** e.g. `https://platform-api2.max.ru` (§2.1). */
  baseUrl: string
  fetch?: FetchLike
  /** Extra trusted CA certificates (PEM), added to the built-in roots (§2.1: Russian Trusted Root CA). */
  ca?: string
  /** Requests per second per token (§2.4). @default 30 */
  perSecond?: number
}

export interface CallOptions {
  query?: Record<string, string | number | boolean | null | undefined>
  json?: unknown
  signal?: AbortSignal
  /** Whole-call limit (long polls pass more than their hold time). @default 30 000 */
  timeoutMs?: number
}

/** The API of one bot token. */
export class MaxApi {
  readonly baseUrl: string
  readonly #token: string
  readonly #http: MaxHttp

  constructor(http: MaxHttp, token: string) {
    this.#http = http
    this.#token = token
    this.baseUrl = http.baseUrl
  }

  /** Calls and checks the JSON answer against `schema`. */
  async call<S extends v.GenericSchema>(
    method: string,
    path: string,
    schema: S,
    options: CallOptions = {},
  ): Promise<v.InferOutput<S>> {
    const { text } = await this.callText(method, path, options)
    return parseAnswer(schema, text, `${method} ${path}`)
  }

  /** A mutating call answering `SimpleQueryResult`: `success: false` is thrown as a refusal (§2.5). */
  async act(method: string, path: string, options: CallOptions = {}): Promise<void> {
    const answer = await this.call(method, path, SimpleResult, options)
    if (!answer.success) throw new MaxApiError(200, 'success.false', answer.message ?? 'refused by MAX')
  }

  /** Calls and returns the raw text of a 2xx answer (the caller parses; `GET /updates` keeps its int64). */
  async callText(method: string, path: string, options: CallOptions = {}): Promise<{ text: string }> {
    const res = await this.#http.request(this.#token, method, path, options)
    try {
      return { text: await res.text() }
    } catch (error) {
      // The connection broke while the answer was on its way: the work may have been done (in doubt).
      throw new TransientNetworkError(`max: ${method} ${path}: answer lost`, { cause: error })
    }
  }

  /** Downloads a URL MAX gave us; the token goes along only to the API's own origin (never elsewhere). */
  download(url: string, signal?: AbortSignal): Promise<Response> {
    return this.#http.download(
      url,
      new URL(url).origin === this.#http.origin ? this.#token : undefined,
      signal,
    )
  }

  /** Posts a body to an upload URL (another host: no token). */
  upload(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
    return this.#http.raw(url, init, timeoutMs, { bodyStreams: true })
  }
}

/** The transport shared by every token of the process: base URL, TLS trust, one budget per token. */
export class MaxHttp {
  readonly baseUrl: string
  readonly origin: string
  readonly #fetch: FetchLike
  readonly #tls: { ca: string[] } | undefined
  readonly #perSecond: number
  readonly #budgets = new Map<string, RequestBudget>()
  readonly #pollBudgets = new Map<string, RequestBudget>()

  constructor(options: MaxHttpOptions, rootCertificates: readonly string[] = []) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.origin = new URL(this.baseUrl).origin
    this.#fetch = options.fetch ?? fetch
    // Bun replaces its roots with `ca`; keep them and add the extra bundle.
    this.#tls = options.ca ? { ca: [...rootCertificates, options.ca] } : undefined
    this.#perSecond = options.perSecond ?? 30
  }

  api(token: string): MaxApi {
    return new MaxApi(this, token)
  }

  budget(token: string): RequestBudget {
    let budget = this.#budgets.get(token)
    if (!budget) {
      budget = new RequestBudget(this.#perSecond)
      this.#budgets.set(token, budget)
    }
    return budget
  }

  /** Long polling's own budget (§2.4: 2 rps), on top of the general one. */
  pollBudget(token: string): RequestBudget {
    let budget = this.#pollBudgets.get(token)
    if (!budget) {
      budget = new RequestBudget(2)
      this.#pollBudgets.set(token, budget)
    }
    return budget
  }

  async request(token: string, method: string, path: string, options: CallOptions): Promise<Response> {
    const url = new URL(`${this.baseUrl}${path}`)
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value))
    }
    const headers: Record<string, string> = { authorization: token }
    if (options.json !== undefined) headers['content-type'] = 'application/json'
    await this.budget(token).take(options.signal)
    const res = await this.raw(
      url.toString(),
      {
        method,
        headers,
        body: options.json === undefined ? undefined : JSON.stringify(options.json),
        signal: options.signal,
      },
      options.timeoutMs ?? 30_000,
    )
    if (res.ok) return res
    throw await apiError(res, `${method} ${path}`)
  }

  async download(url: string, token: string | undefined, signal?: AbortSignal): Promise<Response> {
    if (token) await this.budget(token).take(signal)
    // Only the headers are awaited under the timeout; the body streams for as long as it takes.
    const res = await this.raw(url, { headers: token ? { authorization: token } : {}, signal }, 60_000, {
      bodyStreams: true,
    })
    if (res.ok) return res
    throw await apiError(res, 'download')
  }

  /** One fetch with a timeout; no answer at all is transient. */
  async raw(
    url: string,
    init: RequestInit,
    timeoutMs: number,
    { bodyStreams = false }: { bodyStreams?: boolean } = {},
  ): Promise<Response> {
    // With `bodyStreams` the timeout ends once the headers are in (a large download must not be cut);
    // otherwise it also covers reading the (small JSON) answer.
    const timeout = new AbortController()
    const timer = setTimeout(() => timeout.abort(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)
    timer.unref?.()
    const signal = init.signal ? AbortSignal.any([init.signal, timeout.signal]) : timeout.signal
    try {
      const res = await this.#fetch(url, {
        ...init,
        signal,
        ...(this.#tls ? { tls: this.#tls } : {}),
      } as RequestInit)
      if (bodyStreams) clearTimeout(timer)
      return res
    } catch (error) {
      clearTimeout(timer)
      if (init.signal?.aborted) throw error
      throw new TransientNetworkError(
        `max: ${init.method ?? 'GET'} ${new URL(url).pathname}: ${String(error)}`,
        {
          cause: error,
        },
      )
    }
  }
}

export function parseAnswer<S extends v.GenericSchema>(
  schema: S,
  text: string,
  what: string,
): v.InferOutput<S> {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    throw new TransientNetworkError(`max: ${what}: the answer is not JSON`, { cause: error })
  }
  const parsed = v.safeParse(schema, json)
  if (parsed.success) return parsed.output
  // Only the paths of what failed: values may be personal data.
  const paths = parsed.issues.map((issue) => v.getDotPath(issue) ?? '(root)').join(', ')
  throw new MaxApiError(200, 'unexpected.response', `${what}: unexpected answer at ${paths}`)
}

async function apiError(res: Response, what: string): Promise<Error> {
  const header = Number(res.headers.get('retry-after'))
  const retryAfter = Number.isFinite(header) && header > 0 ? header : undefined
  let text = ''
  try {
    text = await res.text()
  } catch {
    // The body broke off: the status still says what happened.
  }
  let body: v.InferOutput<typeof ErrorBody> = {}
  try {
    const parsed = v.safeParse(ErrorBody, JSON.parse(text))
    if (parsed.success) body = parsed.output
  } catch {
    // Not JSON (a proxy's error page): the status alone decides.
  }
  return new MaxApiError(res.status, body.code ?? `http.${res.status}`, body.message ?? what, retryAfter)
}
