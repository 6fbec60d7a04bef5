/**
 * @module The Open Lines side of the portal (§5.8): external users keyed `<connector>|<user.id>`, OL chats
 * keyed by user code `<connector>|<line>|<chat.id>|<b24UserId>` (user part 0 with CHAT_GROUP), sessions and
 * their ONIMCONNECTORDIALOGSTART/FINISH events (§6.7), messages in arrival order.
 */
import type { Emulator } from './context.ts'
import { emitEvent } from './events.ts'
import type { Portal } from './state.ts'
import type { ConnectorRecord, ImMessage, OlChat, SessionRecord } from './types.ts'

export function userCode(connector: string, line: number, externalChatId: string, userPart: number): string {
  return `${connector}|${line}|${externalChatId}|${userPart}`
}

export function findOrCreateChat(
  portal: Portal,
  connector: ConnectorRecord,
  line: number,
  externalChatId: string,
  b24UserId: number,
  title: string,
): OlChat {
  // §5.8, pitfall 17: CHAT_GROUP → one OL chat per external chat (user part 0).
  const userPart = connector.flags.CHAT_GROUP ? 0 : b24UserId
  const code = userCode(connector.id, line, externalChatId, userPart)
  let chat = portal.chats.get(code)
  if (!chat) {
    chat = {
      id: portal.next('chat'),
      userCode: code,
      connector: connector.id,
      line,
      externalChatId,
      userPart,
      title,
      description: null,
      session: null,
      sessions: [],
      waitingVote: false,
      messages: [],
    }
    portal.chats.set(code, chat)
    portal.chatsById.set(chat.id, chat)
  }
  return chat
}

/** §6.7 payload (`DATA`, not `MESSAGES`); user ids are the internal id of the external user (source). */
export function dialogData(portal: Portal, chat: OlChat, session: SessionRecord): Record<string, unknown> {
  const closeTerm = portal.lines.get(chat.line)?.fullCloseTime ?? 10
  return {
    CONNECTOR: chat.connector,
    LINE: String(chat.line),
    DATA: [
      {
        connector: {
          connector_id: chat.connector,
          line_id: String(chat.line),
          chat_id: chat.externalChatId,
          user_id: String(chat.userPart),
        },
        session: {
          id: String(session.id),
          closed: session.closed ? 'Y' : 'N',
          parent_id: String(session.parentId),
          close_term: String(closeTerm),
        },
        chat: { id: chat.externalChatId },
        user: { id: String(chat.userPart) },
      },
    ],
  }
}

/** Opens a session when none is open (first message, or after a close) and announces it. */
export function ensureSession(
  emu: Emulator,
  portal: Portal,
  chat: OlChat,
  triggerUserId: number | null,
): SessionRecord {
  if (chat.session && !chat.session.closed) return chat.session
  const session: SessionRecord = {
    id: portal.next('session'),
    chatId: chat.id,
    closed: false,
    parentId: 0,
    startedAt: Date.now(),
    closedAt: null,
  }
  chat.session = session
  chat.sessions.push(session)
  const owner = portal.connectors.get(chat.connector)?.clientId
  if (owner) {
    void emitEvent(emu, portal, {
      event: 'ONIMCONNECTORDIALOGSTART',
      data: dialogData(portal, chat, session),
      clientId: owner,
      triggerUserId,
    })
  }
  return session
}

export function addMessage(
  portal: Portal,
  chat: OlChat,
  fields: Pick<ImMessage, 'author' | 'authorId' | 'text' | 'files' | 'connectorMid'> & Partial<ImMessage>,
): ImMessage {
  const message: ImMessage = {
    id: portal.next('message'),
    chatId: chat.id,
    date: Math.floor(Date.now() / 1000),
    sending: false,
    read: false,
    edited: false,
    deleted: false,
    vote: null,
    system: false,
    ...fields,
  }
  chat.messages.push(message)
  return message
}

export function findMessage(portal: Portal, messageId: number): { chat: OlChat; message: ImMessage } | null {
  for (const chat of portal.chats.values()) {
    const message = chat.messages.find((m) => m.id === messageId)
    if (message) return { chat, message }
  }
  return null
}
