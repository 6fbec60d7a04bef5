/**
 * @module `telegram_message_chats`: which chat each relayed message of a Telegram account is in. Telegram
 * numbers private-chat and group messages once per account and reports their deletion with the ids only, so
 * this map turns a deletion back into (chat, ids). A row also says the message was handed on to the core:
 * a catch-up that brings it again is dropped at the source. Pruned like message metadata (R3).
 */
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

export class TelegramMessageChatRepository {
  constructor(private readonly sql: Sql) {}

  async remember(accountId: string, msgId: number, chatId: number, db: Queryable = this.sql) {
    await db`
      insert into telegram_message_chats (account_id, msg_id, chat_id) values (${accountId}, ${msgId}, ${chatId})
      on conflict (account_id, msg_id) do update set chat_id = excluded.chat_id, seen_at = now()`
  }

  /** Whether the message is in the map (it was handed on before). */
  async has(accountId: string, msgId: number, db: Queryable = this.sql): Promise<boolean> {
    const rows = await db`
      select 1 from telegram_message_chats where account_id = ${accountId} and msg_id = ${msgId}`
    return rows.length > 0
  }

  /** @returns the known ids grouped by chat; unknown ids are left out. */
  async chatsOf(accountId: string, msgIds: number[], db: Queryable = this.sql) {
    const byChat = new Map<number, number[]>()
    if (msgIds.length === 0) return byChat
    const rows = await db<{ msgId: number; chatId: string }[]>`
      select msg_id, chat_id from telegram_message_chats
      where account_id = ${accountId} and msg_id = any(${msgIds}::int[]) order by msg_id`
    for (const row of rows) {
      const chatId = Number(row.chatId)
      byChat.set(chatId, [...(byChat.get(chatId) ?? []), row.msgId])
    }
    return byChat
  }

  /** Forgets entries older than `before` (all accounts). @returns how many were deleted. */
  async prune(before: Date, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_message_chats where seen_at < ${before}`).count
  }

  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_message_chats where account_id = ${accountId}`).count
  }
}
