/**
 * @module Customer → operator: a remote event becomes `to_portal` deliveries (DESIGN "Data flow"). Files are
 * streamed to object storage first; then one transaction records the message (dedup on account, direction,
 * origin id and time) and queues its delivery, so a repeat of the event — at-least-once from every
 * messenger — is recorded and queued once. The portal sender is woken after the commit. Accounts without a
 * bound line are handled alike: the sender holds their rows until a line is bound. The account owner's own
 * messages (typed on another device) take the same path when the account names a Bitrix24 employee
 * (`own-messages.ts`); otherwise they are skipped.
 */

import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Chat } from '../../storage/repos/chats.ts'
import type { Contact } from '../../storage/repos/contacts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { Message } from '../../storage/repos/messages.ts'
import type {
  DeletePayload,
  EditPayload,
  MessagePayloadInput,
  ReadPayload,
} from '../bitrix/portal-sender/payloads.ts'
import type {
  RemoteContactEvent,
  RemoteDeleteEvent,
  RemoteEditEvent,
  RemoteEvent,
  RemoteFile,
  RemoteMessageEvent,
  RemoteReadReceiptEvent,
} from '../bridge/remote-event.ts'
import type { Logger } from '../log/logger.ts'
import type { Fence } from './fence.ts'
import { removeObjects, storeInboundFiles } from './inbound-files.ts'
import { inboundDeleteKey, inboundEditKey, inboundMessageKey, readKey } from './keys.ts'
import { ownMessageAuthor } from './own-messages.ts'

export interface InboundDeps {
  sql: Sql
  repos: Pick<Repositories, 'contacts' | 'chats' | 'messages' | 'deliveries'>
  files: FileStore
  /** Wakes the portal sender for the account (called after each commit that queued something). */
  notifySender(accountId: string): void
  /** Checked first in every transaction (absent: an unfenced caller such as a test or a tool). */
  fence?: Fence
  log?: Logger
  /** Ids of object keys (tests fix them); random UUIDs by default. */
  newId?: () => string
  signal?: AbortSignal
}

export type InboundAccount = Pick<Account, 'id' | 'portalId'>

/** What became of an event: queued, a repeat of one already handled, or nothing to relay. */
export type InboundOutcome = 'queued' | 'duplicate' | 'skipped'

const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000)
const clip = (value: string | null | undefined) => (value ? value.slice(0, 255) : undefined)

/**
 * Handles one remote event of `account`. Throws on storage or download failures; the caller retries the
 * same event (everything it did is idempotent or undone).
 */
export async function handleRemoteEvent(
  deps: InboundDeps,
  account: InboundAccount,
  event: RemoteEvent,
): Promise<InboundOutcome> {
  if (event.accountId !== account.id) {
    deps.log?.warn({ accountId: account.id, eventAccount: event.accountId }, 'event of another account')
    return 'skipped'
  }
  switch (event.type) {
    case 'message':
      return onMessage(deps, account, event)
    case 'edit':
      return onEdit(deps, account, event)
    case 'delete':
      return onDelete(deps, account, event)
    case 'read':
      return onRead(deps, account, event)
    case 'contact':
      return onContact(deps, account, event)
    default:
      return 'skipped'
  }
}

/**
 * The user block of a payload. No `pictureKey` here: the portal would re-fetch the avatar with every item;
 * a message adds it only when the avatar changed (`contacts.takeAvatarToSend`).
 */
function userRef(remoteId: string, contact: Contact | undefined) {
  const name = clip(contact?.firstName ?? contact?.username)
  const lastName = clip(contact?.lastName)
  return { id: remoteId, ...(name ? { name } : {}), ...(lastName ? { lastName } : {}) }
}

/** The chat's contact (created bare when new; an upsert would otherwise blank a cached profile) and the chat. */
async function ensureChat(
  deps: InboundDeps,
  accountId: string,
  remoteChatId: string,
  contactRemoteId: string,
) {
  const { contacts, chats } = deps.repos
  let contact = await contacts.findByRemote(accountId, contactRemoteId)
  if (!contact || contact.staleAt) {
    // Seen again: lifts a stale mark (R6) and keeps what the cache knows.
    const { firstName, lastName, username, phone, avatarKey } = contact ?? {}
    contact = await contacts.upsert(accountId, {
      remoteId: contactRemoteId,
      firstName,
      lastName,
      username,
      phone,
      avatarKey,
    })
  }
  let chat = await chats.getByRemote(accountId, remoteChatId)
  if (!chat || chat.contactId === null || chat.staleAt) {
    chat = await chats.upsert({ accountId, remoteChatId, contactId: chat?.contactId ?? contact.id })
  }
  return { chat, contact }
}

/** Who a message is relayed as: the chat's person (`user` block) and, for an owner's own message, the employee. */
interface Author {
  contactRemoteId: string
  employeeId?: string
}

async function onMessage(
  deps: InboundDeps,
  account: InboundAccount,
  event: RemoteMessageEvent,
): Promise<InboundOutcome> {
  // Olchat's own send coming back from the messenger.
  if (event.clientMessageId !== undefined) return 'skipped'
  const text = event.text?.trim() ? event.text : undefined
  if (!text && event.files.length === 0) return 'skipped'
  // The account's own messages (typed on another device) are relayed only as its employee's.
  const author: Author | undefined = event.sender.fromMe
    ? await ownMessageAuthor(deps, account, event)
    : { contactRemoteId: event.sender.userId }
  if (!author) return 'skipped'
  // Cheap early exit for a redelivered event, before any download; the transaction below decides.
  const known = await deps.repos.messages.findByOrigin(account.id, 'in', event.messageId)
  if (known && known.sentAt.getTime() === event.timestamp.getTime()) {
    const chat = await deps.repos.chats.getByRemote(account.id, event.chat.chatId)
    if (chat?.id === known.chatId) return 'duplicate'
  }
  const { chat, contact } = await ensureChat(deps, account.id, event.chat.chatId, author.contactRemoteId)
  const files = await storeFiles(deps, account, event.files)
  if (!text && files.length === 0) return 'skipped'
  const payload: MessagePayloadInput = {
    chat: { id: event.chat.chatId },
    user: userRef(contact.remoteId, contact),
    message: {
      id: event.messageId,
      date: unixSeconds(event.timestamp),
      ...(text ? { text } : {}),
      ...(files.length > 0 ? { files } : {}),
      ...(author.employeeId ? { userId: author.employeeId } : {}),
    },
  }
  let created: boolean
  try {
    created = await deps.sql.begin(async (tx) => {
      await deps.fence?.(tx)
      const recorded = await deps.repos.messages.recordInbound(
        {
          accountId: account.id,
          chatId: chat.id,
          originId: event.messageId,
          sentAt: event.timestamp,
          employeeId: author.employeeId ?? null,
        },
        tx,
      )
      if (!recorded.created) return false
      // Taken in this transaction: a crash before the commit loses neither the avatar nor the record of it.
      const pictureKey = await deps.repos.contacts.takeAvatarToSend(contact.id, tx)
      await deps.repos.deliveries.enqueue(
        {
          accountId: account.id,
          chatId: chat.id,
          direction: 'to_portal',
          kind: 'message',
          idempotencyKey: inboundMessageKey(account.id, event.chat.chatId, event.messageId),
          payload: pictureKey ? { ...payload, user: { ...payload.user, pictureKey } } : payload,
        },
        tx,
      )
      await deps.repos.chats.touch(chat.id, event.timestamp, tx)
      return true
    })
  } catch (error) {
    await removeObjects(deps.files, files, deps.log)
    throw error
  }
  if (!created) {
    await removeObjects(deps.files, files, deps.log)
    return 'duplicate'
  }
  deps.notifySender(account.id)
  return 'queued'
}

function storeFiles(deps: InboundDeps, account: InboundAccount, remoteFiles: readonly RemoteFile[]) {
  if (remoteFiles.length === 0) return Promise.resolve([])
  return storeInboundFiles({
    files: deps.files,
    portalId: account.portalId,
    accountId: account.id,
    remoteFiles,
    log: deps.log,
    newId: deps.newId,
    signal: deps.signal,
  })
}

/** The inbound message `messageId` of this chat, when we relayed it. */
async function relayedMessage(deps: InboundDeps, accountId: string, chat: Chat, messageId: string) {
  const message = await deps.repos.messages.findByOrigin(accountId, 'in', messageId)
  return message?.chatId === chat.id ? message : undefined
}

/** The chat's person: whose Open Lines chat it is on the portal. */
async function chatContact(deps: InboundDeps, chat: Chat): Promise<Contact | undefined> {
  return chat.contactId === null ? undefined : deps.repos.contacts.get(chat.contactId)
}

async function onEdit(deps: InboundDeps, account: InboundAccount, event: RemoteEditEvent) {
  const chat = await deps.repos.chats.getByRemote(account.id, event.chat.chatId)
  const message = chat && (await relayedMessage(deps, account.id, chat, event.messageId))
  if (!chat || !message) return 'skipped'
  // The owner edits only their own relayed messages (an operator's, sent by Olchat, was never relayed in).
  if (event.sender.fromMe !== (message.employeeId !== null)) return 'skipped'
  const contact = event.sender.fromMe
    ? await chatContact(deps, chat)
    : await deps.repos.contacts.findByRemote(account.id, event.sender.userId)
  const payload: EditPayload = {
    chat: { id: chat.remoteChatId },
    user: userRef(contact?.remoteId ?? event.sender.userId, contact),
    message: { id: event.messageId, text: event.text },
  }
  const created = await deps.sql.begin(async (tx) => {
    await deps.fence?.(tx)
    const queued = await deps.repos.deliveries.enqueue(
      {
        accountId: account.id,
        chatId: chat.id,
        direction: 'to_portal',
        kind: 'edit',
        idempotencyKey: inboundEditKey(account.id, chat.remoteChatId, event.messageId, event.timestamp),
        payload,
      },
      tx,
    )
    const ref = { accountId: account.id, direction: 'in' as const, originId: message.originId }
    await deps.repos.messages.markEdited({ ...ref, sentAt: message.sentAt }, event.timestamp, tx)
    return queued.created
  })
  return settled(deps, account, created)
}

async function onDelete(deps: InboundDeps, account: InboundAccount, event: RemoteDeleteEvent) {
  const chat = await deps.repos.chats.getByRemote(account.id, event.chat.chatId)
  if (!chat) return 'skipped'
  const messages: Message[] = []
  for (const id of event.messageIds) {
    const message = await relayedMessage(deps, account.id, chat, id)
    if (message) messages.push(message)
  }
  if (messages.length === 0) return 'skipped'
  // Customer's and owner's messages alike: the portal finds them in the chat of its person.
  const contact = await chatContact(deps, chat)
  const user = userRef(contact?.remoteId ?? chat.remoteChatId, contact)
  const created = await deps.sql.begin(async (tx) => {
    await deps.fence?.(tx)
    let queued = false
    for (const message of messages) {
      const payload: DeletePayload = {
        chat: { id: chat.remoteChatId },
        user,
        message: { id: message.originId },
      }
      const result = await deps.repos.deliveries.enqueue(
        {
          accountId: account.id,
          chatId: chat.id,
          direction: 'to_portal',
          kind: 'delete',
          idempotencyKey: inboundDeleteKey(account.id, chat.remoteChatId, message.originId),
          payload,
        },
        tx,
      )
      const ref = { accountId: account.id, direction: 'in' as const, originId: message.originId }
      await deps.repos.messages.setStatus({ ...ref, sentAt: message.sentAt }, 'deleted', tx)
      queued ||= result.created
    }
    return queued
  })
  return settled(deps, account, created)
}

/**
 * Kept cheap (current portals ignore `send.status.reading`): only a read mark that reaches an operator
 * message not yet marked read queues anything, so a burst of receipts for one chat costs one row.
 */
async function onRead(deps: InboundDeps, account: InboundAccount, event: RemoteReadReceiptEvent) {
  if (event.reader.fromMe) return 'skipped'
  const chat = await deps.repos.chats.getByRemote(account.id, event.chat.chatId)
  const message = chat && (await deps.repos.messages.findByTarget(account.id, event.upTo))
  if (!chat || !message || message.direction !== 'out' || message.chatId !== chat.id) return 'skipped'
  const payload: ReadPayload = {
    chat: { id: chat.remoteChatId },
    messageIds: [event.upTo],
    ...(chat.portalChatId ? { im: { chatId: chat.portalChatId, messageId: message.originId } } : {}),
  }
  const created = await deps.sql.begin(async (tx) => {
    await deps.fence?.(tx)
    const newlyRead = await deps.repos.messages.markChatReadUntil(
      chat.id,
      'out',
      message.sentAt,
      event.timestamp,
      tx,
    )
    if (newlyRead === 0) return false
    const result = await deps.repos.deliveries.enqueue(
      {
        accountId: account.id,
        chatId: chat.id,
        direction: 'to_portal',
        kind: 'read',
        idempotencyKey: readKey(account.id, chat.remoteChatId, event.upTo),
        payload,
      },
      tx,
    )
    return result.created
  })
  return settled(deps, account, created)
}

/** A profile update refreshes the cache; the avatar key stays (avatars are the account actor's). */
async function onContact(deps: InboundDeps, account: InboundAccount, event: RemoteContactEvent) {
  const { contact } = event
  const existing = await deps.repos.contacts.findByRemote(account.id, contact.userId)
  await deps.repos.contacts.upsert(account.id, {
    remoteId: contact.userId,
    firstName: contact.firstName,
    lastName: contact.lastName,
    username: contact.username,
    phone: contact.phone,
    avatarKey: existing?.avatarKey,
  })
  return 'skipped' as const
}

function settled(deps: InboundDeps, account: InboundAccount, created: boolean): InboundOutcome {
  if (!created) return 'duplicate'
  deps.notifySender(account.id)
  return 'queued'
}
