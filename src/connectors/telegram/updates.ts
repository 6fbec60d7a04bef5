/**
 * @module mtcute's dispatched updates → the bridge's remote events, for one live client. Private chats with
 * people only (groups, channels, bots and "Saved messages" dropped here, at the source). mtcute's emitters do
 * not await listeners (reference §3.1), so each update is numbered as it is dispatched (`PositionGate`) and
 * its async work runs on one queue, keeping the messenger's order. New messages are checked against the
 * message log: a catch-up repeat of one already handed on is dropped. A sender whose profile the client has
 * not reported yet gets a `contact` event first, so the customer's name reaches Bitrix24 with the message.
 */
import type { DeleteMessageUpdate, HistoryReadUpdate, Message, User } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import type { AccountId } from '../../bridge/ids.ts'
import { toRemoteChatId, toRemoteMessageId, toRemoteUserId } from '../../bridge/ids.ts'
import type { RemoteEvent } from '../../bridge/remote-event.ts'
import { contactOf } from './contacts.ts'
import { isPersonChat, messageEvent } from './events.ts'
import type { MessageLog } from './message-log.ts'
import type { PositionGate } from './position.ts'

export interface UpdateRouterDeps {
  accountId: AccountId
  messages: MessageLog
  gate: PositionGate
  /** When true, events carry `ack` and the position waits for them; else they count as handed on at once. */
  holding: () => boolean
  emit(event: RemoteEvent): void
  onError(error: unknown): void
}

type Emit = (event: RemoteEvent) => void

export class UpdateRouter {
  #queue: Promise<void> = Promise.resolve()
  /** Messages handed on whose ack has not come yet: deletions find their chat here too. */
  readonly #inFlight = new Map<number, number>()
  /** The profile last reported per user (by this client's owner, for its life). */
  readonly #profiles = new Map<number, string>()

  constructor(private readonly deps: UpdateRouterDeps) {}

  /**
   * Subscribes to a client's updates. @returns the function that unsubscribes; work still queued for the
   * client then emits nothing (no events after `disconnect`), and its updates come again on the next one.
   */
  attach(tg: TelegramClient): () => void {
    let live = true
    const emit: Emit = (event) => {
      if (live) this.deps.emit(event)
    }
    const onNew = (message: Message) => this.#run((ack) => this.#onNewMessage(tg, message, ack, emit))
    const onEdit = (message: Message) => this.#run((ack) => this.#onEdit(tg, message, ack, emit))
    const onDelete = (update: DeleteMessageUpdate) => this.#run((ack) => this.#onDelete(update, ack, emit))
    const onRead = (update: HistoryReadUpdate) => this.#run((ack) => this.#onRead(update, ack, emit))
    tg.onNewMessage.add(onNew)
    tg.onEditMessage.add(onEdit)
    tg.onDeleteMessage.add(onDelete)
    tg.onHistoryRead.add(onRead)
    return () => {
      live = false
      tg.onNewMessage.remove(onNew)
      tg.onEditMessage.remove(onEdit)
      tg.onDeleteMessage.remove(onDelete)
      tg.onHistoryRead.remove(onRead)
    }
  }

  /** Numbered now (synchronously, as mtcute dispatches), handled in order. */
  #run(work: (ack: () => void) => Promise<void> | void): void {
    const ack = this.deps.gate.dispatched()
    this.#queue = this.#queue
      .then(() => work(ack))
      .catch((error: unknown) => {
        // Given up (logged): holding the position for it would stall every later update.
        ack()
        this.deps.onError(error)
      })
  }

  /** `ack` for the events of one update: the position moves once all of them were acked. */
  #acks(count: number, ack: () => void): (() => void)[] {
    if (!this.deps.holding()) {
      ack()
      return Array.from({ length: count }, () => () => {})
    }
    let left = count
    return Array.from({ length: count }, () => {
      let done = false
      return () => {
        if (done) return
        done = true
        if (--left === 0) ack()
      }
    })
  }

  async #onNewMessage(tg: TelegramClient, message: Message, ack: () => void, emit: Emit) {
    if (!isPersonChat(message.chat) || message.isService) return ack()
    const { id } = message
    const chatId = message.chat.id
    if (this.#inFlight.has(id) || (await this.deps.messages.handled(id))) return ack()
    // The person of the chat: the sender, or for the owner's own message the peer (who may not have written yet).
    this.#reportProfile((message.isOutgoing ? message.chat : message.sender) as User, emit)
    const event = messageEvent(this.deps.accountId, tg, message)
    const [done] = this.#acks(1, ack)
    if (!this.deps.holding()) {
      await this.deps.messages.record(id, chatId)
      return emit(event)
    }
    this.#inFlight.set(id, chatId)
    emit({
      ...event,
      ack: () => {
        // Recorded before the position moves: a crash in between brings a repeat that is dropped.
        void this.deps.messages
          .record(id, chatId)
          .then(() => this.#inFlight.delete(id))
          .catch(this.deps.onError)
          .finally(done)
      },
    })
  }

  #onEdit(tg: TelegramClient, message: Message, ack: () => void, emit: Emit) {
    if (!isPersonChat(message.chat) || message.isService) return ack()
    const event = messageEvent(this.deps.accountId, tg, message)
    const [done] = this.#acks(1, ack)
    emit({
      type: 'edit',
      accountId: event.accountId,
      chat: event.chat,
      timestamp: message.editDate ?? message.date,
      messageId: event.messageId,
      sender: event.sender,
      text: event.text ?? '',
      ...(this.deps.holding() ? { ack: done } : {}),
    })
  }

  async #onDelete(update: DeleteMessageUpdate, ack: () => void, emit: Emit) {
    // Channel deletions name their channel; ours (private chats) carry ids only.
    if (update.channelId !== null) return ack()
    const byChat = await this.deps.messages.chatsOf(update.messageIds)
    for (const id of update.messageIds) {
      const chat = this.#inFlight.get(id)
      if (chat === undefined || byChat.get(chat)?.includes(id)) continue
      byChat.set(chat, [...(byChat.get(chat) ?? []), id])
    }
    if (byChat.size === 0) return ack()
    const acks = this.#acks(byChat.size, ack)
    let i = 0
    for (const [chat, ids] of byChat) {
      const chatId = toRemoteChatId(String(chat))
      const done = acks[i++]!
      emit({
        type: 'delete',
        accountId: this.deps.accountId,
        chat: { accountId: this.deps.accountId, chatId },
        timestamp: new Date(),
        messageIds: ids.map((id) => toRemoteMessageId(String(id))),
        ...(this.deps.holding() ? { ack: done } : {}),
      })
    }
  }

  #onRead(update: HistoryReadUpdate, ack: () => void, emit: Emit) {
    // Outbox: the contact read the account's messages. Positive ids are users (private chats).
    if (!update.isOutbox || update.chatId <= 0) return ack()
    const [done] = this.#acks(1, ack)
    const chatId = toRemoteChatId(String(update.chatId))
    emit({
      type: 'read',
      accountId: this.deps.accountId,
      chat: { accountId: this.deps.accountId, chatId },
      timestamp: new Date(),
      upTo: toRemoteMessageId(String(update.maxReadId)),
      reader: { userId: toRemoteUserId(String(update.chatId)), fromMe: false },
      ...(this.deps.holding() ? { ack: done } : {}),
    })
  }

  /** A `contact` event when the sender's name, username or phone differ from what was last reported. */
  #reportProfile(user: User, emit: Emit) {
    const contact = contactOf(user)
    const key = JSON.stringify(contact)
    if (this.#profiles.get(user.id) === key) return
    this.#profiles.set(user.id, key)
    emit({ type: 'contact', accountId: this.deps.accountId, contact, timestamp: new Date() })
  }
}
