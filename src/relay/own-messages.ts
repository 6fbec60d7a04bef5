/**
 * @module The account owner's own messages: what the owner of a messenger account types on another device
 * (their phone) arrives as `sender.fromMe`. With a Bitrix24 employee named on the account
 * (`accounts.employee_id`) such a message is relayed into the customer's Open Lines chat as that employee's
 * (`message.user_id`, reference/bitrix24.md §5.8); without one it is skipped, as before. The portal sends it
 * back as an operator message (§6.4 "Echo"): `src/bitrix/app/echo-guard.ts` keeps that echo from the customer.
 */

import type { Messenger } from '../../storage/repos/accounts.ts'
import { accountEmployee } from '../../storage/repos/accounts.ts'
import type { RemoteMessageEvent } from '../bridge/remote-event.ts'
import type { InboundAccount, InboundDeps } from './inbound.ts'

/**
 * Messengers whose account is a person who also writes from their own devices. A MAX account is a bot: its
 * own messages are Olchat's sends (or another integration's), never typed by an owner, so no employee is
 * named for it.
 */
export const OWN_MESSAGE_MESSENGERS: readonly Messenger[] = ['telegram', 'sandbox']

export function relaysOwnMessages(messenger: Messenger): boolean {
  return OWN_MESSAGE_MESSENGERS.includes(messenger)
}

/**
 * Who an own message is relayed as: the chat's person (the portal's `user` block must stay the customer's,
 * or the portal would open another chat) and the employee. Undefined when it is not relayed: no employee named,
 * Olchat's own send coming back, or a chat whose person is unknown.
 */
export async function ownMessageAuthor(
  deps: Pick<InboundDeps, 'sql' | 'repos' | 'log'>,
  account: InboundAccount,
  event: RemoteMessageEvent,
): Promise<{ contactRemoteId: string; employeeId: string } | undefined> {
  const employeeId = await accountEmployee(deps.sql, account.id)
  if (employeeId === null) return undefined
  const chat = await deps.repos.chats.getByRemote(account.id, event.chat.chatId)
  // An operator message Olchat sent, coming back without our client id (a catch-up after a crash, a
  // messenger that echoes sends): the outbound relay recorded its messenger id on the operator's row.
  const sent = await deps.repos.messages.findByTarget(account.id, event.messageId)
  if (sent?.direction === 'out' && chat && sent.chatId === chat.id) return undefined
  // The Open Lines chat belongs to the chat's contact; the connector names the person of a new chat.
  const contact = chat?.contactId ? await deps.repos.contacts.get(chat.contactId) : undefined
  const contactRemoteId = contact?.remoteId ?? event.peer
  if (contactRemoteId === undefined) {
    deps.log?.info(
      { accountId: account.id, chatId: event.chat.chatId },
      'own message in a chat with no known person: not relayed',
    )
    return undefined
  }
  return { contactRemoteId, employeeId }
}
