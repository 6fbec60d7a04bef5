/**
 * @module What people do in the Bitrix24 UI, driven by the test: operators post/edit/delete messages
 * (§6.4–6.6), close sessions (§6.7, possibly token-less from an agent), ask for a rating (§5.8 votes); admins
 * click Connect/Disconnect in Contact Center (§5.1, §6.8) and add or delete lines (§6.9).
 */
import type { Emulator } from './context.ts'
import { drainEvents, emitEvent } from './events.ts'
import { eventFileEntry, type OperatorFileInput, storeOperatorFile } from './files.ts'
import { deleteStatusRow } from './imconnector.ts'
import { ControlError } from './lifecycle.ts'
import { addMessage, dialogData, findMessage } from './openlines.ts'
import { emitMessageAdd, emitMessageDelete, emitMessageUpdate } from './outgoing.ts'
import { isStatusOk, type Portal } from './state.ts'
import type { DeliveryRecord } from './stats.ts'
import type { OlChat } from './types.ts'

/** Runs an action, waits for the events it queued and returns the deliveries made meanwhile. */
export async function withDeliveries<T>(
  emu: Emulator,
  portal: Portal,
  action: () => T | Promise<T>,
): Promise<T & { deliveries: DeliveryRecord[] }> {
  const mark = emu.stats.deliveries.length
  const result = await action()
  await drainEvents(emu, portal)
  const deliveries = emu.stats.deliveries.slice(mark).filter((d) => d.memberId === portal.memberId)
  return { ...result, deliveries }
}

function chatOf(portal: Portal, chatId: number): OlChat {
  const chat = portal.chatsById.get(chatId)
  if (!chat) throw new ControlError(404, `no Open Lines chat ${chatId}`)
  return chat
}

function defaultOperator(portal: Portal): number {
  if (portal.users.has(27)) return 27
  return [...portal.users.values()].find((u) => !u.admin)?.id ?? 1
}

export interface OperatorMessageInput {
  /** Open Lines chat id (`session.CHAT_ID` of send.messages, `im.chat_id` in events). */
  chatId: number
  text?: string
  files?: OperatorFileInput[]
  userId?: number
  /** System message (user_id 0): sent only when `important` and the connector has NEED_SYSTEM_MESSAGES. */
  system?: boolean
  important?: boolean
  /** Silent/hidden messages are never sent to the connector (§6.4). */
  silent?: boolean
}

export async function postOperatorMessage(emu: Emulator, portal: Portal, input: OperatorMessageInput) {
  const chat = chatOf(portal, input.chatId)
  const connector = portal.connectors.get(chat.connector)
  // §5.1: the UI refuses to send to a line whose connector status is not OK ("connector error").
  if (
    !connector ||
    !isStatusOk(portal.findStatus(chat.connector, chat.line)) ||
    !portal.lines.get(chat.line)?.active
  ) {
    throw new ControlError(409, 'connector error: the line is not connected (status not OK)')
  }
  const files = []
  for (const f of input.files ?? []) files.push(eventFileEntry(portal, await storeOperatorFile(portal, f)))
  const system = input.system ?? false
  const userId = system ? 0 : (input.userId ?? defaultOperator(portal))
  const message = addMessage(portal, chat, {
    author: system ? 'system' : 'operator',
    authorId: userId,
    text: input.text ?? '',
    files,
    connectorMid: null,
    system,
  })
  const skip = input.silent || (system && !(input.important && connector.flags.NEED_SYSTEM_MESSAGES))
  const deliveries = skip ? [] : await emitMessageAdd(emu, portal, chat, message, system ? null : userId)
  return { messageId: message.id, chatId: chat.id, sent: !skip, files, deliveries }
}

function operatorMessage(portal: Portal, messageId: number) {
  const found = findMessage(portal, messageId)
  if (!found) throw new ControlError(404, `no message ${messageId}`)
  if (found.message.author === 'client') throw new ControlError(409, 'this is a client message')
  return found
}

export async function editOperatorMessage(
  emu: Emulator,
  portal: Portal,
  input: { messageId: number; text: string; userId?: number },
) {
  const { chat, message } = operatorMessage(portal, input.messageId)
  message.text = input.text
  message.edited = true
  const flags = portal.connectors.get(chat.connector)?.flags
  // §5.11/§6.5: no CONNECTOR_MID (no delivery status) → nothing sent; also needs EDIT_INTERNAL_MESSAGES.
  const reason = !message.connectorMid
    ? 'no CONNECTOR_MID'
    : !flags?.EDIT_INTERNAL_MESSAGES
      ? 'not allowed'
      : null
  const deliveries = reason
    ? []
    : await emitMessageUpdate(emu, portal, chat, message, input.userId ?? message.authorId)
  return { emitted: reason === null, reason, deliveries }
}

export async function deleteOperatorMessage(
  emu: Emulator,
  portal: Portal,
  input: { messageId: number; userId?: number },
) {
  const { chat, message } = operatorMessage(portal, input.messageId)
  message.deleted = true
  const flags = portal.connectors.get(chat.connector)?.flags
  const reason = !message.connectorMid
    ? 'no CONNECTOR_MID'
    : !flags?.DEL_INTERNAL_MESSAGES
      ? 'not allowed'
      : null
  const deliveries = reason
    ? []
    : await emitMessageDelete(emu, portal, chat, message, input.userId ?? message.authorId)
  return { emitted: reason === null, reason, deliveries }
}

export async function closeSession(
  emu: Emulator,
  portal: Portal,
  input: { chatId: number; userId?: number; byAgent?: boolean },
) {
  const chat = chatOf(portal, input.chatId)
  const session = chat.session
  if (!session || session.closed) throw new ControlError(409, 'no open session in this chat')
  session.closed = true
  session.closedAt = Date.now()
  const owner = portal.connectors.get(chat.connector)?.clientId
  // §6.7: auto-close by an agent arrives without tokens.
  const trigger = input.byAgent ? null : (input.userId ?? defaultOperator(portal))
  const deliveries = owner
    ? await emitEvent(emu, portal, {
        event: 'ONIMCONNECTORDIALOGFINISH',
        data: dialogData(portal, chat, session),
        clientId: owner,
        triggerUserId: trigger,
      })
    : []
  return { sessionId: session.id, deliveries }
}

export function requestRating(portal: Portal, input: { chatId: number }) {
  chatOf(portal, input.chatId).waitingVote = true
  return { waiting: true }
}

export function connectLine(portal: Portal, input: { connector: string; line: number }) {
  // §5.1: the Contact Center "Connect" click sets only ACTIVE=Y.
  const row = portal.statusRow(input.connector.toLowerCase(), input.line)
  row.ACTIVE = true
  return { ...row }
}

export function disconnectLine(
  emu: Emulator,
  portal: Portal,
  input: { connector: string; line: number; userId?: number },
) {
  // §5.1: "Disconnect" is Status::delete → ONIMCONNECTORSTATUSDELETE.
  return withDeliveries(emu, portal, () => ({
    deleted: deleteStatusRow(emu, portal, input.connector.toLowerCase(), input.line, input.userId ?? 1),
  }))
}

export function addLine(portal: Portal, input: { name: string; id?: number }) {
  const id = input.id ?? portal.next('line')
  portal.bump('line', id)
  portal.lines.set(id, { id, name: input.name, active: true, fullCloseTime: 10, createdAt: Date.now() })
  return { id }
}

export function deleteLine(emu: Emulator, portal: Portal, input: { line: number; userId?: number }) {
  return withDeliveries(emu, portal, () => {
    if (!portal.lines.delete(input.line)) throw new ControlError(404, `line ${input.line} does not exist`)
    const user = input.userId ?? 1
    // §5.1: deleting a line deletes every status row of it (each fires StatusDelete), then §6.9 LineDelete.
    for (const row of [...portal.statuses.values()].filter((r) => r.line === input.line)) {
      deleteStatusRow(emu, portal, row.connector, row.line, user)
    }
    // §6.9: scalar `data`; no per-app filter.
    void emitEvent(emu, portal, {
      event: 'ONIMCONNECTORLINEDELETE',
      data: String(input.line),
      triggerUserId: user,
    })
    return { line: input.line }
  })
}
