/**
 * @module Our payloads → the portal's `MESSAGES[]` items (reference/bitrix24.md §5.8–5.12). Keys inside
 * `MESSAGES` are lowercase (the portal lowercases them anyway). File and avatar URLs are minted here, at
 * send time, so a delivery that waited in the queue still carries a live link.
 */

import type { FileStore } from '../../../storage/files/file-store.ts'
import type { DeliveryKind } from '../../../storage/repos/deliveries.ts'
import type {
  DeletePayload,
  EditPayload,
  MessagePayload,
  PayloadByKind,
  ReadPayload,
  StatusPayload,
} from './payloads.ts'

export type PortalItem = Record<string, unknown>

export const methodByKind: Record<DeliveryKind, string> = {
  message: 'imconnector.send.messages',
  edit: 'imconnector.update.messages',
  delete: 'imconnector.delete.messages',
  status: 'imconnector.send.status.delivery',
  read: 'imconnector.send.status.reading',
}

/** Only `send.messages` creates something on every call; the others set state and can be repeated. */
export function isIdempotent(kind: DeliveryKind): boolean {
  return kind !== 'message'
}

/** Mints each object key's URL once per call. */
export function urlMinter(files: FileStore, ttlSeconds: number): (key: string) => Promise<string> {
  const minted = new Map<string, Promise<string>>()
  return (key) => {
    let url = minted.get(key)
    if (!url) {
      url = files.signedUrl(key, ttlSeconds)
      minted.set(key, url)
    }
    return url
  }
}

/** Drops undefined members so the portal (and its user-block hash) sees only what we have. */
function compact(object: Record<string, unknown>): PortalItem {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined))
}

async function messageItem(payload: MessagePayload, mint: (key: string) => Promise<string>) {
  const { chat, user, message } = payload
  const picture = user.pictureKey === undefined ? undefined : { url: await mint(user.pictureKey) }
  const files =
    message.files && message.files.length > 0
      ? await Promise.all(
          message.files.map(async (file) =>
            compact({ url: await mint(file.objectKey), name: file.name, type: file.mime }),
          ),
        )
      : undefined
  return {
    user: compact({ id: user.id, name: user.name, last_name: user.lastName, picture }),
    message: compact({
      id: message.id,
      date: message.date,
      text: message.text,
      files,
      user_id: message.userId,
    }),
    chat: compact({ id: chat.id, name: chat.name, url: chat.url }),
  }
}

const editItem = ({ chat, user, message }: EditPayload): PortalItem => ({
  user: { id: user.id },
  message: { id: message.id, text: message.text },
  chat: { id: chat.id },
})

const deleteItem = ({ chat, user, message }: DeletePayload): PortalItem => ({
  user: { id: user.id },
  message: { id: message.id },
  chat: { id: chat.id },
})

const statusItem = ({ im, messageIds, chat, date }: StatusPayload): PortalItem => ({
  im: { chat_id: im.chatId, message_id: im.messageId },
  message: { id: messageIds, date },
  chat: { id: chat.id },
})

const readItem = ({ im, messageIds, chat }: ReadPayload): PortalItem =>
  compact({
    im: im && { chat_id: im.chatId, message_id: im.messageId },
    message: { id: messageIds },
    chat: { id: chat.id },
  })

/** One `MESSAGES[]` element. Throws only when minting a URL fails (a bad object key). */
export async function portalItem<K extends DeliveryKind>(
  kind: K,
  payload: PayloadByKind[K],
  mint: (key: string) => Promise<string>,
): Promise<PortalItem> {
  switch (kind) {
    case 'message':
      return messageItem(payload as MessagePayload, mint)
    case 'edit':
      return editItem(payload as EditPayload)
    case 'delete':
      return deleteItem(payload as DeletePayload)
    case 'status':
      return statusItem(payload as StatusPayload)
    default:
      return readItem(payload as ReadPayload)
  }
}

/** How many files an item makes the portal download (the avatar counts). */
export function fileCount(kind: DeliveryKind, payload: unknown): number {
  if (kind !== 'message') return 0
  const { user, message } = payload as MessagePayload
  return (message.files?.length ?? 0) + (user.pictureKey === undefined ? 0 : 1)
}
