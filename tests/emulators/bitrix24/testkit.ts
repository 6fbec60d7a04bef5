/**
 * @module Helpers for the emulator's conformance tests: a capturing HTTP "app" that receives pages and
 * events, a REST caller, and a deliberately separate tiny form decoder (URLSearchParams + a manual bracket
 * walk) so the tests never judge the emulator's encoder with its own decoder.
 */
import type { Bitrix24Emulator } from './index.ts'

/** Independent decoder for `a[b][0]=x` bodies: nested plain objects, numeric keys kept as object keys. */
export function decodeForm(body: string): Record<string, unknown> {
  const root: Record<string, unknown> = {}
  for (const [key, value] of new URLSearchParams(body)) {
    const first = key.indexOf('[')
    const parts =
      first === -1
        ? [key]
        : [key.slice(0, first), ...[...key.slice(first).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!)]
    let node = root
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = value
        return
      }
      if (typeof node[part] !== 'object' || node[part] === null) node[part] = {}
      node = node[part] as Record<string, unknown>
    })
  }
  return root
}

export interface Captured {
  method: string
  path: string
  query: URLSearchParams
  headers: Headers
  body: string
  form: Record<string, unknown>
  at: number
}

export interface Sink {
  url: string
  received: Captured[]
  /** Answer for a path: status and body (default 200 "OK"). */
  respond(path: string, status: number, body?: string, delayMs?: number): void
  /** Custom handler for a path (runs after capture). */
  handle(path: string, fn: (c: Captured) => Response | Promise<Response>): void
  on(path: string): Captured[]
  waitFor(path: string, count: number, timeoutMs?: number): Promise<Captured[]>
  stop(): Promise<void>
}

export function startSink(): Sink {
  const received: Captured[] = []
  const answers = new Map<string, { status: number; body: string; delayMs: number }>()
  const handlers = new Map<string, (c: Captured) => Response | Promise<Response>>()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const url = new URL(req.url)
      const body = await req.text()
      const c: Captured = {
        method: req.method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        form: decodeForm(body),
        at: Date.now(),
      }
      received.push(c)
      const custom = handlers.get(url.pathname)
      if (custom) return custom(c)
      const answer = answers.get(url.pathname) ?? { status: 200, body: 'OK', delayMs: 0 }
      if (answer.delayMs > 0) await Bun.sleep(answer.delayMs)
      return new Response(answer.body, { status: answer.status, headers: { 'content-type': 'text/html' } })
    },
  })
  const on = (path: string) => received.filter((c) => c.path === path)
  return {
    url: `http://127.0.0.1:${server.port}`,
    received,
    respond: (path, status, body = 'OK', delayMs = 0) => answers.set(path, { status, body, delayMs }),
    handle: (path, fn) => handlers.set(path, fn),
    on,
    async waitFor(path, count, timeoutMs = 3000) {
      const until = Date.now() + timeoutMs
      while (on(path).length < count) {
        if (Date.now() > until)
          throw new Error(`waited for ${count} requests on ${path}, got ${on(path).length}`)
        await Bun.sleep(5)
      }
      return on(path)
    },
    stop: () => server.stop(true),
  }
}

export interface RestAnswer {
  status: number
  body: Record<string, unknown> & {
    result?: unknown
    error?: string
    error_description?: string
    time?: Record<string, unknown>
  }
}

/** POSTs JSON to `<portal>/rest/<method>` with `auth` in the body. */
export async function rest(
  emulator: Bitrix24Emulator,
  method: string,
  params: Record<string, unknown>,
  token: string,
): Promise<RestAnswer> {
  const res = await fetch(`${emulator.portalUrl()}/rest/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...params, auth: token }),
  })
  return { status: res.status, body: (await res.json()) as RestAnswer['body'] }
}

export const ICON = {
  DATA_IMAGE: 'data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E',
  COLOR: '#2AABEE',
  SIZE: '90%',
  POSITION: 'center',
}

/** Install page that "runs" BX24.installFinish() (the marker the emulator recognises). */
export const FINISHING_PAGE = '<html><script>BX24.init(function(){ BX24.installFinish() })</script></html>'

/**
 * A portal with the app installed (finished), connector `acme_tg` registered with its placement on the sink,
 * line 12 activated, and the given events bound to `<sink>/events`. Returns an admin access token.
 */
export async function installedPortal(
  emulator: Bitrix24Emulator,
  sink: Sink,
  options: { events?: string[]; connector?: Record<string, unknown>; line?: number } = {},
): Promise<{ token: string; applicationToken: string }> {
  sink.respond('/install', 200, FINISHING_PAGE)
  const line = options.line ?? 12
  if (!emulator.portal.lines.has(line)) await emulator.addLine({ id: line, name: `Line ${line}` })
  const installed = await emulator.install({ appUrl: `${sink.url}/install` })
  const token = installed.page!.authId
  const reg = await rest(
    emulator,
    'imconnector.register',
    {
      ID: 'acme_tg',
      NAME: 'Telegram (Acme)',
      ICON,
      PLACEMENT_HANDLER: `${sink.url}/placement`,
      ...options.connector,
    },
    token,
  )
  if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`)
  await rest(emulator, 'imconnector.activate', { CONNECTOR: 'acme_tg', LINE: line, ACTIVE: 1 }, token)
  for (const event of options.events ?? []) {
    await rest(emulator, 'event.bind', { event, handler: `${sink.url}/events` }, token)
  }
  return { token, applicationToken: installed.applicationToken }
}

/** One client message through `imconnector.send.messages`; returns the OL chat id and the item result. */
export async function clientSays(
  emulator: Bitrix24Emulator,
  token: string,
  text: string,
  ids: { user?: string; chat?: string; message?: string; line?: number } = {},
): Promise<{ chatId: number; item: Record<string, unknown> }> {
  const answer = await rest(
    emulator,
    'imconnector.send.messages',
    {
      CONNECTOR: 'acme_tg',
      LINE: ids.line ?? 12,
      MESSAGES: [
        {
          user: { id: ids.user ?? '42', name: 'Ivan' },
          message: { id: ids.message ?? 'tg-1001', date: 1773265993, text },
          chat: { id: ids.chat ?? 'tg-chat-77' },
        },
      ],
    },
    token,
  )
  const result = answer.body.result as { DATA: { RESULT: Record<string, unknown>[] } }
  const item = result.DATA.RESULT[0]!
  const session = item.session as { CHAT_ID: string }
  return { chatId: Number(session.CHAT_ID), item }
}
