/**
 * The messaging half of the stub world (`telegram-stub-world.ts`), after the reference's §3 (updates), §4
 * (sending) and §5 (files) and Telegram's method rules: `messages.sendMessage` answers
 * `updateShortSentMessage`, `messages.sendMedia` an `updates` with `updateMessageID` + `updateNewMessage`; a
 * repeated `random_id` is refused with 500 `RANDOM_ID_DUPLICATE`; texts over 4096 characters with
 * `MESSAGE_TOO_LONG`; an edit to the same text with `MESSAGE_NOT_MODIFIED`; deletes and reads answer
 * `messages.affectedMessages` with the pts they used; uploads come in parts (`upload.saveFilePart`, big files
 * `upload.saveBigFilePart`) and downloads by offset (`upload.getFile`). Private chats, basic groups and
 * channels exist so tests can see that only the first reach the bridge.
 */
import { Long, type tl } from '@mtcute/core'
import {
  type Answer,
  rpcError,
  type Session,
  type TelegramStubWorld,
  type WorldAccount,
  type WorldMessage,
  type WorldUser,
} from './telegram-stub-world.ts'

export interface StoredFile {
  bytes: Uint8Array
  name: string
  mimeType: string
}

/** What a customer can send besides text. */
export type CustomerMedia =
  | { kind: 'photo'; bytes: Uint8Array }
  | { kind: 'document'; bytes: Uint8Array; name: string; mimeType: string }
  | { kind: 'voice'; bytes: Uint8Array; duration: number }
  | { kind: 'sticker'; bytes: Uint8Array; emoji: string }
  | { kind: 'location'; latitude: number; longitude: number }
  | { kind: 'contact'; phone: string; firstName: string; lastName?: string }

const MAX_TEXT = 4096
const now = () => Math.floor(Date.now() / 1000)
let nextFileId = 1

/** Registers the messaging methods for one session. */
export function attachChats(
  world: TelegramStubWorld,
  session: Session,
  answer: Answer,
  authed: () => WorldAccount,
) {
  const uploads = new Map<string, Uint8Array[]>()
  const peerUser = (peer: tl.TypeInputPeer): WorldUser => {
    const user = peer._ === 'inputPeerUser' ? world.users.get(peer.userId) : undefined
    if (!user || peer._ !== 'inputPeerUser' || !peer.accessHash.equals(user.accessHash)) {
      throw rpcError(400, 'PEER_ID_INVALID')
    }
    return user
  }
  const checkRandomId = (account: WorldAccount, randomId: Long) => {
    if (account.randomIds.has(randomId.toString())) throw rpcError(500, 'RANDOM_ID_DUPLICATE')
  }
  const outgoing = (account: WorldAccount, to: WorldUser, fields: Partial<WorldMessage>, randomId: Long) => {
    const message: WorldMessage = {
      id: account.nextMessageId++,
      peerId: to.id,
      out: true,
      text: '',
      date: now(),
      deleted: false,
      ...fields,
    }
    account.messages.set(message.id, message)
    account.randomIds.set(randomId.toString(), message.id)
    const update = {
      _: 'updateNewMessage' as const,
      message: tlMessage(account, message),
      pts: 0,
      ptsCount: 1,
    }
    world.publish(account, update, { users: [world.tlUser(to)] }, session)
    return { message, update }
  }

  answer('messages.sendMessage', (req) => {
    const account = authed()
    const to = peerUser(req.peer)
    if (req.message.length === 0) throw rpcError(400, 'MESSAGE_EMPTY')
    if (req.message.length > MAX_TEXT) throw rpcError(400, 'MESSAGE_TOO_LONG')
    checkRandomId(account, req.randomId)
    const { message, update } = outgoing(
      account,
      to,
      {
        text: req.message,
        ...(req.entities?.length ? { entities: req.entities } : {}),
        ...replyOf(req.replyTo),
      },
      req.randomId,
    )
    return {
      _: 'updateShortSentMessage',
      out: true,
      id: message.id,
      pts: update.pts,
      ptsCount: 1,
      date: message.date,
      ...(message.entities ? { entities: message.entities } : {}),
    }
  })

  answer('messages.sendMedia', (req) => {
    const account = authed()
    const to = peerUser(req.peer)
    if (req.message.length > 1024) throw rpcError(400, 'MEDIA_CAPTION_TOO_LONG')
    checkRandomId(account, req.randomId)
    const media = storeUploaded(world, uploads, req.media)
    const { message, update } = outgoing(
      account,
      to,
      {
        text: req.message,
        media,
        ...(req.entities?.length ? { entities: req.entities } : {}),
        ...replyOf(req.replyTo),
      },
      req.randomId,
    )
    return {
      _: 'updates',
      updates: [{ _: 'updateMessageID', id: message.id, randomId: req.randomId }, update],
      users: [world.tlUser(account.user, true), world.tlUser(to)],
      chats: [],
      date: message.date,
      seq: 0,
    }
  })

  answer('messages.editMessage', (req) => {
    const account = authed()
    const to = peerUser(req.peer)
    const message = account.messages.get(req.id)
    if (!message || message.deleted || message.peerId !== to.id) throw rpcError(400, 'MESSAGE_ID_INVALID')
    if (!message.out) throw rpcError(403, 'MESSAGE_AUTHOR_REQUIRED')
    const text = req.message ?? message.text
    const entities = req.entities ?? []
    if (text === message.text && sameEntities(entities, message.entities ?? [])) {
      throw rpcError(400, 'MESSAGE_NOT_MODIFIED')
    }
    message.text = text
    message.entities = entities
    message.editDate = now()
    const update = {
      _: 'updateEditMessage' as const,
      message: tlMessage(account, message),
      pts: 0,
      ptsCount: 1,
    }
    world.publish(account, update, { users: [world.tlUser(to)] }, session)
    return {
      _: 'updates',
      updates: [update],
      users: [world.tlUser(account.user, true), world.tlUser(to)],
      chats: [],
      date: now(),
      seq: 0,
    }
  })

  answer('messages.deleteMessages', (req) => {
    const account = authed()
    const ids = req.id.filter((id) => {
      const message = account.messages.get(id)
      return message && !message.deleted
    })
    for (const id of ids) account.messages.get(id)!.deleted = true
    if (ids.length === 0) return { _: 'messages.affectedMessages', pts: account.pts, ptsCount: 0 }
    const update = { _: 'updateDeleteMessages' as const, messages: ids, pts: 0, ptsCount: ids.length }
    world.publish(account, update, {}, session)
    return { _: 'messages.affectedMessages', pts: update.pts, ptsCount: ids.length }
  })

  answer('messages.readHistory', (req) => {
    const account = authed()
    const peer = peerUser(req.peer)
    const maxId = Math.max(account.readInbox.get(peer.id) ?? 0, req.maxId)
    account.readInbox.set(peer.id, maxId)
    const update = {
      _: 'updateReadHistoryInbox' as const,
      peer: { _: 'peerUser' as const, userId: peer.id },
      maxId,
      stillUnreadCount: 0,
      pts: 0,
      ptsCount: 1,
    }
    world.publish(account, update, { users: [world.tlUser(peer)] }, session)
    return { _: 'messages.affectedMessages', pts: update.pts, ptsCount: 1 }
  })

  answer('messages.setTyping', (req) => {
    authed()
    peerUser(req.peer)
    return true
  })

  answer('messages.getHistory', (req) => {
    const account = authed()
    const peer = peerUser(req.peer)
    const messages = [...account.messages.values()]
      .filter((m) => m.peerId === peer.id && m.chatId === undefined && !m.deleted)
      .sort((a, b) => b.id - a.id)
      .slice(0, req.limit || 100)
    return {
      _: 'messages.messages',
      messages: messages.map((m) => tlMessage(account, m)),
      chats: [],
      topics: [],
      users: [world.tlUser(peer), world.tlUser(account.user, true)],
    }
  })

  answer('messages.getDialogs', (req) => {
    const account = authed()
    const latest = new Map<number, WorldMessage>()
    for (const message of account.messages.values()) {
      if (message.deleted || message.chatId !== undefined) continue
      const seen = latest.get(message.peerId)
      if (!seen || seen.id < message.id) latest.set(message.peerId, message)
    }
    const top = [...latest.values()].sort((a, b) => b.id - a.id).slice(0, req.limit || 100)
    return {
      _: 'messages.dialogs',
      dialogs: top.map((m) => ({
        _: 'dialog',
        peer: { _: 'peerUser', userId: m.peerId },
        topMessage: m.id,
        readInboxMaxId: account.readInbox.get(m.peerId) ?? 0,
        readOutboxMaxId: 0,
        unreadCount: 0,
        unreadMentionsCount: 0,
        unreadReactionsCount: 0,
        notifySettings: { _: 'peerNotifySettings' },
      })),
      messages: top.map((m) => tlMessage(account, m)),
      chats: [],
      users: top.map((m) => world.tlUser(world.users.get(m.peerId)!)),
    }
  })

  answer('contacts.getContacts', () => {
    const account = authed()
    const ids = [...account.contacts]
    return {
      _: 'contacts.contacts',
      contacts: ids.map((userId) => ({ _: 'contact', userId, mutual: false })),
      savedCount: 0,
      users: ids.map((id) => world.tlUser(world.users.get(id)!)),
    }
  })

  answer('upload.saveFilePart', (req) => {
    authed()
    savePart(uploads, req.fileId, req.filePart, req.bytes)
    return true
  })
  answer('upload.saveBigFilePart', (req) => {
    authed()
    savePart(uploads, req.fileId, req.filePart, req.bytes)
    return true
  })

  answer('upload.getFile', (req) => {
    authed()
    const bytes = fileBytes(world, req.location)
    return {
      _: 'upload.file',
      type: { _: 'storage.fileUnknown' },
      mtime: 0,
      bytes: bytes.subarray(req.offset, req.offset + req.limit),
    }
  })
}

function replyOf(replyTo: tl.TypeInputReplyTo | undefined): Partial<WorldMessage> {
  return replyTo?._ === 'inputReplyToMessage' ? { replyToId: replyTo.replyToMsgId } : {}
}

function sameEntities(a: tl.TypeMessageEntity[], b: tl.TypeMessageEntity[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function savePart(uploads: Map<string, Uint8Array[]>, fileId: Long, part: number, bytes: Uint8Array) {
  const parts = uploads.get(fileId.toString()) ?? []
  parts[part] = bytes
  uploads.set(fileId.toString(), parts)
}

/** Assembles an uploaded file into the media Telegram stores for the message. */
function storeUploaded(
  world: TelegramStubWorld,
  uploads: Map<string, Uint8Array[]>,
  media: tl.TypeInputMedia,
): tl.TypeMessageMedia {
  if (media._ !== 'inputMediaUploadedPhoto' && media._ !== 'inputMediaUploadedDocument') {
    throw rpcError(400, 'MEDIA_INVALID')
  }
  const input = media.file
  if (input._ !== 'inputFile' && input._ !== 'inputFileBig') throw rpcError(400, 'MEDIA_INVALID')
  const parts = uploads.get(input.id.toString()) ?? []
  if (parts.length !== input.parts || parts.some((p) => p === undefined)) {
    throw rpcError(400, 'FILE_PARTS_INVALID')
  }
  uploads.delete(input.id.toString())
  const bytes = Buffer.concat(parts)
  if (media._ === 'inputMediaUploadedPhoto') {
    return { _: 'messageMediaPhoto', photo: storePhoto(world, bytes) }
  }
  const nameAttr = media.attributes.find((a) => a._ === 'documentAttributeFilename')
  const name = nameAttr?._ === 'documentAttributeFilename' ? nameAttr.fileName : input.name
  const voice = media.attributes.some((a) => a._ === 'documentAttributeAudio' && a.voice)
  return {
    _: 'messageMediaDocument',
    ...(voice ? { voice: true } : {}),
    document: storeDocument(world, bytes, name, media.mimeType, media.attributes),
  }
}

export function storePhoto(world: TelegramStubWorld, bytes: Uint8Array): tl.RawPhoto {
  const id = Long.fromNumber(nextFileId++)
  world.files.set(id.toString(), { bytes, name: 'photo.jpg', mimeType: 'image/jpeg' })
  return {
    _: 'photo',
    id,
    accessHash: Long.fromNumber(77),
    fileReference: new Uint8Array([1]),
    date: now(),
    sizes: [{ _: 'photoSize', type: 'x', w: 800, h: 600, size: bytes.length }],
    dcId: 2,
  }
}

export function storeDocument(
  world: TelegramStubWorld,
  bytes: Uint8Array,
  name: string,
  mimeType: string,
  attributes: tl.TypeDocumentAttribute[] = [],
): tl.RawDocument {
  const id = Long.fromNumber(nextFileId++)
  world.files.set(id.toString(), { bytes, name, mimeType })
  const hasName = attributes.some((a) => a._ === 'documentAttributeFilename')
  return {
    _: 'document',
    id,
    accessHash: Long.fromNumber(78),
    fileReference: new Uint8Array([1]),
    date: now(),
    mimeType,
    size: bytes.length,
    dcId: 2,
    attributes: hasName ? attributes : [{ _: 'documentAttributeFilename', fileName: name }, ...attributes],
  }
}

function fileBytes(world: TelegramStubWorld, location: tl.TypeInputFileLocation): Uint8Array {
  if (location._ === 'inputDocumentFileLocation' || location._ === 'inputPhotoFileLocation') {
    const file = world.files.get(location.id.toString())
    if (file) return file.bytes
  }
  if (location._ === 'inputPeerPhotoFileLocation' && location.peer._ === 'inputPeerUser') {
    const avatar = world.users.get(location.peer.userId)?.avatar
    if (avatar?.photoId.equals(location.photoId)) return avatar.bytes
  }
  throw rpcError(400, 'FILE_REFERENCE_INVALID')
}

/** The TL form of a stored message, as the account sees it. */
export function tlMessage(account: WorldAccount, message: WorldMessage): tl.RawMessage {
  const group = message.chatId !== undefined
  return {
    _: 'message',
    id: message.id,
    out: message.out,
    peerId: group ? { _: 'peerChat', chatId: message.chatId! } : { _: 'peerUser', userId: message.peerId },
    ...(message.out
      ? { fromId: { _: 'peerUser', userId: account.user.id } }
      : group
        ? { fromId: { _: 'peerUser', userId: message.peerId } }
        : {}),
    date: message.date,
    message: message.text,
    ...(message.entities?.length ? { entities: message.entities } : {}),
    ...(message.media ? { media: message.media } : {}),
    ...(message.editDate ? { editDate: message.editDate } : {}),
    ...(message.replyToId ? { replyTo: { _: 'messageReplyHeader', replyToMsgId: message.replyToId } } : {}),
    ...(message.forwardFrom
      ? {
          fwdFrom: {
            _: 'messageFwdHeader',
            fromId: { _: 'peerUser', userId: message.forwardFrom },
            date: message.date - 60,
          },
        }
      : {}),
  }
}

/** The TL media a customer's message carries (files stored in the world for download). */
export function customerMedia(world: TelegramStubWorld, media: CustomerMedia): tl.TypeMessageMedia {
  switch (media.kind) {
    case 'photo':
      return { _: 'messageMediaPhoto', photo: storePhoto(world, media.bytes) }
    case 'document':
      return {
        _: 'messageMediaDocument',
        document: storeDocument(world, media.bytes, media.name, media.mimeType),
      }
    case 'voice':
      return {
        _: 'messageMediaDocument',
        voice: true,
        document: storeDocument(world, media.bytes, 'voice.ogg', 'audio/ogg', [
          { _: 'documentAttributeAudio', voice: true, duration: media.duration },
        ]),
      }
    case 'sticker':
      return {
        _: 'messageMediaDocument',
        document: storeDocument(world, media.bytes, 'sticker.webp', 'image/webp', [
          { _: 'documentAttributeSticker', alt: media.emoji, stickerset: { _: 'inputStickerSetEmpty' } },
          { _: 'documentAttributeImageSize', w: 512, h: 512 },
        ]),
      }
    case 'location':
      return {
        _: 'messageMediaGeo',
        geo: { _: 'geoPoint', lat: media.latitude, long: media.longitude, accessHash: Long.ZERO },
      }
    case 'contact':
      return {
        _: 'messageMediaContact',
        phoneNumber: media.phone,
        firstName: media.firstName,
        lastName: media.lastName ?? '',
        vcard: '',
        userId: 0,
      }
  }
}
