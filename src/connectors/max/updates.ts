/**
 * @module MAX updates (reference §4.3–§4.5) → normalised remote events. A chat is one dialog of the bot
 * with one customer, keyed by the dialog's `chat_id` (§10); group chats and channels are not relayed.
 *
 * - `message_created` → `message` (markup → BB-codes, files, contact/location/share as text, reply link);
 * - `message_edited` → `edit`; `message_removed` → `delete` by `mid` (never `seq`, §2.6);
 * - `bot_started` → `contact` (a new customer; the deep-link payload is kept by the client);
 * - `bot_stopped`, `dialog_removed` → no event: the bridge has no "customer left" event (yet).
 */
import * as v from 'valibot'
import { type AccountId, toRemoteChatId, toRemoteMessageId, toRemoteUserId } from '../../bridge/ids.ts'
import type { RemoteChatEvent, RemoteContact, RemoteContactEvent } from '../../bridge/remote-event.ts'
import { type OpenRef, readAttachments } from './attachments.ts'
import { markupToBbCode } from './markup.ts'
import { HANDLED_UPDATE_TYPES, HandledUpdate, type Message, UpdateEnvelope, type User } from './schemas.ts'

export type ParsedUpdate =
  | { kind: 'handled'; update: HandledUpdate; key: string }
  /** A type this connector does not act on (acknowledged and counted, never an error: §4.2 unsubscribes). */
  | { kind: 'unknown'; type: string }
  /** Not an update, or a handled type in a shape we cannot read. */
  | { kind: 'malformed'; type: string; paths: string }

export function parseUpdate(raw: unknown): ParsedUpdate {
  const envelope = v.safeParse(UpdateEnvelope, raw)
  if (!envelope.success) return { kind: 'malformed', type: 'none', paths: pathsOf(envelope.issues) }
  const type = envelope.output.update_type
  if (!(HANDLED_UPDATE_TYPES as readonly string[]).includes(type)) return { kind: 'unknown', type }
  const parsed = v.safeParse(HandledUpdate, raw)
  if (!parsed.success) return { kind: 'malformed', type, paths: pathsOf(parsed.issues) }
  return { kind: 'handled', update: parsed.output, key: updateKey(parsed.output) }
}

/** Only where it failed, never the values (they may be personal data). */
function pathsOf(issues: readonly v.BaseIssue<unknown>[]): string {
  return [...new Set(issues.map((issue) => v.getDotPath(issue) ?? '(root)'))].join(', ')
}

/**
 * The identity of an update: a repeated delivery (§4.2) has the same key. Messages are keyed by `mid` and
 * type; an edit also by the update's time, since one message may be edited many times.
 */
export function updateKey(update: HandledUpdate): string {
  switch (update.update_type) {
    case 'message_created':
      return `message_created:${update.message.body.mid}`
    case 'message_edited':
      return `message_edited:${update.message.body.mid}:${update.timestamp}`
    case 'message_removed':
      return `message_removed:${update.message_id}`
    default:
      return `${update.update_type}:${update.chat_id}:${update.user.user_id}:${update.timestamp}`
  }
}

export interface MapContext {
  accountId: AccountId
  /** The bot's own user id: its messages are `fromMe`. */
  botUserId: number | undefined
  open: OpenRef
}

export interface MappedUpdate {
  events: (RemoteChatEvent | RemoteContactEvent)[]
  /** The dialog and its customer, when the update names them (the client records dialogs, §3.2). */
  dialog?: { chatId: number; user: User }
  /** A deep-link payload of `bot_started` (§5.6). */
  startPayload?: string
  /** Why parts were left out (metrics): attachment types, non-dialog chats, updates without an event. */
  skipped: string[]
}

export function toContact(user: User): RemoteContact {
  return {
    userId: toRemoteUserId(String(user.user_id)),
    ...(user.first_name || user.name ? { firstName: (user.first_name || user.name)! } : {}),
    ...(user.last_name ? { lastName: user.last_name } : {}),
    ...(user.username ? { username: user.username } : {}),
  }
}

export function mapUpdate(ctx: MapContext, update: HandledUpdate): MappedUpdate {
  const chatOf = (chatId: number) => ({ accountId: ctx.accountId, chatId: toRemoteChatId(String(chatId)) })
  switch (update.update_type) {
    case 'message_created':
    case 'message_edited': {
      const { message } = update
      const chatId = message.recipient.chat_id
      if (
        message.recipient.chat_type !== 'dialog' ||
        chatId === null ||
        chatId === undefined ||
        !message.sender
      ) {
        return { events: [], skipped: [`chat:${message.recipient.chat_type}`] }
      }
      const fromMe = message.sender.is_bot || message.sender.user_id === ctx.botUserId
      const sender = { userId: toRemoteUserId(String(message.sender.user_id)), fromMe }
      const dialog = fromMe ? undefined : { chatId, user: message.sender }
      const messageId = toRemoteMessageId(message.body.mid)
      if (update.update_type === 'message_edited') {
        const text = markupToBbCode(message.body.text ?? '', message.body.markup)
        const edit: RemoteChatEvent = {
          type: 'edit',
          accountId: ctx.accountId,
          chat: chatOf(chatId),
          timestamp: new Date(update.timestamp),
          messageId,
          sender,
          text,
        }
        return { events: [edit], ...(dialog ? { dialog } : {}), skipped: [] }
      }
      const content = messageContent(message, ctx.open)
      const replyTo = message.link?.type === 'reply' ? message.link.message.mid : undefined
      const event: RemoteChatEvent = {
        type: 'message',
        accountId: ctx.accountId,
        chat: chatOf(chatId),
        timestamp: new Date(message.timestamp),
        messageId,
        sender,
        ...(content.text ? { text: content.text } : {}),
        files: content.files,
        ...(replyTo ? { replyTo: toRemoteMessageId(replyTo) } : {}),
      }
      return { events: [event], ...(dialog ? { dialog } : {}), skipped: content.skipped }
    }
    case 'message_removed':
      return {
        events: [
          {
            type: 'delete',
            accountId: ctx.accountId,
            chat: chatOf(update.chat_id),
            timestamp: new Date(update.timestamp),
            messageIds: [toRemoteMessageId(update.message_id)],
          },
        ],
        skipped: [],
      }
    case 'bot_started':
      return {
        events: [
          {
            type: 'contact',
            accountId: ctx.accountId,
            contact: toContact(update.user),
            timestamp: new Date(update.timestamp),
          },
        ],
        dialog: { chatId: update.chat_id, user: update.user },
        ...(update.payload ? { startPayload: update.payload } : {}),
        skipped: [],
      }
    case 'bot_stopped':
    case 'dialog_removed':
      return { events: [], skipped: [`event:${update.update_type}`] }
  }
}

/** Text (markup as BB-codes, then a line per contact/location/share) and files of a message. */
function messageContent(message: Message, open: OpenRef) {
  let body: Pick<Message['body'], 'text' | 'markup' | 'attachments'> = message.body
  let prefix = ''
  // A pure forward carries its content in `link.message` (§4.4).
  const link = message.link
  if (link?.type === 'forward' && !body.text && !body.attachments?.length) {
    body = link.message
    prefix = 'Пересланное сообщение:\n'
  }
  const attachments = readAttachments(body.attachments, open)
  const text = [markupToBbCode(body.text ?? '', body.markup), ...attachments.lines]
    .filter((part) => part.trim() !== '')
    .join('\n')
  return {
    text: text ? `${prefix}${text}` : '',
    files: attachments.files,
    skipped: attachments.skipped.map((type) => `attachment:${type}`),
  }
}
