/**
 * @module Operator messages, edits and deletions (ONIMCONNECTORMESSAGEADD/UPDATE/DELETE,
 * reference/bitrix24.md §6.4–6.6) turned into `to_messenger` deliveries for the account bound to the
 * connector and line. The text is rendered for that messenger here; the account actor sends it and reports
 * the delivery status with `im`. The portal's echo of an account owner's own message is not relayed
 * (`echo-guard.ts`).
 */
import type { Account } from '../../../storage/repos/accounts.ts'
import type { DeliveryInput, DeliveryKind } from '../../../storage/repos/deliveries.ts'
import { renderOperatorText, type TextFormat } from '../bbcode.ts'
import { connectorById } from '../connectors.ts'
import type { BitrixAppDeps } from './deps.ts'
import { isOwnMessageEcho } from './echo-guard.ts'
import type { EventOf, WithoutAuth } from './schemas.ts'

export interface OperatorFile {
  name: string | null
  mime: string | null
  /** Public portal link (§6.4): downloadable without auth, follow redirects. */
  link: string
  size: number | null
}

/** The body of a `to_messenger` delivery made from a Bitrix24 event. */
export interface OperatorDeliveryPayload {
  source: 'bitrix24'
  connector: string
  line: string
  /** Open Lines chat and IM message: what `imconnector.send.status.delivery` needs back (§5.11). */
  im: { chat_id: string; message_id: string }
  /** External chat id we gave the portal in `send.messages`. */
  chat: { id: string }
  /** Bitrix24 user who wrote it (operator, bot; 0 for system messages). */
  user_id: string | null
  /** Rendered for the messenger (`format`); empty for deletions. */
  text: string
  format: TextFormat
  files: OperatorFile[]
  /** Messenger message ids the portal stored from our delivery status (edits and deletions). */
  remoteIds: string[]
}

type MessageEvent = EventOf<
  'ONIMCONNECTORMESSAGEADD' | 'ONIMCONNECTORMESSAGEUPDATE' | 'ONIMCONNECTORMESSAGEDELETE'
>

const FORMATS: Record<Account['messenger'], TextFormat> = {
  telegram: 'html',
  max: 'markdown',
  sandbox: 'plain',
}
const KINDS: Record<MessageEvent['event'], DeliveryKind> = {
  ONIMCONNECTORMESSAGEADD: 'message',
  ONIMCONNECTORMESSAGEUPDATE: 'edit',
  ONIMCONNECTORMESSAGEDELETE: 'delete',
}

/** The account serving a connector's line, if one is bound. */
export async function boundAccount(
  deps: BitrixAppDeps,
  portalId: string,
  connectorId: string,
  lineId: string,
): Promise<Account | undefined> {
  const connector = connectorById(connectorId)
  if (!connector) return undefined
  const line = await deps.repos.lines.find(portalId, connector.id, lineId)
  if (!line) return undefined
  return deps.repos.accounts.findBoundToLine(line.id, connector.messenger)
}

function idsOf(id: string | string[]): string[] {
  return Array.isArray(id) ? id : [id]
}

/** @returns why nothing was queued, or null when deliveries were queued */
export async function enqueueOperatorMessages(
  deps: BitrixAppDeps,
  portalId: string,
  inboxId: string,
  event: WithoutAuth<MessageEvent>,
): Promise<string | null> {
  const { CONNECTOR, LINE } = event.data
  const account = await boundAccount(deps, portalId, CONNECTOR, LINE)
  if (!account) return `no account bound to ${CONNECTOR.toLowerCase()} line ${LINE}`
  const kind = KINDS[event.event]
  const format = FORMATS[account.messenger]
  const signature = deps.options?.signature ?? 'bold'
  const byMessage = new Map<string, DeliveryInput & { payload: OperatorDeliveryPayload }>()
  let echoes = 0
  for (const item of event.data.MESSAGES) {
    const messageId = item.im.message_id
    const message = item.message as {
      text?: string
      user_id?: string
      id?: string | string[]
      files?: unknown
    }
    // §6.6: a deletion comes once per stored messenger id; one delivery deletes them all.
    const existing = byMessage.get(messageId)
    if (existing) {
      if (message.id !== undefined) existing.payload.remoteIds.push(...idsOf(message.id))
      continue
    }
    const chat =
      (await deps.repos.chats.getByRemote(account.id, item.chat.id)) ??
      (await deps.repos.chats.getByPortalChat(account.id, item.im.chat_id))
    if (chat && chat.portalChatId === null) await deps.repos.chats.setPortalChatId(chat.id, item.im.chat_id)
    if (
      kind === 'message' &&
      chat &&
      (await isOwnMessageEcho(deps, account, chat, { im: item.im, message }))
    ) {
      echoes++
      continue
    }
    const files = (
      (message.files ?? []) as { name?: string; mime?: string; link: string; size?: string }[]
    ).map((file) => ({
      name: file.name ?? null,
      mime: file.mime ?? null,
      link: file.link,
      size: file.size === undefined ? null : Number(file.size),
    }))
    // Edits get the inbox row in their key: a message can be edited many times, a retry is still one
    // delivery.
    const suffix = kind === 'edit' ? `edit:${inboxId}` : kind
    byMessage.set(messageId, {
      accountId: account.id,
      chatId: chat?.id ?? null,
      direction: 'to_messenger',
      kind,
      idempotencyKey: `b24:${portalId}:${messageId}:${suffix}`,
      payload: {
        source: 'bitrix24',
        connector: CONNECTOR.toLowerCase(),
        line: LINE,
        im: { chat_id: item.im.chat_id, message_id: messageId },
        chat: { id: item.chat.id },
        user_id: message.user_id ?? null,
        text: kind === 'delete' ? '' : renderOperatorText(message.text ?? '', format, { signature }),
        format,
        files,
        remoteIds: message.id === undefined ? [] : idsOf(message.id),
      },
    })
  }
  await deps.repos.deliveries.enqueueMany([...byMessage.values()])
  if (byMessage.size > 0) deps.onDeliveriesQueued?.(account.id)
  if (byMessage.size === 0 && echoes > 0) return "echo of the account owner's own message"
  return null
}
