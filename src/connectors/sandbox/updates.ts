/**
 * @module Update frames of the sandbox's live connection → normalised remote events. A chat is the account ↔
 * one customer, so the chat id is the customer's id and every non-`out` message is the customer's; an `out`
 * one in an update was typed by the account's owner on another device (the sandbox never echoes the
 * client's own sends).
 */
import {
  type AccountId,
  toRemoteChatId,
  toRemoteFileRef,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../bridge/ids.ts'
import type {
  FileStream,
  RemoteChatEvent,
  RemoteFile,
  RemoteFileKind,
  RemoteSender,
} from '../../bridge/remote-event.ts'
import type { SandboxFile, SandboxMessage } from './api.ts'

/** One frame as the sandbox sends it; only `seq`ed ones are updates. */
export interface UpdateFrame {
  type: string
  seq?: number
  date?: number
  message?: SandboxMessage
  from?: { id: number }
  chatId?: number
  ids?: number[]
  maxId?: number
}

export type OpenFile = (id: string, signal?: AbortSignal) => Promise<FileStream>

export function fileKind(mime: string): RemoteFileKind {
  if (mime.startsWith('image/')) return mime === 'image/webp' ? 'sticker' : 'photo'
  if (mime.startsWith('video/')) return 'video'
  if (mime === 'audio/ogg') return 'voice'
  if (mime.startsWith('audio/')) return 'audio'
  return 'document'
}

function remoteFile(file: SandboxFile, open: OpenFile): RemoteFile {
  return {
    ref: toRemoteFileRef(file.id),
    kind: fileKind(file.mime),
    name: file.name,
    mimeType: file.mime,
    size: file.size,
    open: (signal) => open(file.id, signal),
  }
}

function customer(chatId: number): RemoteSender {
  return { userId: toRemoteUserId(String(chatId)), fromMe: false }
}

function owner(accountId: AccountId): RemoteSender {
  return { userId: toRemoteUserId(`me:${accountId}`), fromMe: true }
}

/** The events of one update frame (none for kinds this client does not know). */
export function toRemoteEvents(accountId: AccountId, frame: UpdateFrame, open: OpenFile): RemoteChatEvent[] {
  const chatOf = (chatId: number) => ({ accountId, chatId: toRemoteChatId(String(chatId)) })
  const m = frame.message
  switch (frame.type) {
    case 'message.new': {
      if (!m) return []
      const sender = m.out ? owner(accountId) : customer(frame.from?.id ?? m.chatId)
      return [
        {
          type: 'message',
          accountId,
          chat: chatOf(m.chatId),
          timestamp: new Date(m.date),
          messageId: toRemoteMessageId(String(m.id)),
          sender,
          // The owner's message: the chat's person is the customer the chat is with.
          ...(m.out ? { peer: toRemoteUserId(String(m.chatId)) } : {}),
          ...(m.text === '' ? {} : { text: m.text }),
          files: m.file ? [remoteFile(m.file, open)] : [],
          ...(m.replyTo === undefined ? {} : { replyTo: toRemoteMessageId(String(m.replyTo)) }),
        },
      ]
    }
    case 'message.edit':
      if (!m) return []
      return [
        {
          type: 'edit',
          accountId,
          chat: chatOf(m.chatId),
          timestamp: new Date(m.editDate ?? frame.date ?? m.date),
          messageId: toRemoteMessageId(String(m.id)),
          sender: m.out ? owner(accountId) : customer(m.chatId),
          text: m.text,
        },
      ]
    case 'message.delete':
      if (frame.chatId === undefined || !frame.ids?.length) return []
      return [
        {
          type: 'delete',
          accountId,
          chat: chatOf(frame.chatId),
          timestamp: new Date(frame.date ?? Date.now()),
          messageIds: frame.ids.map((id) => toRemoteMessageId(String(id))),
        },
      ]
    case 'read.outbox':
      if (frame.chatId === undefined || frame.maxId === undefined) return []
      return [
        {
          type: 'read',
          accountId,
          chat: chatOf(frame.chatId),
          timestamp: new Date(frame.date ?? Date.now()),
          upTo: toRemoteMessageId(String(frame.maxId)),
          reader: customer(frame.chatId),
        },
      ]
    default:
      return []
  }
}
