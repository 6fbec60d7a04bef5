/**
 * @module Logins in progress, in the memory of this process: a `LoginProcess` holds live state (a pending
 * code, an open connection for a QR flow) that cannot be stored, so a login must be finished on the process
 * that started it. Behind a load balancer, route `/api/v1/logins/*` with sticky sessions (or run one
 * instance for the admin API); a login that reaches another process answers 404 and is started again.
 * Unfinished logins expire after a TTL without a step and are cancelled then.
 */
import { randomBytes } from 'node:crypto'
import type { ConnectorName } from '../../bridge/connector.ts'
import type { LoginProcess, LoginStep, SessionStore } from '../../bridge/login.ts'

/** The session a login writes before its account row exists; stored with the row on completion. */
export class MemorySessionStore implements SessionStore {
  readonly #values = new Map<string, Uint8Array>()

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#values.get(key)
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    this.#values.set(key, typeof value === 'string' ? Buffer.from(value, 'utf8') : value)
  }

  async delete(key: string): Promise<void> {
    this.#values.delete(key)
  }

  async clear(): Promise<void> {
    this.#values.clear()
  }

  entries(): [string, Uint8Array][] {
    return [...this.#values]
  }
}

export interface PendingLogin {
  id: string
  portalId: string
  messenger: ConnectorName
  flow: string
  /** The id the account row gets on completion (the connector may use it during the flow). */
  accountId: string
  /** Logs an existing account in again (`POST /accounts/:id/login`) rather than connecting a new one. */
  relogin: boolean
  process: LoginProcess
  session: MemorySessionStore
  controller: AbortController
  step: LoginStep
  expiresAt: number
  /** A step is being handled: `LoginProcess` methods must not run concurrently. */
  busy: boolean
}

export class TooManyLoginsError extends Error {
  override name = 'TooManyLoginsError'
}

export class LoginRegistry {
  readonly #logins = new Map<string, PendingLogin>()

  constructor(
    readonly ttlMs: number,
    private readonly max = 200,
    private readonly now: () => number = Date.now,
  ) {
    // Abandoned logins let go of their connections even when nobody calls in any more.
    setInterval(() => this.sweep(), Math.min(ttlMs, 60_000)).unref()
  }

  newId(): string {
    return randomBytes(24).toString('base64url')
  }

  /** @throws TooManyLoginsError */
  add(login: Omit<PendingLogin, 'expiresAt' | 'busy'>): PendingLogin {
    this.sweep()
    if (this.#logins.size >= this.max) throw new TooManyLoginsError('too many logins in progress')
    const pending: PendingLogin = { ...login, busy: false, expiresAt: this.now() + this.ttlMs }
    this.#logins.set(pending.id, pending)
    return pending
  }

  get(id: string): PendingLogin | undefined {
    this.sweep()
    return this.#logins.get(id)
  }

  /** The re-login of `accountId` in progress here, if any. */
  reloginOf(accountId: string): PendingLogin | undefined {
    for (const login of this.#logins.values()) {
      if (login.relogin && login.accountId === accountId) return login
    }
    return undefined
  }

  touch(login: PendingLogin): void {
    login.expiresAt = this.now() + this.ttlMs
  }

  /** Forgets a finished login (its process is done; nothing to cancel). */
  forget(id: string): void {
    this.#logins.delete(id)
  }

  /** Abandons a login: aborts its signal and cancels its process. */
  async cancel(id: string): Promise<boolean> {
    const login = this.#logins.get(id)
    if (!login) return false
    this.#logins.delete(id)
    login.controller.abort()
    await login.process.cancel().catch(() => {})
    return true
  }

  sweep(): void {
    const now = this.now()
    for (const login of this.#logins.values()) {
      if (login.expiresAt <= now && !login.busy) void this.cancel(login.id)
    }
  }
}
