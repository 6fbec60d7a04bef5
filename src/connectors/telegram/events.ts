/**
 * @module mtcute's parsed updates → the bridge's remote events. Private chats with people only: groups,
 * channels and bots are dropped here, at the source (data minimisation). Text with entities becomes
 * BB-codes; media become files streamed on demand; locations and contacts readable text with a link;
 * forwards a quote block in Bitrix24's own form (two lines of 54 dashes).
 */
import type { Message, MessageMedia, Peer } from '@mtcute/core'
import type { TelegramClient } from '@mtcute/core/client.js'
import type { AccountId } from '../../bridge/ids.ts'
import { toRemoteChatId, toRemoteFileRef, toRemoteMessageId, toRemoteUserId } from '../../bridge/ids.ts'
import type { RemoteFile, RemoteFileKind, RemoteMessageEvent } from '../../bridge/remote-event.ts'
import { entitiesToBbCode } from './format.ts'

const QUOTE_LINE = '-'.repeat(54)

/** A private chat with a person (not a bot, not the account's own "Saved messages"). */
export function isPersonChat(chat: Peer): boolean {
  return chat.type === 'user' && !chat.isBot && !chat.isSelf
}

export function bodyOf(message: Message): string {
  const parts: string[] = []
  const forward = message.forward
  if (forward) {
    const from = forward.sender
    const name = 'displayName' in from ? from.displayName : String(from)
    parts.push(`${QUOTE_LINE}\n${name}\n`)
  }
  const text = entitiesToBbCode(
    message.text,
    message.entities.map((e) => e.raw),
  )
  const extra = describeMedia(message.media)
  const main = [text, extra].filter(Boolean).join('\n')
  parts.push(main)
  if (forward) parts.push(`\n${QUOTE_LINE}`)
  return parts.join('')
}

/** Locations and contacts as text a person can read and follow. */
function describeMedia(media: MessageMedia): string {
  if (!media) return ''
  switch (media.type) {
    case 'location':
    case 'live_location':
    case 'venue': {
      const geo = 'location' in media ? media.location : media
      const { latitude, longitude } = geo as { latitude: number; longitude: number }
      const title = media.type === 'venue' ? `${media.title}, ${media.address}\n` : ''
      return `${title}📍 ${latitude}, ${longitude}\nhttps://www.openstreetmap.org/?mlat=${latitude}&mlon=${longitude}#map=17/${latitude}/${longitude}`
    }
    case 'contact': {
      const name = [media.firstName, media.lastName].filter(Boolean).join(' ')
      const phone = media.phoneNumber ? `+${media.phoneNumber.replace(/^\+/, '')}` : ''
      return `👤 ${name}${phone ? `, ${phone}\ntel:${phone}` : ''}`
    }
    default:
      return ''
  }
}

const KINDS: Partial<Record<NonNullable<MessageMedia>['type'], RemoteFileKind>> = {
  photo: 'photo',
  document: 'document',
  voice: 'voice',
  audio: 'audio',
  video: 'video',
  sticker: 'sticker',
}

const DEFAULT_NAMES: Record<RemoteFileKind, [string, string]> = {
  photo: ['photo.jpg', 'image/jpeg'],
  voice: ['voice.ogg', 'audio/ogg'],
  audio: ['audio.mp3', 'audio/mpeg'],
  video: ['video.mp4', 'video/mp4'],
  sticker: ['sticker.webp', 'image/webp'],
  document: ['file', 'application/octet-stream'],
}

export function filesOf(tg: TelegramClient, message: Message): RemoteFile[] {
  const media = message.media
  if (!media) return []
  const kind = KINDS[media.type]
  if (!kind) return []
  const file = media as unknown as {
    fileId: string
    fileName?: string | null
    mimeType?: string
    fileSize?: number
  }
  const [defaultName, defaultMime] = DEFAULT_NAMES[kind]
  const mimeType = file.mimeType || defaultMime
  const size = typeof file.fileSize === 'number' ? file.fileSize : undefined
  return [
    {
      ref: toRemoteFileRef(file.fileId),
      kind,
      name: file.fileName || defaultName,
      mimeType,
      ...(size === undefined ? {} : { size }),
      open: async (signal) => ({
        stream: tg.downloadAsStream(media as never, signal ? { abortSignal: signal } : {}),
        mimeType,
        ...(size === undefined ? {} : { size }),
      }),
    },
  ]
}

export function messageEvent(accountId: AccountId, tg: TelegramClient, message: Message): RemoteMessageEvent {
  const chatId = toRemoteChatId(String(message.chat.id))
  const text = bodyOf(message)
  const reply = message.replyToMessage?.id
  return {
    type: 'message',
    accountId,
    chat: { accountId, chatId },
    timestamp: message.date,
    messageId: toRemoteMessageId(String(message.id)),
    sender: { userId: toRemoteUserId(String(message.sender.id)), fromMe: message.isOutgoing },
    // Typed by the owner on another device: a private chat's peer is the person it is with.
    ...(message.isOutgoing ? { peer: toRemoteUserId(String(message.chat.id)) } : {}),
    ...(text ? { text } : {}),
    files: filesOf(tg, message),
    ...(reply ? { replyTo: toRemoteMessageId(String(reply)) } : {}),
  }
}
