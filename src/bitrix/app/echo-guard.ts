/**
 * @module The echo guard. An account owner's own message is sent to the portal as an employee's
 * (`src/relay/own-messages.ts`), and an employee's message in an Open Lines chat is what the portal sends to
 * the connector: it comes back as ONIMCONNECTORMESSAGEADD (reference/bitrix24.md §6.4 "Echo", §11.9 —
 * inferred from the source, not observed). Relayed, the customer would get the owner's message twice.
 *
 * What identifies the echo. `send.messages` answers no IM message id (§5.8), and the echo is emitted inside
 * that call, before the portal stores CONNECTOR_MID on the message, so the event names neither the
 * messenger's id nor anything we sent. What it does carry: the chat (`chat.id`, ours) and the author
 * (`message.user_id`, the employee we sent as). Texts are no help either: the portal may prefix a signature,
 * decode emoji or rewrite BB-codes, and bodies are not kept after delivery (R8). So the echo is paired, in the
 * database, with the owner's message of the same chat sent as the same employee that still awaits its echo —
 * the oldest first, each at most once, its `echo_id` set to the event's IM message id (a repeat of the event
 * finds the same row again). Durable: it survives a restart between the send and the event, and holds with
 * several instances, where a Redis-only "loop" mark could be lost (S2: Redis must hold nothing that matters).
 *
 * The echo is answered like an operator message that reached the messenger — it is there, typed by its owner —
 * with `imconnector.send.status.delivery` naming the owner's message id (§5.11): the operator does not see it
 * stuck as "sending", and the portal learns its CONNECTOR_MID, so an employee's later edit or deletion of it in
 * Bitrix24 reaches the messenger like an operator's.
 *
 * Limits. A message the employee writes in Bitrix24 itself in that chat while an echo is still awaited is
 * taken for the echo (and the echo then goes out instead). The window keeps that rare: a row awaits its echo
 * only until it was delivered `ECHO_WINDOW_MS` ago; the echo leaves the portal within seconds of the call.
 */
import type { Account } from '../../../storage/repos/accounts.ts'
import type { Chat } from '../../../storage/repos/chats.ts'
import { echoStatusKey } from '../../relay/keys.ts'
import type { StatusPayload } from '../portal-sender/payloads.ts'
import type { BitrixAppDeps } from './deps.ts'

/** How long after the portal accepted an owner's message its echo is still expected. */
export const ECHO_WINDOW_MS = 10 * 60_000

/** Bitrix24 user ids as `accounts.employee_id` (bigint) holds them. */
const EMPLOYEE_ID = /^[1-9][0-9]{0,17}$/

export interface EchoItem {
  im: { chat_id: string; message_id: string }
  message: { user_id?: string }
}

/**
 * Whether an ONIMCONNECTORMESSAGEADD item is the echo of an owner's own message of `chat`. When it is, the
 * message is paired with it and its delivery status queued (both idempotent: a repeat of the event does the
 * same again).
 */
export async function isOwnMessageEcho(
  deps: BitrixAppDeps,
  account: Pick<Account, 'id'>,
  chat: Chat,
  item: EchoItem,
): Promise<boolean> {
  const employeeId = item.message.user_id
  if (employeeId === undefined || !EMPLOYEE_ID.test(employeeId)) return false
  const now = deps.now?.() ?? new Date()
  const echoId = item.im.message_id
  const paired = await deps.repos.messages.claimEcho({
    chatId: chat.id,
    employeeId,
    echoId,
    deliveredSince: new Date(now.getTime() - ECHO_WINDOW_MS),
  })
  if (!paired) return false
  const status: StatusPayload = {
    im: { chatId: item.im.chat_id, messageId: echoId },
    messageIds: [paired.originId],
    chat: { id: chat.remoteChatId },
    date: Math.floor(paired.sentAt.getTime() / 1000),
  }
  await deps.repos.deliveries.enqueue({
    accountId: account.id,
    chatId: chat.id,
    direction: 'to_portal',
    kind: 'status',
    idempotencyKey: echoStatusKey(account.id, echoId),
    payload: status,
  })
  deps.log.debug(
    { chatId: chat.id, messageId: paired.id, echoId },
    "echo of the owner's own message not relayed",
  )
  return true
}
