/**
 * @module What happens in chats. The account's side (client API): send with an optional `randomId`
 * (Telegram's random_id: a repeat returns the first message and creates nothing), edit, delete, mark read,
 * typing. The customer's side (control API): send, edit, delete, read — each published as an update to the
 * account. Message ids come from one counter per account, like a Telegram user's message box.
 */
import { ApiError, badRequest } from './errors.ts'
import type { FileInput } from './files.ts'
import { userJson } from './login.ts'
import type { Account, Chat, Customer, FileMeta, Message, Session } from './types.ts'
import { publish } from './updates.ts'
import type { World } from './world.ts'

const MAX_TEXT = 4096
const TYPING_MS = 6000

export interface MessageJson {
  id: number
  chatId: number
  out: boolean
  date: number
  text: string
  file?: { id: string; name: string; mime: string; size: number; sha256: string }
  randomId?: string
  replyTo?: number
  editDate?: number
  deleted?: boolean
}

export function messageJson(m: Message): MessageJson {
  const json: MessageJson = { id: m.id, chatId: m.chatId, out: m.out, date: m.date, text: m.text }
  if (m.file) {
    const { id, name, mime, size, sha256 } = m.file
    json.file = { id, name, mime, size, sha256 }
  }
  if (m.randomId !== undefined) json.randomId = m.randomId
  if (m.replyTo !== undefined) json.replyTo = m.replyTo
  if (m.editDate !== undefined) json.editDate = m.editDate
  if (m.deleted) json.deleted = true
  return json
}

export function customerJson(c: Customer) {
  return { ...c }
}

function peer(world: World, chatId: number): Customer {
  const customer = world.customers.get(chatId)
  if (!customer) throw badRequest('PEER_ID_INVALID', `No chat ${chatId}`)
  return customer
}

function checkText(text: string, file: FileMeta | undefined): void {
  if (text.trim() === '' && !file) throw badRequest('MESSAGE_EMPTY', 'The message has no text and no file')
  if (text.length > MAX_TEXT) throw badRequest('MESSAGE_TOO_LONG', `Texts are limited to ${MAX_TEXT}`)
}

function append(account: Account, chat: Chat, m: Omit<Message, 'id' | 'date'>): Message {
  const message: Message = { id: ++account.lastMessageId, date: Date.now(), ...m }
  chat.messages.push(message)
  account.messages ??= new Map()
  account.messages.set(message.id, message)
  if (message.file) message.file.readers.add(account.id)
  return message
}

function inChat(account: Account, chatId: number, id: number): Message | undefined {
  const message = account.messages?.get(id)
  return message && message.chatId === chatId ? message : undefined
}

export interface SendInput {
  text?: string
  fileId?: string
  randomId?: string
  replyTo?: number
}

export function accountSend(world: World, session: Session, chatId: number, input: SendInput) {
  const account = session.account
  const customer = peer(world, chatId)
  const chat = world.chat(account, customer)
  if (input.randomId !== undefined) {
    const first = account.randomIds?.get(input.randomId)
    if (first) {
      if (first.chatId !== chatId) {
        throw badRequest('RANDOM_ID_DUPLICATE', 'This randomId was used for another chat')
      }
      chat.randomIdHits++
      world.counters.randomIdHits++
      world.accountCounters(account).randomIdHits++
      return { message: messageJson(first), duplicate: true }
    }
  }
  const file = input.fileId === undefined ? undefined : world.files.get(input.fileId)
  if (input.fileId !== undefined && !file?.readers.has(account.id)) {
    throw badRequest('FILE_ID_INVALID', `No file ${input.fileId}`)
  }
  const text = input.text ?? ''
  checkText(text, file)
  world.faults.spend(account.id)
  const message = append(account, chat, {
    chatId,
    out: true,
    text,
    file,
    randomId: input.randomId,
    replyTo: input.replyTo,
  })
  if (input.randomId !== undefined) {
    account.randomIds ??= new Map()
    account.randomIds.set(input.randomId, message)
  }
  chat.received++
  world.counters.messagesReceived++
  world.accountCounters(account).received++
  return { message: messageJson(message), duplicate: false }
}

function editText(message: Message, text: string): void {
  checkText(text, message.file)
  if (text === message.text) throw badRequest('MESSAGE_NOT_MODIFIED', 'The text is the same')
  message.history ??= []
  message.history.push(message.text)
  message.text = text
  message.editDate = Date.now()
}

export function accountEdit(world: World, session: Session, chatId: number, id: number, text: string) {
  const account = session.account
  const message = inChat(account, chatId, id)
  if (!message || message.deleted) throw badRequest('MESSAGE_ID_INVALID', `No message ${id} in ${chatId}`)
  if (!message.out) throw new ApiError('MESSAGE_AUTHOR_REQUIRED', 403, 'Only your own messages can be edited')
  world.faults.spend(account.id)
  editText(message, text)
  world.counters.edits++
  return { message: messageJson(message) }
}

/** Idempotent like Telegram's deleteMessages: an unknown or already deleted id counts 0. */
export function accountDelete(world: World, session: Session, chatId: number, id: number) {
  const message = inChat(session.account, chatId, id)
  if (!message || message.deleted) return { deleted: 0 }
  world.faults.spend(session.account.id)
  message.deleted = 'account'
  world.counters.deletes++
  return { deleted: 1 }
}

function lastId(chat: Chat, out: boolean): number {
  for (let i = chat.messages.length - 1; i >= 0; i--) {
    if (chat.messages[i]!.out === out) return chat.messages[i]!.id
  }
  return 0
}

export function accountRead(world: World, session: Session, chatId: number, maxId?: number) {
  const chat = world.chat(session.account, peer(world, chatId))
  chat.readInboxMaxId = Math.max(chat.readInboxMaxId, maxId ?? lastId(chat, false))
  world.counters.reads++
  return { maxId: chat.readInboxMaxId }
}

export function accountTyping(world: World, session: Session, chatId: number, cancel: boolean) {
  const chat = world.chat(session.account, peer(world, chatId))
  chat.typingUntil = cancel ? 0 : Date.now() + TYPING_MS
  world.counters.typing++
  return { ok: true }
}

/** The file of a control-API send: an uploaded one by id, or one given inline. */
async function controlFile(world: World, input: { fileId?: string; file?: FileInput }) {
  const byId = input.fileId === undefined ? undefined : world.files.get(input.fileId)
  if (input.fileId !== undefined && !byId) throw badRequest('FILE_ID_INVALID', `No file ${input.fileId}`)
  return input.file ? world.files.saveInput(input.file) : byId
}

/** Deletes messages of one chat for both sides on behalf of `by`; unknown or deleted ids are skipped. */
function deleteFromControl(
  world: World,
  account: Account,
  chatId: number,
  ids: number[],
  by: 'customer' | 'account',
) {
  const deleted: number[] = []
  for (const id of ids) {
    const message = inChat(account, chatId, id)
    if (!message || message.deleted) continue
    message.deleted = by
    deleted.push(id)
  }
  if (deleted.length > 0) publish(world, account, { type: 'message.delete', chatId, ids: deleted })
  return { deleted }
}

/** A new text of a message, announced to the account's sessions. */
function editFromControl(world: World, account: Account, message: Message, text: string) {
  editText(message, text)
  const json = messageJson(message)
  publish(world, account, { type: 'message.edit', message: json })
  return json
}

export interface CustomerSendInput {
  customer: number
  account: number | string
  text?: string
  fileId?: string
  file?: FileInput
  replyTo?: number
}

export async function customerSend(world: World, input: CustomerSendInput) {
  const customer = world.customer(input.customer)
  const account = world.account(input.account)
  const file = await controlFile(world, input)
  const text = input.text ?? ''
  checkText(text, file)
  const chat = world.chat(account, customer)
  const message = append(account, chat, {
    chatId: customer.id,
    out: false,
    text,
    file,
    replyTo: input.replyTo,
  })
  world.counters.customerMessages++
  const json = messageJson(message)
  publish(world, account, { type: 'message.new', message: json, from: customerJson(customer) })
  return json
}

function customerMessage(customer: Customer, account: Account, id: number): Message {
  const message = inChat(account, customer.id, id)
  if (!message || message.deleted || message.out) {
    throw badRequest('MESSAGE_ID_INVALID', `Customer ${customer.id} has no message ${id}`)
  }
  return message
}

export function customerEdit(
  world: World,
  input: { customer: number; account: number | string; messageId: number; text: string },
) {
  const customer = world.customer(input.customer)
  const account = world.account(input.account)
  return editFromControl(world, account, customerMessage(customer, account, input.messageId), input.text)
}

export function customerDelete(
  world: World,
  input: { customer: number; account: number | string; messageIds: number[] },
) {
  const customer = world.customer(input.customer)
  return deleteFromControl(world, world.account(input.account), customer.id, input.messageIds, 'customer')
}

export function customerRead(
  world: World,
  input: { customer: number; account: number | string; maxId?: number },
) {
  const customer = world.customer(input.customer)
  const account = world.account(input.account)
  const chat = world.chat(account, customer)
  const maxId = Math.max(chat.readOutboxMaxId, input.maxId ?? lastId(chat, true))
  if (maxId > chat.readOutboxMaxId) {
    chat.readOutboxMaxId = maxId
    publish(world, account, { type: 'read.outbox', chatId: customer.id, maxId })
  }
  return { maxId }
}

export interface OwnerSendInput {
  account: number | string
  customer: number
  text?: string
  fileId?: string
  file?: FileInput
}

/**
 * The account's owner writes to a customer from another device (their phone): an outgoing message that every
 * session of the account receives as an update, as Telegram shows a message typed on one device to the
 * others. Counted in `ownerMessages`, not in `messagesReceived` (what the client API sent).
 */
export async function ownerSend(world: World, input: OwnerSendInput) {
  const customer = world.customer(input.customer)
  const account = world.account(input.account)
  const file = await controlFile(world, input)
  const text = input.text ?? ''
  checkText(text, file)
  const chat = world.chat(account, customer)
  const message = append(account, chat, { chatId: customer.id, out: true, text, file, fromDevice: true })
  world.counters.ownerMessages++
  const json = messageJson(message)
  publish(world, account, { type: 'message.new', message: json, from: userJson(account) })
  return json
}

/** The owner edits one of the account's messages on another device (Telegram lets them edit any of them). */
export function ownerEdit(
  world: World,
  input: { account: number | string; customer: number; messageId: number; text: string },
) {
  const customer = world.customer(input.customer)
  const account = world.account(input.account)
  const message = inChat(account, customer.id, input.messageId)
  if (!message || message.deleted || !message.out) {
    throw badRequest('MESSAGE_ID_INVALID', `The account has no message ${input.messageId} in ${customer.id}`)
  }
  return editFromControl(world, account, message, input.text)
}

/** The owner deletes messages of the chat on another device (for both sides, like Telegram's revoke). */
export function ownerDelete(
  world: World,
  input: { account: number | string; customer: number; messageIds: number[] },
) {
  const customer = world.customer(input.customer)
  return deleteFromControl(world, world.account(input.account), customer.id, input.messageIds, 'account')
}
