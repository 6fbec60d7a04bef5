/**
 * @module Stored messages as MAX shows them: the `Message` object of reference §4.4 (sender, recipient with the
 * dialog `chat_id` and the other party's `user_id`, `body.mid`/`body.seq`, `link`).
 */
import type { Dialog, StoredAttachment, StoredMessage } from './types.ts'
import { userJson, type World } from './world.ts'

export function storeMessage(
  world: World,
  dialog: Dialog,
  input: {
    fromBot: boolean
    text: string | null
    format?: 'markdown' | 'html' | null
    attachments: StoredAttachment[]
    link?: StoredMessage['link']
    notify?: boolean
  },
): StoredMessage {
  const message: StoredMessage = {
    mid: world.newMid(),
    seq: world.newSeq(),
    dialog,
    fromBot: input.fromBot,
    sentAt: Date.now(),
    text: input.text,
    format: input.format ?? null,
    attachments: input.attachments,
    link: input.link ?? null,
    notify: input.notify ?? true,
    edited: false,
    editedAt: null,
    deleted: false,
  }
  dialog.messages.push(message)
  dialog.lastEventTime = message.sentAt
  world.messages.set(message.mid, message)
  return message
}

function bodyJson(m: StoredMessage): Record<string, unknown> {
  return {
    mid: m.mid,
    seq: m.seq,
    text: m.text,
    attachments: m.attachments.map((a) => a.shown),
    // Markup is left empty: the emulator keeps the text as sent and does not parse markdown/html (README.md).
    markup: [],
  }
}

export function messageJson(world: World, m: StoredMessage): Record<string, unknown> {
  const { dialog } = m
  const sender = m.fromBot ? dialog.bot.person : dialog.user
  const other = m.fromBot ? dialog.user : dialog.bot.person
  const linked = m.link ? world.messages.get(m.link.mid) : undefined
  return {
    sender: userJson(sender),
    recipient: { chat_id: dialog.chatId, chat_type: 'dialog', user_id: other.userId },
    timestamp: m.sentAt,
    link:
      m.link && linked
        ? {
            type: m.link.type,
            sender: userJson(linked.fromBot ? linked.dialog.bot.person : linked.dialog.user),
            chat_id: linked.dialog.chatId,
            message: bodyJson(linked),
          }
        : null,
    body: bodyJson(m),
    stat: null,
    url: null,
  }
}
