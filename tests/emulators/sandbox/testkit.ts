/**
 * @module Helpers for the sandbox's conformance tests: a plain fetch-based client of the client and control
 * APIs and a live updates connection that collects what it receives. Deliberately independent of Olchat.
 */
import type { SandboxMessenger } from './index.ts'

export interface Answer<T = Record<string, unknown>> {
  status: number
  body: T
  headers: Headers
}

// biome-ignore lint/suspicious/noExplicitAny: test answers are read loosely
type Loose = any

export async function api(
  sandbox: SandboxMessenger,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<Answer<Loose>> {
  const headers: Record<string, string> = {}
  if (options.token) headers.authorization = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

/** A control action over HTTP; throws on a non-200 answer. */
export async function control(sandbox: SandboxMessenger, action: string, body: unknown = {}): Promise<Loose> {
  const res = await fetch(`${sandbox.url}/_control/${action}`, { method: 'POST', body: JSON.stringify(body) })
  const json = await res.json()
  if (res.status !== 200) throw new Error(`${action}: ${res.status} ${JSON.stringify(json)}`)
  return json
}

/** The whole login dance over HTTP; returns the session token. */
export async function login(sandbox: SandboxMessenger, phone: string, password?: string): Promise<string> {
  const sent = await api(sandbox, 'POST', '/v1/auth/send-code', { body: { phone } })
  const res = await fetch(`${sandbox.url}/_control/login-code?phone=${encodeURIComponent(phone)}`)
  const code = (await res.json()) as { code: string }
  const signed = await api(sandbox, 'POST', '/v1/auth/sign-in', {
    body: { phone, phoneCodeHash: sent.body.phoneCodeHash, code: code.code },
  })
  if (signed.status === 200) return signed.body.session
  const checked = await api(sandbox, 'POST', '/v1/auth/check-password', {
    body: { phoneCodeHash: sent.body.phoneCodeHash, password },
  })
  if (checked.status !== 200) throw new Error(`login failed: ${JSON.stringify(checked.body)}`)
  return checked.body.session
}

export interface Frame {
  type: string
  seq?: number
  [key: string]: Loose
}

export class Live {
  readonly frames: Frame[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  private readonly ws: WebSocket
  private waiters: (() => void)[] = []

  constructor(sandbox: SandboxMessenger, token: string, after = 0) {
    const url = `${sandbox.info().ws}?after=${after}`
    this.ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } } as Loose)
    this.opened = new Promise((resolve) => this.ws.addEventListener('open', () => resolve()))
    this.closed = new Promise((resolve) => {
      this.ws.addEventListener('close', (e) => {
        resolve({ code: e.code, reason: e.reason })
        this.wake()
      })
    })
    this.ws.addEventListener('message', (e) => {
      this.frames.push(JSON.parse(String(e.data)))
      this.wake()
    })
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  get updates(): Frame[] {
    return this.frames.filter((f) => f.type !== 'ready' && f.type !== 'pong')
  }

  /** Waits until a frame matches (checking those already received first). */
  async next(match: (f: Frame) => boolean, timeoutMs = 2000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    let checked = 0
    for (;;) {
      for (; checked < this.frames.length; checked++) {
        if (match(this.frames[checked]!)) return this.frames[checked]!
      }
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames)}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  ready(): Promise<Frame> {
    return this.next((f) => f.type === 'ready')
  }

  send(text: string): void {
    this.ws.send(text)
  }

  async close(): Promise<void> {
    this.ws.close()
    await this.closed
  }
}
