/**
 * @module The account's message log as the client needs it: which chat a message id is in (private-chat
 * deletions carry ids only — reference §3.3) and whether a message was already handed on to the core, so a
 * catch-up repeat (mtcute warns of them after an unclean stop, §3.4) is dropped at the source. Production
 * keeps it in `telegram_message_chats`; `MemoryMessageLog` serves clients without an account row.
 */
import type { TelegramMessageChatRepository } from '../../../storage/repos/telegram-message-chats.ts'

export interface MessageLog {
  /** Whether the message was handed on before. */
  handled(msgId: number): Promise<boolean>
  /** Records the message as handed on, in its chat. */
  record(msgId: number, chatId: number): Promise<void>
  /** The known ids grouped by chat; unknown ones are left out. */
  chatsOf(msgIds: number[]): Promise<Map<number, number[]>>
}

export function storedMessageLog(repo: TelegramMessageChatRepository, accountId: string): MessageLog {
  return {
    handled: (msgId) => repo.has(accountId, msgId),
    record: (msgId, chatId) => repo.remember(accountId, msgId, chatId),
    chatsOf: (msgIds) => repo.chatsOf(accountId, msgIds),
  }
}

export class MemoryMessageLog implements MessageLog {
  readonly #chats = new Map<number, number>()

  async handled(msgId: number): Promise<boolean> {
    return this.#chats.has(msgId)
  }

  async record(msgId: number, chatId: number): Promise<void> {
    this.#chats.set(msgId, chatId)
  }

  async chatsOf(msgIds: number[]): Promise<Map<number, number[]>> {
    const byChat = new Map<number, number[]>()
    for (const id of msgIds) {
      const chat = this.#chats.get(id)
      if (chat !== undefined) byChat.set(chat, [...(byChat.get(chat) ?? []), id])
    }
    return byChat
  }
}
