/**
 * @module The receiving side of one MAX account: `connect` checks the token (`GET /me`), sets up the mode
 * (webhook: our subscription with a secret, then the `max_updates` drain; polling: our subscriptions
 * removed — they block polling, §4.1 — then the poll loop), reports the outcome as a connection event, and
 * hands updates over as remote events. Only subscriptions whose URL is this account's webhook path are
 * ever deleted: the official library's `start()` deletes every other one, which makes two users of a token
 * fight (reference §8).
 */
import { randomBytes } from 'node:crypto'
import { NeedsLoginError } from '../../bridge/errors.ts'
import type { AccountId } from '../../bridge/ids.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { ConnectionState, RemoteEvent } from '../../bridge/remote-event.ts'
import type { Logger } from '../../log/logger.ts'
import { type MaxApi, MaxApiError } from './api.ts'
import type { OpenRef } from './attachments.ts'
import type { RequestBudget } from './budget.ts'
import type { DialogRegistry } from './dialogs.ts'
import { floodSeconds, toBridgeError } from './errors.ts'
import { Poller, type PollingOptions } from './polling.ts'
import { BotInfo, SubscriptionList } from './schemas.ts'
import { decodeText, SESSION_KEYS } from './session.ts'
import { mapUpdate, parseUpdate, toContact } from './updates.ts'
import { type MaxUpdateStore, type WakeSubscribe, WebhookFeed } from './webhook-feed.ts'

export type ReceiveMode = 'webhook' | 'polling'

/** The update types a webhook subscription asks for (§4.2); polling takes the server's default set. */
export const SUBSCRIBED_TYPES = [
  'message_created',
  'message_edited',
  'message_removed',
  'bot_started',
  'bot_stopped',
  'dialog_removed',
] as const

export interface WebhookSetup {
  /** Olchat's public https base; the endpoint is `<publicUrl>/max/webhook/<accountId>`. */
  publicUrl: string
  store: MaxUpdateStore
  subscribe: WakeSubscribe
  drainIntervalMs: number
  keepHandledMs: number
  /** How often the subscription is checked (MAX drops one whose endpoint failed for 8 h, §4.2). */
  checkIntervalMs: number
}

export interface ReceiverDeps {
  accountId: AccountId
  session: SessionStore
  api: MaxApi | undefined
  mode: ReceiveMode
  webhook: WebhookSetup | undefined
  polling: PollingOptions
  pollBudget: RequestBudget | undefined
  dialogs: DialogRegistry
  emit(event: RemoteEvent): void
  open: OpenRef
  /** Counts an update or part left out (`type:<t>`, `malformed:<t>`, `attachment:<t>`, `event:<t>`…). */
  onSkipped(reason: string): void
  log?: Logger
}

export const webhookPath = (accountId: string) => `/max/webhook/${accountId}`

export class Receiver {
  #online = false
  #opening: Promise<void> | undefined
  /** Bumped by `disconnect`: work of an older epoch emits nothing. */
  #epoch = 0
  #holding = false
  #botUserId: number | undefined
  #poller: Poller | undefined
  #feed: WebhookFeed | undefined
  #check: ReturnType<typeof setInterval> | undefined

  constructor(private readonly deps: ReceiverDeps) {}

  get botUserId(): number | undefined {
    return this.#botUserId
  }

  holdPositionUntilAck(): void {
    this.#holding = true
  }

  connect(): Promise<void> {
    if (this.#online) {
      this.#report(this.#epoch, 'connected')
      return Promise.resolve()
    }
    this.#opening ??= this.#open(this.#epoch).finally(() => {
      this.#opening = undefined
    })
    return this.#opening
  }

  async disconnect(): Promise<void> {
    this.#epoch++
    this.#online = false
    await this.#opening
    await this.#stopLoops()
  }

  /** Webhook mode: our subscription goes and the stored rows with it (R1). Best effort per step. */
  async logoutRemote(): Promise<void> {
    await this.disconnect()
    const { api, webhook, accountId } = this.deps
    if (!api) return
    try {
      for (const url of await this.#ourSubscriptions(api)) {
        await api.act('DELETE', '/subscriptions', { query: { url } })
      }
    } catch (error) {
      const mapped = toBridgeError(error)
      if (!(mapped instanceof NeedsLoginError)) throw mapped
    } finally {
      // The secret first: a delivery being stored holds it (`insertWhileLive`), so its row is there to delete.
      if (webhook) {
        await this.deps.session.delete(SESSION_KEYS.webhookSecret)
        await webhook.store.deleteAll(accountId)
      }
    }
  }

  async #open(epoch: number): Promise<void> {
    const { api, mode, webhook } = this.deps
    if (!api) {
      this.#report(epoch, 'bad-credentials', new NeedsLoginError('logged-out'))
      return
    }
    try {
      const me = await api.call('GET', '/me', BotInfo)
      this.#botUserId = me.user_id
      if (mode === 'webhook' && webhook) await this.#subscribe(api, webhook)
      else await this.#unsubscribeForPolling(api)
    } catch (error) {
      this.#fail(epoch, error)
      return
    }
    if (epoch !== this.#epoch) return
    this.#online = true
    this.#report(epoch, 'connected')
    if (mode === 'webhook' && webhook) this.#startFeed(epoch, api, webhook)
    else this.#startPoller(epoch, api)
  }

  #startPoller(epoch: number, api: MaxApi): void {
    const { session, polling, pollBudget } = this.deps
    this.#poller = new Poller({
      api,
      session,
      budget: pollBudget!,
      options: polling,
      handOver: (updates, signal) => this.#handBatch(epoch, updates, signal),
      report: (state, error, seconds) => {
        if (epoch !== this.#epoch) return
        this.#online = false
        this.#report(epoch, state, error, seconds)
      },
    })
  }

  #startFeed(epoch: number, api: MaxApi, webhook: WebhookSetup): void {
    this.#feed = new WebhookFeed({
      accountId: this.deps.accountId,
      store: webhook.store,
      subscribe: webhook.subscribe,
      handOver: (body, settled) => this.#hand(epoch, body, settled),
      intervalMs: webhook.drainIntervalMs,
      keepHandledMs: webhook.keepHandledMs,
      log: this.deps.log,
    })
    this.#check = setInterval(
      () => void this.#checkSubscription(epoch, api, webhook),
      webhook.checkIntervalMs,
    )
    this.#check.unref?.()
  }

  async #stopLoops(): Promise<void> {
    clearInterval(this.#check)
    const poller = this.#poller
    const feed = this.#feed
    this.#poller = undefined
    this.#feed = undefined
    await Promise.all([poller?.stop(), feed?.stop()])
  }

  /** A batch of polled updates; resolves once every event was handed over (acked, when holding). */
  async #handBatch(epoch: number, updates: unknown[], signal: AbortSignal): Promise<void> {
    let open = updates.length
    let release = () => {}
    const allSettled = new Promise<void>((resolve) => {
      release = resolve
    })
    for (const update of updates) {
      await this.#hand(epoch, update, () => {
        if (--open === 0) release()
      })
    }
    if (open === 0) return
    await new Promise<void>((resolve, reject) => {
      const aborted = () => reject(signal.reason)
      if (signal.aborted) return aborted()
      signal.addEventListener('abort', aborted, { once: true })
      void allSettled.then(() => {
        signal.removeEventListener('abort', aborted)
        resolve()
      })
    })
  }

  /** One update → its events. `settled` runs once (at once when nothing is held for the core). */
  async #hand(epoch: number, raw: unknown, settled: () => void): Promise<void> {
    const { deps } = this
    const parsed = parseUpdate(raw)
    if (parsed.kind !== 'handled') {
      const reason = parsed.kind === 'unknown' ? `type:${parsed.type}` : `malformed:${parsed.type}`
      deps.onSkipped(reason)
      if (parsed.kind === 'malformed')
        deps.log?.warn({ accountId: deps.accountId, reason, paths: parsed.paths }, 'max: update not readable')
      settled()
      return
    }
    const mapped = mapUpdate(
      { accountId: deps.accountId, botUserId: this.#botUserId, open: deps.open },
      parsed.update,
    )
    for (const reason of mapped.skipped) deps.onSkipped(reason)
    const events = [...mapped.events]
    if (mapped.dialog) {
      const { chatId, user } = mapped.dialog
      const isNew = await deps.dialogs.remember(chatId, user.user_id)
      // The customer's name reaches the core before the first message of a new dialog.
      if (isNew && parsed.update.update_type !== 'bot_started') {
        events.unshift({
          type: 'contact',
          accountId: deps.accountId,
          contact: toContact(user),
          timestamp: new Date(parsed.update.timestamp),
        })
      }
      if (mapped.startPayload)
        await deps.session.set(`${SESSION_KEYS.startPayload}${chatId}`, mapped.startPayload)
    }
    if (epoch !== this.#epoch) return
    if (events.length === 0 || !this.#holding) {
      for (const event of events) deps.emit(event)
      settled()
      return
    }
    let open = events.length
    for (const event of events) {
      let acked = false
      event.ack = () => {
        if (acked) return
        acked = true
        if (--open === 0) settled()
      }
    }
    for (const event of events) deps.emit(event)
  }

  async #subscribe(api: MaxApi, webhook: WebhookSetup): Promise<void> {
    const { session, accountId } = this.deps
    let secret = decodeText(await session.get(SESSION_KEYS.webhookSecret))
    if (!secret) {
      // §4.2: 5–256 characters of [A-Za-z0-9_-]; base64url of 32 random bytes is 43 of them.
      secret = randomBytes(32).toString('base64url')
      await session.set(SESSION_KEYS.webhookSecret, secret)
    }
    const url = `${webhook.publicUrl}${webhookPath(accountId)}`
    await api.act('POST', '/subscriptions', { json: { url, update_types: SUBSCRIBED_TYPES, secret } })
    // An earlier public URL of this account (the installation moved) would get every update too.
    for (const old of await this.#ourSubscriptions(api)) {
      if (old !== url) await api.act('DELETE', '/subscriptions', { query: { url: old } })
    }
  }

  async #unsubscribeForPolling(api: MaxApi): Promise<void> {
    const list = await api.call('GET', '/subscriptions', SubscriptionList)
    const ours = list.subscriptions.filter((s) => this.#isOurs(s.url))
    for (const subscription of ours)
      await api.act('DELETE', '/subscriptions', { query: { url: subscription.url } })
    if (list.subscriptions.length > ours.length) {
      this.deps.log?.warn(
        { accountId: this.deps.accountId, subscriptions: list.subscriptions.length - ours.length },
        'max: the bot has a webhook subscription of another system; MAX sends no updates to long polling while it exists',
      )
    }
  }

  async #checkSubscription(epoch: number, api: MaxApi, webhook: WebhookSetup): Promise<void> {
    try {
      const url = `${webhook.publicUrl}${webhookPath(this.deps.accountId)}`
      const list = await api.call('GET', '/subscriptions', SubscriptionList)
      if (!list.subscriptions.some((s) => s.url === url)) {
        this.deps.log?.warn(
          { accountId: this.deps.accountId },
          'max: webhook subscription gone, subscribing again',
        )
        await this.#subscribe(api, webhook)
      }
    } catch (error) {
      const mapped = toBridgeError(error)
      if (mapped instanceof NeedsLoginError && epoch === this.#epoch) {
        this.#online = false
        await this.#stopLoops()
        this.#report(epoch, 'bad-credentials', mapped)
        return
      }
      this.deps.log?.warn({ err: mapped, accountId: this.deps.accountId }, 'max: subscription check failed')
    }
  }

  async #ourSubscriptions(api: MaxApi): Promise<string[]> {
    const list = await api.call('GET', '/subscriptions', SubscriptionList)
    return list.subscriptions.map((s) => s.url).filter((url) => this.#isOurs(url))
  }

  #isOurs(url: string): boolean {
    try {
      return new URL(url).pathname.replace(/\/+$/, '').endsWith(webhookPath(this.deps.accountId))
    } catch {
      return false
    }
  }

  #fail(epoch: number, error: unknown): void {
    const mapped = toBridgeError(error)
    if (mapped instanceof NeedsLoginError) this.#report(epoch, 'bad-credentials', mapped)
    else if (error instanceof MaxApiError && error.status === 429) {
      this.#report(epoch, 'flood-wait', mapped, floodSeconds(error))
    } else this.#report(epoch, 'transient-disconnect', mapped)
  }

  #report(epoch: number, state: ConnectionState, error?: unknown, floodWaitSeconds?: number): void {
    if (epoch !== this.#epoch) return
    this.deps.emit({
      type: 'connection',
      accountId: this.deps.accountId,
      state,
      ...(floodWaitSeconds === undefined ? {} : { floodWaitSeconds }),
      ...(error === undefined ? {} : { error }),
      timestamp: new Date(),
    })
  }
}
