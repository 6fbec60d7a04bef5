/**
 * @module Operator → customer for one account: claims its `to_messenger` deliveries (per-chat order kept by
 * `claim`), carries each out through the messenger client, and in one transaction records the message,
 * queues `imconnector.send.status.delivery` with the messenger ids and drops the body (R8). The send is
 * idempotent on a client-side id derived from the delivery, so a crash between send and commit only
 * repeats a send the messenger drops: exactly once on the messenger side.
 */

import { retryOnConnectionLoss } from '../../storage/connection-loss.ts'
import type { Sql, Tx } from '../../storage/db.ts'
import { LeaseLostError } from '../../storage/repos/account-leases.ts'
import type { Chat } from '../../storage/repos/chats.ts'
import type { Delivery } from '../../storage/repos/deliveries.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { StatusPayload } from '../bitrix/portal-sender/payloads.ts'
import type { MessengerClient, SentMessage } from '../bridge/client.ts'
import {
  dispositionOf,
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  UnsupportedError,
} from '../bridge/errors.ts'
import { type RemoteChatId, toRemoteChatId, toRemoteMessageId } from '../bridge/ids.ts'
import type { Logger } from '../log/logger.ts'
import { type RetryPolicy, retryDelay } from './backoff.ts'
import type { Fence } from './fence.ts'
import { clientMessageIdFor, statusKey } from './keys.ts'
import { type FetchLike, operatorFile } from './operator-files.ts'
import { type OperatorPayload, parseOperatorPayload } from './operator-payload.ts'

export interface OutboundOptions {
  /** Rows per claim. */
  batchSize: number
  /** How long a claimed row stays ours; past it another drain may take it (`requeueExpiredLocks`). */
  lockMs: number
  retry: RetryPolicy
}

export const DEFAULT_OUTBOUND_OPTIONS: OutboundOptions = {
  batchSize: 20,
  lockMs: 120_000,
  retry: { baseMs: 2_000, capMs: 10 * 60_000 },
}

export interface OutboundHooks {
  /** Runs between a successful send and its commit (tests simulate a crash there). */
  afterSend?(delivery: Delivery, sent: SentMessage): void | Promise<void>
  /** The messenger asked the account to wait: the account actor pauses (health `flood_wait`). */
  onFloodWait?(seconds: number): void
  /** The session is gone: the account actor takes over (health `needs_login`). */
  onNeedsLogin?(error: NeedsLoginError): void
}

export interface OutboundDeps {
  sql: Sql
  repos: Pick<Repositories, 'chats' | 'messages' | 'deliveries'>
  client: MessengerClient
  /** Downloads operators' files from their portal links. @default globalThis.fetch */
  fetch?: FetchLike
  log?: Logger
  /** Milliseconds since the epoch. */
  now?: () => number
  random?: () => number
  /** Wakes the portal sender (a delivery status was queued). */
  notifySender(accountId: string): void
  /** Checked first in the transaction that records a send (absent: unfenced, tests and tools). */
  fence?: Fence
  hooks?: OutboundHooks
  options?: Partial<OutboundOptions>
}

export type DrainStatus = 'idle' | 'paused' | 'needs-login' | 'stopped'

export interface DrainResult {
  status: DrainStatus
  /** Rows carried out and completed. */
  done: number
  /** Rows put back untouched (flood wait, login, held behind an earlier row of their chat, stop). */
  released: number
  /** Rows failed for a retry later. */
  failed: number
  /** Rows dead-lettered. */
  dead: number
}

type Outcome = 'done' | 'released' | 'failed' | 'dead'

const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000)

function describe(error: unknown): string {
  if (error instanceof PermanentSendError) return `permanent: ${error.code}`
  if (error instanceof UnsupportedError) return `unsupported: ${error.feature}`
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export class OutboundRelay {
  readonly accountId: string
  readonly #deps: OutboundDeps
  readonly #options: OutboundOptions
  readonly #now: () => number
  readonly #fetch: FetchLike
  #running: Promise<DrainResult> | undefined
  #again = false
  #stopping = false
  #needsLogin = false
  #pausedUntil = 0

  constructor(deps: OutboundDeps) {
    this.#deps = deps
    this.accountId = deps.client.accountId
    this.#options = { ...DEFAULT_OUTBOUND_OPTIONS, ...deps.options }
    this.#now = deps.now ?? Date.now
    this.#fetch = deps.fetch ?? ((url, init) => fetch(url, init))
  }

  /** Until when a flood wait holds the queue (ms since the epoch; 0 when not paused). */
  get pausedUntil(): number {
    return this.#pausedUntil > this.#now() ? this.#pausedUntil : 0
  }

  /**
   * Sends everything due, batch after batch, until the queue is empty or something stops it. One drain at a
   * time: a call during a drain makes it look once more and shares its result.
   */
  drain(): Promise<DrainResult> {
    if (this.#running) {
      this.#again = true
      return this.#running
    }
    const running = this.#loop().finally(() => {
      this.#running = undefined
    })
    this.#running = running
    return running
  }

  /** After a new login: the queue may be drained again. */
  resume(): void {
    this.#needsLogin = false
    this.#stopping = false
  }

  /** Finishes the item in flight, puts the rest of the batch back, and resolves when the drain is over. */
  async stop(): Promise<void> {
    this.#stopping = true
    await this.#running?.catch(() => {})
  }

  #halted(): DrainStatus | null {
    if (this.#stopping) return 'stopped'
    if (this.#needsLogin) return 'needs-login'
    if (this.#pausedUntil > this.#now()) return 'paused'
    return null
  }

  async #loop(): Promise<DrainResult> {
    const result: DrainResult = { status: 'idle', done: 0, released: 0, failed: 0, dead: 0 }
    // Rows an earlier drain of ours left claimed (it died with the database): ours to send again now.
    const orphans = await this.#deps.repos.deliveries.releaseOwnClaims(this.accountId, 'to_messenger')
    if (orphans > 0)
      this.#deps.log?.warn({ accountId: this.accountId, rows: orphans }, 'interrupted drain: rows back')
    for (;;) {
      this.#again = false
      const halted = this.#halted()
      if (halted) return { ...result, status: halted }
      const { batchSize, lockMs } = this.#options
      const rows = await this.#deps.repos.deliveries.claim(
        { accountId: this.accountId, direction: 'to_messenger' },
        batchSize,
        lockMs,
      )
      if (rows.length === 0) {
        if (this.#again) continue
        return result
      }
      await this.#process(rows, result)
    }
  }

  async #process(rows: Delivery[], result: DrainResult): Promise<void> {
    // Chats whose earlier row did not go: their later rows in this batch must wait too (per-chat order).
    const held = new Set<string>()
    let statusQueued = false
    for (const [index, row] of rows.entries()) {
      if (this.#halted()) {
        const rest = rows.slice(index).map((r) => r.id)
        result.released += await this.#deps.repos.deliveries.release(rest)
        break
      }
      const order = row.chatId ?? `remote:${String((row.payload as OperatorPayload | null)?.chat?.id)}`
      if (held.has(order)) {
        result.released += await this.#deps.repos.deliveries.release([row.id])
        continue
      }
      const outcome = await this.#deliver(row)
      result[outcome]++
      if (outcome === 'done') statusQueued ||= row.kind === 'message'
      // A dead letter is finished: the chat's later rows may go; a row waiting for a retry holds them.
      else if (outcome !== 'dead') held.add(order)
    }
    if (statusQueued) this.#deps.notifySender(this.accountId)
  }

  async #deliver(row: Delivery): Promise<Outcome> {
    const payload = parseOperatorPayload(row.payload)
    try {
      if (!payload) throw new PermanentSendError('invalid-payload', 'malformed operator delivery')
      if (row.kind === 'message') await this.#send(row, payload)
      else if (row.kind === 'edit') await this.#edit(row, payload)
      else if (row.kind === 'delete') await this.#delete(row, payload)
      else throw new PermanentSendError('unsupported-kind', `no ${row.kind} toward the messenger`)
      return 'done'
    } catch (error) {
      return this.#failed(row, error)
    }
  }

  async #failed(row: Delivery, error: unknown): Promise<Outcome> {
    const { deliveries } = this.#deps.repos
    const log = this.#deps.log
    if (error instanceof LeaseLostError) {
      // Another process owns the account now: stop here and leave the row to it (its client id makes a
      // repeat of a send that did happen harmless).
      this.#stopping = true
      await deliveries.release([row.id]).catch(() => 0)
      log?.warn({ accountId: this.accountId, reason: error.reason }, 'lease lost: outbound relay stopped')
      return 'released'
    }
    if (error instanceof FloodWaitError) {
      // Not the row's fault: no attempt counted, never dropped; the whole account waits.
      const until = this.#now() + Math.max(0, error.seconds) * 1000
      this.#pausedUntil = Math.max(this.#pausedUntil, until)
      await deliveries.release([row.id], { availableAt: new Date(until), error: describe(error) })
      log?.warn({ accountId: this.accountId, seconds: error.seconds }, 'flood wait: relay paused')
      this.#deps.hooks?.onFloodWait?.(error.seconds)
      return 'released'
    }
    if (error instanceof NeedsLoginError) {
      this.#needsLogin = true
      await deliveries.release([row.id], { error: describe(error) })
      log?.warn({ accountId: this.accountId, reason: error.reason }, 'login needed: relay stopped')
      this.#deps.hooks?.onNeedsLogin?.(error)
      return 'released'
    }
    if (dispositionOf(error) === 'permanent') {
      await deliveries.deadLetter(row.id, describe(error))
      log?.warn({ accountId: this.accountId, deliveryId: row.id, reason: describe(error) }, 'dead letter')
      return 'dead'
    }
    const retryAt = new Date(
      this.#now() + retryDelay(row.attempts, this.#options.retry, this.#deps.random ?? Math.random),
    )
    const status = await deliveries.fail(row.id, describe(error), retryAt)
    log?.info({ accountId: this.accountId, deliveryId: row.id, err: error, status }, 'send failed')
    return status === 'dead' ? 'dead' : 'failed'
  }

  /** The chat of a row; the inbox worker leaves it null when it did not know the chat yet. */
  async #chat(row: Delivery, payload: OperatorPayload): Promise<Chat> {
    const { chats } = this.#deps.repos
    if (row.chatId !== null) return chats.get(row.chatId)
    return (
      (await chats.getByRemote(this.accountId, payload.chat.id)) ??
      (await chats.upsert({
        accountId: this.accountId,
        remoteChatId: payload.chat.id,
        portalChatId: payload.im.chat_id,
      }))
    )
  }

  async #send(row: Delivery, payload: OperatorPayload): Promise<void> {
    const { sql, repos, client } = this.#deps
    const chat = await this.#chat(row, payload)
    const text = payload.text.trim() ? payload.text : undefined
    const files = payload.files.map((file, index) => operatorFile(file, index, this.#fetch))
    if (!text && files.length === 0) {
      // Nothing a messenger could show (an empty system message): done, nothing to report.
      await repos.deliveries.complete(row.id)
      return
    }
    // Tried before (a requeued claim of a dead process, a lost answer): the messenger may have it already.
    const inDoubt =
      row.attempts > 0
        ? {
            since: row.createdAt,
            knownMessageIds: (await repos.messages.outboundTargetsSince(chat.id, row.createdAt)).map(
              toRemoteMessageId,
            ),
          }
        : undefined
    const sent = await client.send({
      chatId: toRemoteChatId(chat.remoteChatId),
      clientMessageId: clientMessageIdFor(row.idempotencyKey),
      ...(inDoubt ? { inDoubt } : {}),
      ...(text ? { text } : {}),
      ...(files.length > 0 ? { files } : {}),
    })
    await this.#deps.hooks?.afterSend?.(row, sent)
    const status: StatusPayload = {
      im: { chatId: payload.im.chat_id, messageId: payload.im.message_id },
      messageIds: sent.messageIds,
      chat: { id: payload.chat.id },
      date: unixSeconds(sent.timestamp),
    }
    // The origin time is the row's creation: stable across retries, so a repeat hits the messages dedup key.
    const ref = {
      accountId: this.accountId,
      direction: 'out' as const,
      originId: payload.im.message_id,
      sentAt: row.createdAt,
    }
    // Sent: recording it must outlive a database restart, or the message goes out again (harmless where the
    // messenger dedups on the client id, but it is a wasted send and a stalled chat meanwhile).
    await this.#afterRemote(() =>
      sql.begin(async (tx) => {
        await this.#deps.fence?.(tx)
        const targetId = sent.messageIds[0]
        await repos.messages.recordOutbound({ ...ref, chatId: chat.id, targetId }, tx)
        await repos.messages.markDelivered(ref, { targetId, at: new Date(this.#now()) }, tx)
        await repos.deliveries.enqueue(
          {
            accountId: this.accountId,
            chatId: chat.id,
            direction: 'to_portal',
            kind: 'status',
            idempotencyKey: statusKey(row.idempotencyKey),
            payload: status,
          },
          tx,
        )
        if (chat.portalChatId === null) await repos.chats.setPortalChatId(chat.id, payload.im.chat_id, tx)
        await repos.chats.touch(chat.id, sent.timestamp, tx)
        await repos.deliveries.complete(row.id, tx)
      }),
    )
    await this.#markCustomerRead(chat)
  }

  /**
   * Bitrix24 sends no event when an operator reads, so an operator's answer marks the customer's messages
   * read. Only when an unread one is there (a burst of answers costs one call); failures cost nothing more.
   */
  async #markCustomerRead(chat: Chat): Promise<void> {
    const { messages } = this.#deps.repos
    try {
      const recent = await messages.listByChat(chat.id, { limit: 50 })
      const latest = recent.find((message) => message.direction === 'in')
      if (!latest || latest.readAt !== null || latest.status === 'deleted') return
      await this.#deps.client.markRead(toRemoteChatId(chat.remoteChatId), toRemoteMessageId(latest.originId))
      await messages.markChatReadUntil(chat.id, 'in', latest.sentAt, new Date(this.#now()))
    } catch (error) {
      this.#deps.log?.info({ accountId: this.accountId, err: error }, 'could not mark the chat read')
    }
  }

  /** The messenger ids of an operator message: from the portal (`remoteIds`) or our own record. */
  async #targets(payload: OperatorPayload): Promise<string[]> {
    if (payload.remoteIds.length > 0) return payload.remoteIds
    const message = await this.#deps.repos.messages.findByOrigin(this.accountId, 'out', payload.im.message_id)
    if (message?.targetId) return [message.targetId]
    throw new PermanentSendError('unknown-message', 'the operator message never reached the messenger')
  }

  async #edit(row: Delivery, payload: OperatorPayload): Promise<void> {
    const chat = await this.#chat(row, payload)
    const [target] = await this.#targets(payload)
    // A message that became several (text + files) carries its text in the first one.
    await this.#deps.client.edit(toRemoteChatId(chat.remoteChatId), toRemoteMessageId(target!), payload.text)
    await this.#settle(row, payload, (ref, tx) =>
      this.#deps.repos.messages.markEdited(ref, new Date(this.#now()), tx),
    )
  }

  async #delete(row: Delivery, payload: OperatorPayload): Promise<void> {
    const chat = await this.#chat(row, payload)
    const targets = await this.#targets(payload)
    const chatId: RemoteChatId = toRemoteChatId(chat.remoteChatId)
    await this.#deps.client.delete(chatId, targets.map(toRemoteMessageId))
    await this.#settle(row, payload, (ref, tx) => this.#deps.repos.messages.setStatus(ref, 'deleted', tx))
  }

  /** Updates the message row (when there is one) and completes the delivery in one transaction. */
  async #settle(
    row: Delivery,
    payload: OperatorPayload,
    update: (ref: { accountId: string; direction: 'out'; originId: string }, tx: Tx) => Promise<unknown>,
  ): Promise<void> {
    await this.#afterRemote(() =>
      this.#deps.sql.begin(async (tx) => {
        await this.#deps.fence?.(tx)
        await update({ accountId: this.accountId, direction: 'out', originId: payload.im.message_id }, tx)
        await this.#deps.repos.deliveries.complete(row.id, tx)
      }),
    )
  }

  /** Writes the outcome of something the messenger already did, riding out a lost database connection. */
  #afterRemote<T>(write: () => Promise<T>): Promise<T> {
    return retryOnConnectionLoss(write, {
      onRetry: (error, attempt) => {
        if (attempt === 1)
          this.#deps.log?.warn({ accountId: this.accountId, err: error }, 'database lost, retrying')
      },
    })
  }
}
