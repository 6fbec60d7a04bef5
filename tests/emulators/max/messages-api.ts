/**
 * @module Messages of the bot (reference §5): `POST /messages?chat_id=|user_id=` (text ≤ 4000, `format`, `notify`,
 * `link`, attachments by upload token), `PUT /messages?message_id=` (own messages; `attachments: null` keeps them,
 * `[]` removes them; 7-day window in dialogs unless the message has a keyboard), `DELETE /messages?message_id=`,
 * `GET /messages` (newest first) and `GET /messages/{mid}`, `GET /videos/{token}`, `POST /answers?callback_id=`.
 */
import * as v from 'valibot'
import { AttachmentRequest, attachmentKey, fromBotRequests } from './attachments.ts'
import { botDialog } from './chats-api.ts'
import { intQuery, listQuery, readBody } from './http.ts'
import { badPayload, chatDenied, json, methodNotAllowed, notFound } from './json.ts'
import { messageJson, storeMessage } from './messages.ts'
import type { Bot, Dialog, StoredMessage } from './types.ts'
import type { World } from './world.ts'

export const TEXT_MAX = 4000

/** `NewMessageBody` (reference §5.1). */
const NewMessageBody = v.object({
  text: v.optional(v.nullable(v.pipe(v.string(), v.maxLength(TEXT_MAX, `text is longer than ${TEXT_MAX}`)))),
  attachments: v.optional(v.nullable(v.array(AttachmentRequest))),
  link: v.optional(
    v.nullable(v.object({ type: v.picklist(['reply', 'forward']), mid: v.pipe(v.string(), v.minLength(1)) })),
  ),
  notify: v.optional(v.boolean()),
  format: v.optional(v.nullable(v.picklist(['markdown', 'html']))),
})
type NewMessageBody = v.InferOutput<typeof NewMessageBody>

const CallbackAnswer = v.object({
  message: v.optional(v.nullable(NewMessageBody)),
  notification: v.optional(v.nullable(v.string())),
})

export async function handleMessages(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  switch (req.method) {
    case 'POST':
      return send(world, bot, req, url)
    case 'PUT':
      return edit(world, bot, req, url)
    case 'DELETE':
      return remove(world, bot, url)
    case 'GET':
      return list(world, bot, url)
    default:
      throw methodNotAllowed(`${req.method} is not allowed here`)
  }
}

function targetDialog(world: World, bot: Bot, url: URL): Dialog {
  const chatId = intQuery(url, 'chat_id')
  const userId = intQuery(url, 'user_id')
  if (chatId !== undefined) return botDialog(world, bot, chatId)
  if (userId !== undefined) {
    // A user who never opened the dialog cannot be written to (reference §13.6: "probably refused").
    const dialog = bot.dialogsByUser.get(userId)
    if (!dialog) throw chatDenied(`Invalid userId: ${userId}`)
    return dialog
  }
  throw badPayload('chat_id or user_id is required')
}

function checkLink(world: World, dialog: Dialog, link: NewMessageBody['link']): StoredMessage['link'] {
  if (!link) return null
  const target = world.messages.get(link.mid)
  if (!target || target.deleted || target.dialog.bot !== dialog.bot)
    throw badPayload(`link.mid: unknown message ${link.mid}`)
  if (link.type === 'reply' && target.dialog !== dialog)
    throw badPayload('link.mid: a reply must quote a message of the same chat')
  return { type: link.type, mid: link.mid }
}

async function send(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  const dialog = targetDialog(world, bot, url)
  const body = await readBody(req, NewMessageBody)
  // §3.3 / §2.5: the user stopped the bot → the dialog is suspended and sends are denied.
  if (dialog.status === 'suspended') throw chatDenied('The user has stopped the bot')
  const requests = body.attachments ?? []
  if (!body.text && requests.length === 0) throw badPayload('A message needs text or attachments')
  const link = checkLink(world, dialog, body.link)
  const attachments = fromBotRequests(world, requests)
  const message = storeMessage(world, dialog, {
    fromBot: true,
    text: body.text ?? null,
    format: body.format ?? null,
    attachments,
    link,
    notify: body.notify ?? true,
  })
  world.stats.botMessage(dialog.chatId, message.text ?? '', attachments.map(attachmentKey))
  return json(200, { message: messageJson(world, message) })
}

function ownMessage(world: World, bot: Bot, mid: string | null): StoredMessage {
  if (!mid) throw badPayload('message_id is required')
  const m = world.messages.get(mid)
  if (!m || m.deleted || m.dialog.bot !== bot) throw notFound(`Message ${mid} not found`)
  if (!m.fromBot) throw chatDenied('A bot can change only its own messages')
  return m
}

function applyEdit(world: World, m: StoredMessage, body: NewMessageBody): void {
  const attachments =
    body.attachments === null || body.attachments === undefined
      ? null
      : fromBotRequests(world, body.attachments)
  if (body.text !== undefined) m.text = body.text
  if (body.format !== undefined) m.format = body.format
  if (attachments) m.attachments = attachments
  m.edited = true
  m.editedAt = Date.now()
  world.stats.add('messages_edited_by_bots')
}

async function edit(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  const m = ownMessage(world, bot, url.searchParams.get('message_id'))
  const body = await readBody(req, NewMessageBody)
  const keyboard = m.attachments.some((a) => a.type === 'inline_keyboard')
  if (!keyboard && Date.now() - m.sentAt > world.settings.editWindowMs) {
    return json(200, { success: false, message: 'Message is too old to edit' })
  }
  applyEdit(world, m, body)
  return json(200, { success: true })
}

function remove(world: World, bot: Bot, url: URL): Response {
  const m = ownMessage(world, bot, url.searchParams.get('message_id'))
  m.deleted = true
  world.stats.add('messages_deleted_by_bots')
  return json(200, { success: true })
}

function list(world: World, bot: Bot, url: URL): Response {
  const ids = listQuery(url, 'message_ids')
  if (ids) {
    const found = ids
      .map((id) => world.messages.get(id))
      .filter((m): m is StoredMessage => !!m && !m.deleted && m.dialog.bot === bot)
    return json(200, { messages: found.map((m) => messageJson(world, m)) })
  }
  const chatId = intQuery(url, 'chat_id')
  if (chatId === undefined) throw badPayload('chat_id or message_ids is required')
  const dialog = botDialog(world, bot, chatId)
  const count = intQuery(url, 'count', { min: 1, max: 100 }) ?? 50
  const before = intQuery(url, 'before', { min: 0, max: Number.MAX_SAFE_INTEGER })
  const after = intQuery(url, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER })
  const page = dialog.messages
    .filter(
      (m) =>
        !m.deleted &&
        (before === undefined || m.sentAt < before) &&
        (after === undefined || m.sentAt > after),
    )
    .reverse()
    .slice(0, count)
  return json(200, { messages: page.map((m) => messageJson(world, m)) })
}

export function handleMessage(world: World, bot: Bot, mid: string): Response {
  const m = world.messages.get(mid)
  if (!m || m.deleted || m.dialog.bot !== bot) throw notFound(`Message ${mid} not found`)
  return json(200, messageJson(world, m))
}

export function handleVideo(world: World, token: string): Response {
  const media = world.media.get(token)
  if (media?.type !== 'video') throw notFound(`Video ${token} not found`)
  return json(200, {
    token,
    urls: { mp4_720: media.file.url },
    thumbnail: null,
    width: null,
    height: null,
    duration: null,
  })
}

export async function handleAnswers(world: World, bot: Bot, req: Request, url: URL): Promise<Response> {
  const id = url.searchParams.get('callback_id')
  if (!id || id.trim() === '') throw badPayload('callback_id is required')
  const callback = world.callbacks.get(id)
  if (!callback || callback.message.dialog.bot !== bot) throw notFound(`Callback ${id} not found`)
  const body = await readBody(req, CallbackAnswer)
  if (!body.message && !body.notification) throw badPayload('Either message or notification is required')
  if (body.message) applyEdit(world, callback.message, body.message)
  callback.answered.push(body)
  world.stats.add('callback_answers')
  return json(200, { success: true })
}
