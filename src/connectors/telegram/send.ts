/**
 * @module Sending an operator's message with stable `random_id`s: the raw `messages.sendMessage` /
 * `messages.sendMedia` calls, because mtcute's `sendText` picks a random id of its own (reference §4). Each
 * part gets `random_id = first 8 bytes of sha256(clientMessageId:part)`, so a resend after a crash is
 * refused by Telegram as `RANDOM_ID_DUPLICATE` instead of shown twice; the id of the message that did go
 * out is then read back from the chat's recent history. Texts are split at 4096 characters (at most
 * `MAX_TEXT_PARTS` messages); a text that fits a caption (1024) rides on the first file, a longer one goes
 * first as messages of its own. The pts each answer carries is handed to the updates manager, so our own
 * messages never come back as new ones.
 */
import { createHash } from 'node:crypto'
import { Long, type TextWithEntities, tl } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import type { OutgoingFile, OutgoingMessage, SentMessage } from '../../bridge/client.ts'
import { PermanentSendError } from '../../bridge/errors.ts'
import { type RemoteChatId, type RemoteMessageId, toRemoteMessageId } from '../../bridge/ids.ts'
import { parseOperatorHtml, splitText } from './format.ts'

/** Telegram's limit per message (non-Premium), and per media caption. */
export const TEXT_PART_LENGTH = 4096
const CAPTION_LENGTH = 1024
/** A text longer than this many parts is refused rather than sent as a flood of messages. */
export const MAX_TEXT_PARTS = 10
export const MAX_TEXT_LENGTH = TEXT_PART_LENGTH * MAX_TEXT_PARTS
/** A send whose answer does not come by then counts as lost (the random_id makes the retry safe). */
const CALL_TIMEOUT_MS = 60_000

export function randomIdOf(clientMessageId: string, part: number): Long {
  const digest = createHash('sha256').update(`${clientMessageId}:${part}`).digest()
  return Long.fromBytesBE([...digest.subarray(0, 8)])
}

interface Part {
  text: TextWithEntities
  file?: OutgoingFile
}

export async function sendMessage(
  tg: TelegramClient,
  message: OutgoingMessage,
  { maxFileSize }: { maxFileSize: number },
): Promise<SentMessage> {
  const formatted = message.text ? parseOperatorHtml(message.text) : undefined
  if (formatted && formatted.text.length > MAX_TEXT_LENGTH) {
    throw new PermanentSendError('MESSAGE_TOO_LONG', `longer than ${MAX_TEXT_LENGTH} characters`)
  }
  for (const file of message.files ?? []) {
    if (file.size !== undefined && file.size > maxFileSize) {
      throw new PermanentSendError(
        'FILE_TOO_LARGE',
        `${file.name} is ${file.size} bytes; Telegram takes at most ${maxFileSize}`,
      )
    }
  }
  const parts = partsOf(formatted?.text ? formatted : undefined, message.files ?? [])
  if (parts.length === 0) throw new PermanentSendError('MESSAGE_EMPTY', 'nothing to send')
  const peer = await tg.resolvePeer(userIdOf(message.chatId))
  const ids: RemoteMessageId[] = []
  let date = new Date()
  for (const [i, part] of parts.entries()) {
    const randomId = randomIdOf(message.clientMessageId, i)
    const id = await sendPart(tg, peer, part, randomId, message)
    ids.push(toRemoteMessageId(String(id.id)))
    if (i === 0) date = new Date(id.date * 1000)
  }
  return { messageIds: ids, timestamp: date }
}

/** Private chats with people: the chat id is the user's id. */
export function userIdOf(chatId: RemoteChatId): number {
  if (!/^[1-9]\d{0,15}$/.test(chatId))
    throw new PermanentSendError('PEER_ID_INVALID', `not a user chat: ${chatId}`)
  return Number(chatId)
}

/** The messages one operator message becomes, in order; the same input always gives the same parts. */
function partsOf(text: TextWithEntities | undefined, files: OutgoingFile[]): Part[] {
  const empty: TextWithEntities = { text: '' }
  if (files.length === 0) return text ? splitText(text, TEXT_PART_LENGTH).map((t) => ({ text: t })) : []
  if (!text || text.text.length <= CAPTION_LENGTH) {
    return files.map((file, i) => ({ file, text: i === 0 && text ? text : empty }))
  }
  return [
    ...splitText(text, TEXT_PART_LENGTH).map((t) => ({ text: t })),
    ...files.map((file) => ({ file, text: empty })),
  ]
}

async function sendPart(
  tg: TelegramClient,
  peer: tl.TypeInputPeer,
  part: Part,
  randomId: Long,
  message: OutgoingMessage,
): Promise<{ id: number; date: number }> {
  const replyTo: tl.TypeInputReplyTo | undefined = message.replyTo
    ? { _: 'inputReplyToMessage', replyToMsgId: Number(message.replyTo) }
    : undefined
  const common = {
    peer,
    randomId,
    message: part.text.text,
    ...(part.text.entities?.length ? { entities: part.text.entities as tl.TypeMessageEntity[] } : {}),
    ...(replyTo ? { replyTo } : {}),
  }
  const options = { timeout: CALL_TIMEOUT_MS, ...(message.signal ? { abortSignal: message.signal } : {}) }
  try {
    const result = part.file
      ? await tg.call(
          { _: 'messages.sendMedia', ...common, media: await uploadMedia(tg, part.file, message.signal) },
          options,
        )
      : await tg.call({ _: 'messages.sendMessage', ...common }, options)
    return idOf(tg, result, randomId)
  } catch (error) {
    if (tl.RpcError.is(error, 'RANDOM_ID_DUPLICATE')) return findSent(tg, peer, part.text.text, !!part.file)
    throw error
  }
}

function idOf(tg: TelegramClient, result: tl.TypeUpdates, randomId: Long): { id: number; date: number } {
  if (result._ === 'updateShortSentMessage') {
    // Only the pts it used: handed to the updates manager as mtcute's own sendText does, so no gap is seen
    // and the message is not fetched back as a new one.
    tg.handleClientUpdate(ptsOnly(result.pts, result.ptsCount), true)
    return { id: result.id, date: result.date }
  }
  // The updates manager keeps pts in step; our own message is not dispatched back to us.
  tg.handleClientUpdate(result, true)
  if (result._ === 'updates' || result._ === 'updatesCombined') {
    const mapped = result.updates.find((u) => u._ === 'updateMessageID' && u.randomId.equals(randomId))
    if (mapped?._ === 'updateMessageID') {
      const full = result.updates.find(
        (u) =>
          (u._ === 'updateNewMessage' || u._ === 'updateNewScheduledMessage') && u.message.id === mapped.id,
      )
      const sent = full && 'message' in full ? (full.message as tl.TypeMessage) : undefined
      const date = sent?._ === 'message' ? sent.date : result.date
      return { id: mapped.id, date }
    }
  }
  throw new Error(`telegram send: no message id in ${result._}`)
}

/** mtcute's marker for "pts moved by an answer" (its `createDummyUpdate`, not exported in 0.27). */
function ptsOnly(pts: number, ptsCount: number): tl.TypeUpdates {
  return {
    _: 'updates',
    seq: 0,
    date: 0,
    chats: [],
    users: [],
    updates: [{ _: 'mtcute.dummyUpdate', channelId: 0, pts, ptsCount } as unknown as tl.TypeUpdate],
  }
}

/** The message a repeated `random_id` already created: the newest outgoing one with this text. */
async function findSent(tg: TelegramClient, peer: tl.TypeInputPeer, text: string, withMedia: boolean) {
  const history = await tg.call({
    _: 'messages.getHistory',
    peer,
    offsetId: 0,
    offsetDate: 0,
    addOffset: 0,
    limit: 50,
    maxId: 0,
    minId: 0,
    hash: Long.ZERO,
  })
  const messages = 'messages' in history ? history.messages : []
  const sent = messages.find(
    (m) => m._ === 'message' && m.out && m.message === text && Boolean(m.media) === withMedia,
  )
  if (sent?._ !== 'message')
    throw new PermanentSendError('RANDOM_ID_DUPLICATE', 'sent before, but not found in the chat')
  return { id: sent.id, date: sent.date }
}

const PHOTO_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp'])
const PHOTO_MAX = 10 * 1024 * 1024

/** Uploads the body (streamed) and picks the media type Telegram shows it as. */
async function uploadMedia(
  tg: TelegramClient,
  file: OutgoingFile,
  signal?: AbortSignal,
): Promise<tl.TypeInputMedia> {
  const uploaded = await tg.uploadFile({
    file: await file.open(signal),
    fileName: file.name,
    fileMime: file.mimeType,
    ...(file.size === undefined ? {} : { fileSize: file.size }),
    ...(signal ? { abortSignal: signal } : {}),
  })
  if (PHOTO_TYPES.has(file.mimeType) && (file.size ?? 0) <= PHOTO_MAX) {
    return { _: 'inputMediaUploadedPhoto', file: uploaded.inputFile }
  }
  const attributes: tl.TypeDocumentAttribute[] = [{ _: 'documentAttributeFilename', fileName: file.name }]
  if (file.mimeType.startsWith('audio/')) {
    const voice = file.mimeType === 'audio/ogg' && /\.(ogg|oga|opus)$/i.test(file.name)
    attributes.push({ _: 'documentAttributeAudio', voice, duration: 0 })
  } else if (file.mimeType.startsWith('video/')) {
    attributes.push({ _: 'documentAttributeVideo', supportsStreaming: true, duration: 0, w: 0, h: 0 })
  }
  return {
    _: 'inputMediaUploadedDocument',
    file: uploaded.inputFile,
    mimeType: file.mimeType || 'application/octet-stream',
    attributes,
  }
}
