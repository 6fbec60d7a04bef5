/**
 * @module What MAX customers do, and the updates the bot gets for it (reference §4.3 shapes, Go fixtures):
 * `message_created` / `message_edited` carry the `Message`; `message_removed` carries `message_id`, `chat_id` and
 * the deleting `user_id`; `bot_started` (deep-link `payload`), `bot_stopped` and `dialog_removed` carry `chat_id`
 * and the `user`. Dialog updates carry `user_locale`.
 */
import { fromCustomer } from './attachments.ts'
import { messageJson, storeMessage } from './messages.ts'
import type { UserSendInput } from './testkit.ts'
import type { Dialog, StoredMessage } from './types.ts'
import { emitUpdate, KNOWN_UPDATE_TYPES } from './updates.ts'
import { userJson, userWithPhotoJson, type World } from './world.ts'

const LOCALE = 'ru'
// Reference §5.6: dev.max.ru and the schema field allow 512 characters; longer payloads are not passed on.
const PAYLOAD_MAX = 512

function dialogOf(world: World, token: string, userId: number): Dialog {
  const bot = world.bot(token)
  return world.dialog(bot, world.person(userId))
}

function ownMessage(world: World, token: string, userId: number, mid: string): StoredMessage {
  const m = world.messages.get(mid)
  const bot = world.bot(token)
  if (!m || m.fromBot || m.dialog.bot !== bot || m.dialog.user.userId !== userId) {
    throw new Error(`no message ${mid} of user ${userId} to this bot`)
  }
  if (m.deleted) throw new Error(`message ${mid} is deleted`)
  return m
}

export function userSends(world: World, token: string, userId: number, input: UserSendInput) {
  const dialog = dialogOf(world, token, userId)
  const attachments = fromCustomer(world, dialog.bot, dialog.user, input)
  if (!input.text && attachments.length === 0) throw new Error('a message needs text or an attachment')
  if (input.link && !world.messages.get(input.link.mid))
    throw new Error(`no message ${input.link.mid} to link`)
  // Writing again re-opens a dialog the user had stopped (what a MAX client does is not documented).
  dialog.status = 'active'
  dialog.user.lastActivityTime = Date.now()
  const message = storeMessage(world, dialog, {
    fromBot: false,
    text: input.text ?? '',
    attachments,
    link: input.link ?? null,
  })
  emitUpdate(world, dialog.bot, {
    update_type: 'message_created',
    timestamp: message.sentAt,
    message: messageJson(world, message),
    user_locale: LOCALE,
  })
  return { mid: message.mid, chatId: dialog.chatId }
}

export function userEdits(world: World, token: string, userId: number, mid: string, text: string): void {
  const m = ownMessage(world, token, userId, mid)
  m.text = text
  m.edited = true
  m.editedAt = Date.now()
  emitUpdate(world, m.dialog.bot, {
    update_type: 'message_edited',
    timestamp: m.editedAt,
    message: messageJson(world, m),
  })
}

export function userDeletes(world: World, token: string, userId: number, mid: string): void {
  const m = ownMessage(world, token, userId, mid)
  m.deleted = true
  emitUpdate(world, m.dialog.bot, {
    update_type: 'message_removed',
    timestamp: Date.now(),
    message_id: m.mid,
    chat_id: m.dialog.chatId,
    user_id: userId,
  })
}

export function userStartsBot(world: World, token: string, userId: number, payload?: string) {
  const dialog = dialogOf(world, token, userId)
  dialog.status = 'active'
  dialog.lastEventTime = Date.now()
  const update: Record<string, unknown> = {
    update_type: 'bot_started',
    timestamp: dialog.lastEventTime,
    chat_id: dialog.chatId,
    user: userWithPhotoJson(world, dialog.user),
    user_locale: LOCALE,
  }
  if (payload !== undefined && payload.length <= PAYLOAD_MAX) update.payload = payload
  emitUpdate(world, dialog.bot, update)
  return { chatId: dialog.chatId }
}

function existingDialog(world: World, token: string, userId: number): Dialog {
  const dialog = world.bot(token).dialogsByUser.get(userId)
  if (!dialog) throw new Error(`user ${userId} has no dialog with this bot`)
  return dialog
}

export function userStopsBot(world: World, token: string, userId: number): void {
  const dialog = existingDialog(world, token, userId)
  dialog.status = 'suspended'
  dialog.lastEventTime = Date.now()
  emitUpdate(world, dialog.bot, {
    update_type: 'bot_stopped',
    timestamp: dialog.lastEventTime,
    chat_id: dialog.chatId,
    user: userWithPhotoJson(world, dialog.user),
    user_locale: LOCALE,
  })
}

export function userRemovesDialog(world: World, token: string, userId: number): void {
  const dialog = existingDialog(world, token, userId)
  dialog.lastEventTime = Date.now()
  emitUpdate(world, dialog.bot, {
    update_type: 'dialog_removed',
    timestamp: dialog.lastEventTime,
    chat_id: dialog.chatId,
    user: userWithPhotoJson(world, dialog.user),
    user_locale: LOCALE,
  })
}

/** The user presses a `callback` button of a bot message (reference §4.3 `message_callback`). */
export function userPressesButton(world: World, token: string, userId: number, mid: string, payload: string) {
  const m = world.messages.get(mid)
  const bot = world.bot(token)
  if (!m?.fromBot || m.dialog.bot !== bot || m.dialog.user.userId !== userId || m.deleted) {
    throw new Error(`no bot message ${mid} in the dialog with user ${userId}`)
  }
  const callbackId = world.newToken()
  world.callbacks.set(callbackId, { message: m, user: m.dialog.user, answered: [] })
  emitUpdate(world, bot, {
    update_type: 'message_callback',
    timestamp: Date.now(),
    callback: { timestamp: Date.now(), callback_id: callbackId, payload, user: userJson(m.dialog.user) },
    message: messageJson(world, m),
    user_locale: LOCALE,
  })
  return { callbackId }
}

/** Any update as given, known type or not; `timestamp` is added when missing. */
export function injectUpdate(world: World, token: string, update: Record<string, unknown>): void {
  const bot = world.bot(token)
  if (!KNOWN_UPDATE_TYPES.has(String(update.update_type))) world.stats.add('unknown_updates_injected')
  emitUpdate(world, bot, structuredClone(update))
}
