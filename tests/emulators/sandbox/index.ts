/**
 * @module Entry point of the sandbox messenger: `startSandbox(options)` starts the HTTP server (client API
 * `/v1/`, live updates `ws://…/v1/updates/ws`, control API `/_control/`) on 127.0.0.1 port 0 by default and
 * returns a handle whose methods are the control API in-process.
 */
import type { Server } from 'bun'
import { handleClient } from './client-api.ts'
import { handleControl } from './control-api.ts'
import { ApiError, errorResponse, json, notFound } from './errors.ts'
import type { DropWhen } from './faults.ts'
import type { FileInput } from './files.ts'
import { expireCode, loginCode, profileJson, userJson } from './login.ts'
import {
  type CustomerSendInput,
  customerDelete,
  customerEdit,
  customerRead,
  customerSend,
  type OwnerSendInput,
  ownerDelete,
  ownerEdit,
  ownerSend,
} from './messages.ts'
import { state, stats } from './snapshot.ts'
import type { ConnData, RateLimit, RevokeReason, SandboxOptions, Session } from './types.ts'
import { dropConnections, websocketHandler } from './updates.ts'
import { type AccountRef, Counters, World } from './world.ts'

export { patternBytes } from './files.ts'
export type { AccountState, SandboxState, SandboxStats, StateMessage } from './snapshot.ts'
export type { SandboxOptions } from './types.ts'

export interface SandboxInfo {
  url: string
  api: string
  ws: string
  control: string
}

export class SandboxMessenger {
  readonly world: World
  private readonly server: Server<ConnData>
  private bulkNext = 0

  private constructor(options: SandboxOptions) {
    this.world = new World(options)
    const world = this.world
    this.server = Bun.serve<ConnData>({
      hostname: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      // Long enough for injected latency; uploads keep the connection busy anyway.
      idleTimeout: 120,
      maxRequestBodySize: (options.maxFileBytes ?? 512 * 1024 * 1024) + 1024 * 1024,
      websocket: {
        ...websocketHandler(world),
        idleTimeout: options.idleTimeoutSeconds ?? 10,
        sendPings: true,
        perMessageDeflate: false,
      },
      fetch: async (req, server) => {
        const url = new URL(req.url)
        try {
          if (url.pathname.startsWith('/v1/')) return await handleClient(world, req, url, server)
          if (url.pathname === '/_control' || url.pathname.startsWith('/_control/')) {
            return await handleControl(this, req, url)
          }
          if (url.pathname === '/') return json(200, this.info())
          throw notFound()
        } catch (e) {
          if (e instanceof ApiError) return errorResponse(e)
          console.error('sandbox messenger: request failed', req.method, url.pathname, e)
          return json(500, { error: 'INTERNAL', code: 500, message: String(e) })
        }
      },
    })
  }

  /** @internal use startSandbox */
  static start(options: SandboxOptions): SandboxMessenger {
    return new SandboxMessenger(options)
  }

  get url(): string {
    return `http://${this.server.hostname}:${this.server.port}`
  }

  info(): SandboxInfo {
    const url = this.url
    return {
      url,
      api: `${url}/v1`,
      ws: `${url.replace(/^http/, 'ws')}/v1/updates/ws`,
      control: `${url}/_control`,
    }
  }

  async stop(): Promise<void> {
    for (const session of this.world.sessions.values()) {
      const live = session.live
      if (!live) continue
      session.live = undefined
      live.close(1001, 'SERVER_STOPPING')
    }
    await this.server.stop(true)
    this.world.files.close()
  }

  stats() {
    return stats(this.world)
  }

  state(options: { account?: AccountRef } = {}) {
    return state(this.world, options.account === undefined ? undefined : this.world.account(options.account))
  }

  resetStats(): { ok: true } {
    this.world.counters = new Counters()
    this.world.faults.floodWaits = 0
    this.world.faults.droppedResponses = 0
    for (const account of this.world.accounts.values()) {
      account.counters = undefined
      for (const chat of account.chats?.values() ?? []) {
        chat.received = 0
        chat.randomIdHits = 0
      }
    }
    return { ok: true }
  }

  createAccount(input: {
    phone: string
    name?: string
    username?: string
    password?: string
    passwordHint?: string
  }) {
    const account = this.world.createAccount(input)
    return { ...userJson(account), hasPassword: account.password !== undefined }
  }

  /** Many accounts at once (the relay benchmark's 10,000 idle ones): phones `<prefix><7 digits>`. */
  createAccounts(input: { count: number; phonePrefix?: string }) {
    const prefix = input.phonePrefix ?? '+7999'
    const accounts: { id: number; phone: string }[] = []
    while (accounts.length < input.count) {
      const phone = `${prefix}${String(this.bulkNext++).padStart(7, '0')}`
      if (this.world.byPhone.has(phone.startsWith('+') ? phone : `+${phone}`)) continue
      const { id, phone: normalized } = this.world.createAccount({ phone })
      accounts.push({ id, phone: normalized })
    }
    return { accounts }
  }

  /**
   * The account's owner edits the profile in the app: a new name, username (null removes it) or profile
   * photo (a new file each time; null removes it). Sessions see it in their next `GET /v1/me`.
   */
  async setProfile(input: {
    account: AccountRef
    name?: string
    username?: string | null
    photo?: FileInput | null
  }) {
    const account = this.world.account(input.account)
    if (input.name !== undefined) account.name = input.name
    if (input.username === null) delete account.username
    else if (input.username !== undefined) account.username = input.username
    if (input.photo === null) delete account.photo
    else if (input.photo !== undefined)
      account.photo = (await this.world.files.saveInput(input.photo, account.id)).id
    return profileJson(this.world, account)
  }

  /** A session without the code dance (like importing a saved session string). */
  createSession(input: { account: AccountRef }) {
    const account = this.world.account(input.account)
    const session = this.world.createSession(account)
    return { session: session.token, user: userJson(account) }
  }

  createCustomer(input: { name?: string; username?: string; phone?: string } = {}) {
    return { ...this.world.createCustomer(input) }
  }

  customerSend(input: CustomerSendInput) {
    return customerSend(this.world, input)
  }

  customerEdit(input: { customer: number; account: AccountRef; messageId: number; text: string }) {
    return customerEdit(this.world, input)
  }

  customerDelete(input: { customer: number; account: AccountRef; messageIds: number[] }) {
    return customerDelete(this.world, input)
  }

  customerRead(input: { customer: number; account: AccountRef; maxId?: number }) {
    return customerRead(this.world, input)
  }

  /** The account's owner writes from another device: the account's sessions get an outgoing message. */
  ownerSend(input: OwnerSendInput) {
    return ownerSend(this.world, input)
  }

  ownerEdit(input: { account: AccountRef; customer: number; messageId: number; text: string }) {
    return ownerEdit(this.world, input)
  }

  ownerDelete(input: { account: AccountRef; customer: number; messageIds: number[] }) {
    return ownerDelete(this.world, input)
  }

  /** Stores a file a customer will send (`customerSend({ fileId })`). */
  async uploadFile(name: string, mime: string, body: AsyncIterable<Uint8Array>) {
    const { id, size, sha256 } = await this.world.files.save(name, mime, body)
    return { id, name, mime, size, sha256 }
  }

  loginCode(input: { phone: string }) {
    return loginCode(this.world, input.phone)
  }

  expireCode(input: { phone: string }) {
    return expireCode(this.world, input.phone)
  }

  /** Network drop of every live connection of the account. */
  dropConnections(input: { account: AccountRef }) {
    return { dropped: dropConnections(this.world, this.world.account(input.account)) }
  }

  /** The next `calls` client calls (of the account, or any) answer FLOOD_WAIT_<seconds>. */
  floodWait(input: { account?: AccountRef; seconds: number; calls?: number }) {
    this.world.faults.floodWait(this.accountId(input.account), input.seconds, input.calls ?? 1)
    return { ok: true }
  }

  /** The next `calls` client calls lose their connection, before or (default) after doing the work. */
  dropResponses(input: { account?: AccountRef; calls?: number; when?: DropWhen }) {
    this.world.faults.dropResponses(this.accountId(input.account), input.calls ?? 1, input.when ?? 'after')
    return { ok: true }
  }

  setLatency(input: { account?: AccountRef; ms: number }) {
    this.world.faults.latency(this.accountId(input.account), input.ms)
    return { ok: true }
  }

  clearFaults() {
    this.world.faults.clear()
    return { ok: true }
  }

  setRateLimit(limit: Partial<RateLimit> | null) {
    const perSecond = limit?.perSecond
    this.world.faults.rateLimit =
      perSecond === undefined ? null : { perSecond, burst: limit?.burst ?? Math.max(1, perSecond) }
    return { rateLimit: this.world.faults.rateLimit }
  }

  /** Revokes one session, or every session of an account (Telegram: "terminate all sessions"). */
  revokeSession(input: { session?: string; account?: AccountRef; reason?: RevokeReason }) {
    const reason = input.reason ?? 'SESSION_REVOKED'
    const targets: Session[] = []
    if (input.session !== undefined) {
      const session = this.world.sessions.get(input.session)
      if (session) targets.push(session)
    }
    if (input.account !== undefined) targets.push(...(this.world.account(input.account).sessions ?? []))
    let revoked = 0
    for (const session of targets) {
      if (session.revoked) continue
      this.world.revoke(session, reason)
      revoked++
    }
    return { revoked }
  }

  private accountId(ref: AccountRef | undefined): number | undefined {
    return ref === undefined ? undefined : this.world.account(ref).id
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxMessenger> {
  return SandboxMessenger.start(options)
}
