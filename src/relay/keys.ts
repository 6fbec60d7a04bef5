/**
 * @module The names the relay gives things: idempotency keys of deliveries, object keys of stored files and
 * the client-side ids of outgoing messages. Every one is derived from stable inputs, so a retry or a repeat
 * after a crash produces the same name and hits the same unique key.
 */
import { createHash, randomUUID } from 'node:crypto'
import { type ClientMessageId, toClientMessageId } from '../bridge/ids.ts'

/**
 * A customer's message. The chat is part of the key: a remote message id is only unique within its chat
 * (Telegram channels, groups), and a collision here would silently drop a message.
 */
export function inboundMessageKey(accountId: string, remoteChatId: string, messageId: string): string {
  return `in:${accountId}:${remoteChatId}:${messageId}`
}

/** A customer's edit; the edit time tells two edits of one message apart, a repeated event is one key. */
export function inboundEditKey(accountId: string, remoteChatId: string, messageId: string, at: Date) {
  return `${inboundMessageKey(accountId, remoteChatId, messageId)}:edit:${at.getTime()}`
}

export function inboundDeleteKey(accountId: string, remoteChatId: string, messageId: string): string {
  return `${inboundMessageKey(accountId, remoteChatId, messageId)}:delete`
}

/** The customer read operator messages up to `upTo` (a messenger id). */
export function readKey(accountId: string, remoteChatId: string, upTo: string): string {
  return `read:${accountId}:${remoteChatId}:${upTo}`
}

/** The delivery status that follows a sent operator message: one per `to_messenger` delivery. */
export function statusKey(deliveryKey: string): string {
  return `status:${deliveryKey}`
}

/**
 * The delivery status answering the portal's echo of an account owner's own message (`echo-guard.ts`): one
 * per echo, named by the portal's IM message id.
 */
export function echoStatusKey(accountId: string, echoId: string): string {
  return `status:echo:${accountId}:${echoId}`
}

/** Where an incoming file is kept until the portal fetched it (prefix per portal and account: D2, D4). */
export function inboundObjectKey(portalId: string, accountId: string, id: string = randomUUID()): string {
  return `p/${portalId}/a/${accountId}/in/${id}`
}

/**
 * The client-side id of an operator message: a hash of its delivery's idempotency key, so every attempt —
 * also after a crash between send and commit — carries the same id and the messenger drops the repeat.
 * Hex only: connectors map it onto what their messenger takes (Telegram's int64 `random_id`).
 */
export function clientMessageIdFor(deliveryKey: string): ClientMessageId {
  return toClientMessageId(createHash('sha256').update(deliveryKey).digest('hex').slice(0, 32))
}
