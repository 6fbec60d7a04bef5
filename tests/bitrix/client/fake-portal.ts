/**
 * A small Bun.serve stand-in for one cloud portal and its OAuth server, answering as reference/bitrix24.md
 * documents, for the REST client suites until the full emulator (tests/emulators/bitrix24/) lands. It counts
 * what it receives so tests can assert on requests, refreshes and 503s.
 *
 * - OAuth (§3.1–3.3): POST /oauth/token/ form, rotating single-use refresh tokens (the old pair dies),
 *   `invalid_grant` for an unknown refresh token, `invalid_client` for wrong credentials.
 * - REST (§4.1, §4.3, §4.4): /rest/<method> with `auth` in the JSON body; 401 expired_token / invalid_token;
 *   the `time` block on every answer; optional leaky bucket → 503 QUERY_LIMIT_EXCEEDED (§4.6).
 * - batch (§4.5): `cmd` strings parsed as PHP queries, HTTP 200 with result / result_error / result_time.
 */

export interface Received {
  method: string
  body: Record<string, unknown>
  /** 0 while the portal has not answered (a hanging request). */
  status: number
}

/** A scripted answer; undefined falls through to the default `{ result: { method, n } }`. */
export type Script = (
  body: Record<string, unknown>,
  portal: FakePortal,
) => { status?: number; json?: unknown; hang?: boolean } | undefined

export interface FakePortalOptions {
  clientId?: string
  clientSecret?: string
  /** Leaky bucket the portal enforces (§4.6); none when omitted. */
  bucket?: { burst: number; drainPerSecond: number }
  /** `time.operating` reported per method (default 0.1). */
  operating?: (method: string) => number
  /** `time.operating_reset_at` (unix seconds; default now + 600). */
  operatingResetAt?: () => number
}

export class FakePortal {
  readonly requests: Received[] = []
  readonly refreshes: URLSearchParams[] = []
  readonly scripts = new Map<string, Script>()
  rejected503 = 0
  /** Valid access tokens and their expiry (ms). */
  readonly access = new Map<string, number>()
  /** Valid refresh tokens and the access token issued with each. */
  readonly refresh = new Map<string, string>()
  /** Artificial delay of the OAuth answer (ms), to widen race windows. */
  refreshDelayMs = 0
  readonly #server: ReturnType<typeof Bun.serve>
  #level = 0
  #drainedAt = performance.now()
  #issued = 0

  constructor(readonly options: FakePortalOptions = {}) {
    this.#server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => this.#handle(request) })
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.port}`
  }

  get clientEndpoint(): string {
    return `${this.url}/rest/`
  }

  get serverEndpoint(): string {
    return `${this.url}/rest/`
  }

  /** Requests of one method, in arrival order. */
  calls(method: string): Received[] {
    return this.requests.filter((request) => request.method === method)
  }

  /** A fresh valid pair, as an install would hand out. */
  issue(expiresInMs = 3_600_000): { accessToken: string; refreshToken: string; expiresAt: Date } {
    const n = ++this.#issued
    const accessToken = `access-${n}-${crypto.randomUUID()}`
    const refreshToken = `refresh-${n}-${crypto.randomUUID()}`
    this.access.set(accessToken, Date.now() + expiresInMs)
    this.refresh.set(refreshToken, accessToken)
    return { accessToken, refreshToken, expiresAt: new Date(Date.now() + expiresInMs) }
  }

  /** Every access token expires now (they stay known, so the portal says expired_token). */
  expireAll(): void {
    for (const token of this.access.keys()) this.access.set(token, 0)
  }

  stop(): void {
    this.#server.stop(true)
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname
    if (path === '/oauth/token/') return this.#token(request)
    const match = /^\/rest\/([a-z0-9_.]+?)(\.json)?$/i.exec(path)
    if (!match) return json(404, { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' })
    const method = match[1]!.toLowerCase()
    const body = (await request.json()) as Record<string, unknown>
    const received: Received = { method, body, status: 0 }
    this.requests.push(received)
    const answer = await this.#rest(method, body)
    received.status = answer.status
    return answer
  }

  async #token(request: Request): Promise<Response> {
    const form = new URLSearchParams(await request.text())
    this.refreshes.push(form)
    if (this.refreshDelayMs > 0) await Bun.sleep(this.refreshDelayMs)
    const { clientId = 'client-id', clientSecret = 'client-secret' } = this.options
    if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
      return json(401, { error: 'invalid_client', error_description: 'Invalid client' })
    }
    const used = form.get('refresh_token') ?? ''
    const sibling = this.refresh.get(used)
    if (form.get('grant_type') !== 'refresh_token' || sibling === undefined) {
      return json(400, { error: 'invalid_grant', error_description: 'Invalid grant' })
    }
    // Single use: the refresh token and its sibling access token die with the exchange (§3.2).
    this.refresh.delete(used)
    this.access.delete(sibling)
    const pair = this.issue()
    return json(200, {
      access_token: pair.accessToken,
      client_endpoint: this.clientEndpoint,
      domain: 'oauth.bitrix.info',
      expires: Math.floor(pair.expiresAt.getTime() / 1000),
      expires_in: 3600,
      member_id: 'member',
      refresh_token: pair.refreshToken,
      scope: 'imopenlines,imconnector,im,placement',
      server_endpoint: this.serverEndpoint,
      status: 'L',
      user_id: 1,
    })
  }

  async #rest(method: string, body: Record<string, unknown>): Promise<Response> {
    const expiresAt = this.access.get(String(body.auth))
    if (expiresAt === undefined) {
      return json(401, { error: 'invalid_token', error_description: 'The access token provided is invalid' })
    }
    if (expiresAt <= Date.now()) {
      return json(401, { error: 'expired_token', error_description: 'The access token provided has expired' })
    }
    if (!this.#admit()) {
      this.rejected503++
      return json(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' })
    }
    if (method === 'batch' && !this.scripts.has('batch'))
      return json(200, { result: this.#batch(body), time: this.#time('batch') })
    const answer = this.#run(method, body)
    if (answer.hang) return new Promise(() => {})
    return json(answer.status, answer.json)
  }

  #run(method: string, body: Record<string, unknown>): { status: number; json: unknown; hang?: boolean } {
    const scripted = this.scripts.get(method)?.(body, this)
    if (scripted?.hang) return { status: 0, json: null, hang: true }
    if (scripted?.json !== undefined || scripted?.status !== undefined) {
      return { status: scripted.status ?? 200, json: scripted.json ?? {} }
    }
    return { status: 200, json: { result: { method, n: body.n ?? null }, time: this.#time(method) } }
  }

  #batch(body: Record<string, unknown>) {
    const cmd = body.cmd as Record<string, string>
    const out = {
      result: {} as Record<string, unknown>,
      result_error: {} as Record<string, unknown>,
      result_total: [],
      result_next: [],
      result_time: {} as Record<string, unknown>,
    }
    for (const [key, command] of Object.entries(cmd)) {
      const [method = '', query = ''] = command.split(/\?(.*)/s)
      const { status, json: answer } = this.#run(method.toLowerCase(), parsePhpQuery(query))
      const reply = answer as { result?: unknown; error?: string; error_description?: string }
      if (status === 200 && reply.error === undefined) {
        out.result[key] = reply.result
        out.result_time[key] = this.#time(method)
      } else {
        out.result_error[key] = { error: reply.error, error_description: reply.error_description }
        if (Number(body.halt)) break
      }
    }
    return out
  }

  /** §4.6: the counter drains continuously; a request that would overflow it is refused. */
  #admit(): boolean {
    const bucket = this.options.bucket
    if (!bucket) return true
    const now = performance.now()
    this.#level = Math.max(0, this.#level - ((now - this.#drainedAt) / 1000) * bucket.drainPerSecond)
    this.#drainedAt = now
    if (this.#level + 1 > bucket.burst) return false
    this.#level += 1
    return true
  }

  /** §4.3 `time` block. */
  #time(method: string) {
    const start = Date.now() / 1000
    return {
      start,
      finish: start + 0.001,
      duration: 0.001,
      processing: 0.001,
      date_start: new Date().toISOString(),
      date_finish: new Date().toISOString(),
      operating_reset_at: this.options.operatingResetAt?.() ?? Math.floor(start) + 600,
      operating: this.options.operating?.(method) ?? 0.1,
    }
  }
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

/** PHP's parse_str for the test: `a[b][0]=x` → `{ a: { b: { 0: 'x' } } }` (lists stay keyed objects). */
export function parsePhpQuery(query: string): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  if (query === '') return root
  for (const pair of query.split('&')) {
    const at = pair.indexOf('=')
    const rawKey = decodeURIComponent((at === -1 ? pair : pair.slice(0, at)).replace(/\+/g, ' '))
    const value = at === -1 ? '' : decodeURIComponent(pair.slice(at + 1).replace(/\+/g, ' '))
    const head = /^[^[]+/.exec(rawKey)?.[0] ?? rawKey
    const path = [head, ...[...rawKey.slice(head.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!)]
    let node = root
    for (const [index, segment] of path.entries()) {
      if (index === path.length - 1) node[segment] = value
      else {
        node[segment] ??= {}
        node = node[segment] as Record<string, unknown>
      }
    }
  }
  return root
}
