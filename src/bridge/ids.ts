/**
 * @module Identifiers the core passes around but never parses (mautrix's `networkid` rule). Each is a string
 * with a brand, so a chat id cannot be handed where a message id is expected. Connectors mint the remote ones
 * from whatever their messenger uses (Telegram peer ids, MAX chat ids) and are the only code that reads them.
 */

declare const brand: unique symbol

/** A string that only code holding the matching constructor below can produce. */
export type Brand<T, Name extends string> = T & { readonly [brand]: Name }

/** `accounts.id`: one connected messenger login. */
export type AccountId = Brand<string, 'AccountId'>
/** The messenger's id of a conversation, as seen from one account. */
export type RemoteChatId = Brand<string, 'RemoteChatId'>
/** The messenger's id of a person (a contact, or the account itself). */
export type RemoteUserId = Brand<string, 'RemoteUserId'>
/** The messenger's id of a message, unique within its chat. */
export type RemoteMessageId = Brand<string, 'RemoteMessageId'>
/**
 * Our id of an outgoing message, chosen before the first attempt and repeated on every retry, so the
 * messenger (Telegram's `random_id`, the sandbox) can drop a repeat.
 */
export type ClientMessageId = Brand<string, 'ClientMessageId'>
/** A connector's handle to a file it can stream again later (opaque to the core). */
export type RemoteFileRef = Brand<string, 'RemoteFileRef'>
/** A login flow of one connector, e.g. `phone` or `qr`. */
export type LoginFlowId = Brand<string, 'LoginFlowId'>
/** A stable id of one login step, e.g. `telegram.phone.code`: lets a panel pick its own form. */
export type LoginStepId = Brand<string, 'LoginStepId'>

/** Where an event belongs: one chat of one account (mautrix's `PortalKey`). */
export interface ChatKey {
  accountId: AccountId
  chatId: RemoteChatId
}

export const toAccountId = (value: string) => value as AccountId
export const toRemoteChatId = (value: string) => value as RemoteChatId
export const toRemoteUserId = (value: string) => value as RemoteUserId
export const toRemoteMessageId = (value: string) => value as RemoteMessageId
export const toClientMessageId = (value: string) => value as ClientMessageId
export const toRemoteFileRef = (value: string) => value as RemoteFileRef
export const toLoginFlowId = (value: string) => value as LoginFlowId
export const toLoginStepId = (value: string) => value as LoginStepId

/** A string key for maps and logs: `<account>:<chat>`. */
export function chatKeyString(key: ChatKey): string {
  return `${key.accountId}:${key.chatId}`
}
