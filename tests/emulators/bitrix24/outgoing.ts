/**
 * @module Payloads of the operator-side message events: ONIMCONNECTORMESSAGEADD (§6.4, with the operator
 * signature when NEED_SIGNATURE), ...UPDATE (§6.5, `message.id` = the array stored by the delivery status)
 * and ...DELETE (§6.6, one element per external id).
 */
import type { Emulator } from './context.ts'
import { emitEvent } from './events.ts'
import type { Portal } from './state.ts'
import type { DeliveryRecord } from './stats.ts'
import type { ImMessage, OlChat } from './types.ts'

export function operatorName(portal: Portal, userId: number): string {
  const u = portal.users.get(userId)
  return u ? `${u.name} ${u.lastName}`.trim() : `User ${userId}`
}

function signed(portal: Portal, chat: OlChat, message: ImMessage): boolean {
  const connector = portal.connectors.get(chat.connector)
  return !!connector?.flags.NEED_SIGNATURE && message.authorId > 0 && !message.system
}

/** §6.4: `[b]Name:[/b] ` + (`[br]` + text when there is text). */
export function addText(portal: Portal, chat: OlChat, message: ImMessage): string {
  if (!signed(portal, chat, message)) return message.text
  const body = message.text !== '' ? `[br]${message.text}` : ''
  return `[b]${operatorName(portal, message.authorId)}:[/b] ${body}`
}

/** §6.4: Update events use `:[/b]` + `[br] ` + text. */
export function updateText(portal: Portal, chat: OlChat, message: ImMessage): string {
  if (!signed(portal, chat, message)) return message.text
  return `[b]${operatorName(portal, message.authorId)}:[/b][br] ${message.text}`
}

function ids(chat: OlChat, message: ImMessage) {
  return { chat_id: String(chat.id), message_id: String(message.id) }
}

export function emitMessageAdd(
  emu: Emulator,
  portal: Portal,
  chat: OlChat,
  message: ImMessage,
  triggerUserId: number | null,
): Promise<DeliveryRecord[]> {
  const owner = portal.connectors.get(chat.connector)?.clientId
  if (!owner) return Promise.resolve([])
  message.sending = true // §5.11: the spinner until a delivery status arrives
  const data = {
    CONNECTOR: chat.connector,
    LINE: String(chat.line),
    MESSAGES: [
      {
        im: ids(chat, message),
        // §6.4: no `user` block; empty files/attachments/params vanish in the form encoding.
        message: {
          user_id: String(message.authorId),
          text: addText(portal, chat, message),
          files: message.files,
          attachments: [],
          params: {},
        },
        chat: { id: chat.externalChatId },
      },
    ],
  }
  return emitEvent(emu, portal, { event: 'ONIMCONNECTORMESSAGEADD', data, clientId: owner, triggerUserId })
}

export function emitMessageUpdate(
  emu: Emulator,
  portal: Portal,
  chat: OlChat,
  message: ImMessage,
  triggerUserId: number | null,
): Promise<DeliveryRecord[]> {
  const owner = portal.connectors.get(chat.connector)?.clientId
  if (!owner) return Promise.resolve([])
  const data = {
    CONNECTOR: chat.connector,
    LINE: String(chat.line),
    MESSAGES: [
      {
        im: ids(chat, message),
        message: { id: message.connectorMid ?? [], text: updateText(portal, chat, message) },
        chat: { id: chat.externalChatId },
      },
    ],
  }
  return emitEvent(emu, portal, { event: 'ONIMCONNECTORMESSAGEUPDATE', data, clientId: owner, triggerUserId })
}

export function emitMessageDelete(
  emu: Emulator,
  portal: Portal,
  chat: OlChat,
  message: ImMessage,
  triggerUserId: number | null,
): Promise<DeliveryRecord[]> {
  const owner = portal.connectors.get(chat.connector)?.clientId
  if (!owner) return Promise.resolve([])
  const data = {
    CONNECTOR: chat.connector,
    LINE: String(chat.line),
    MESSAGES: (message.connectorMid ?? []).map((mid) => ({
      im: ids(chat, message),
      message: { id: mid },
      chat: { id: chat.externalChatId },
    })),
  }
  return emitEvent(emu, portal, { event: 'ONIMCONNECTORMESSAGEDELETE', data, clientId: owner, triggerUserId })
}
