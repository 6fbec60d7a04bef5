/**
 * @module `telegram_message_refs`: where one Telegram account last saw each "min" peer (mtcute's reference
 * messages repository): ids only.
 */
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

export class TelegramMessageRefRepository {
  constructor(private readonly sql: Sql) {}

  async store(accountId: string, peerId: number, chatId: number, msgId: number, db: Queryable = this.sql) {
    await db`
      insert into telegram_message_refs (account_id, peer_id, chat_id, msg_id)
      values (${accountId}, ${peerId}, ${chatId}, ${msgId})
      on conflict do nothing`
  }

  /** @returns one message the peer was seen in, as [chat id, message id]. */
  async getByPeer(accountId: string, peerId: number, db: Queryable = this.sql) {
    const [row] = await db<{ chatId: string; msgId: number }[]>`
      select chat_id, msg_id from telegram_message_refs
      where account_id = ${accountId} and peer_id = ${peerId} limit 1`
    return row ? ([Number(row.chatId), row.msgId] as [number, number]) : null
  }

  async delete(accountId: string, chatId: number, msgIds: number[], db: Queryable = this.sql) {
    if (msgIds.length === 0) return
    await db`
      delete from telegram_message_refs
      where account_id = ${accountId} and chat_id = ${chatId} and msg_id = any(${msgIds}::int[])`
  }

  async deleteByPeer(accountId: string, peerId: number, db: Queryable = this.sql) {
    await db`delete from telegram_message_refs where account_id = ${accountId} and peer_id = ${peerId}`
  }

  /** @returns how many refs were deleted. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_message_refs where account_id = ${accountId}`).count
  }
}
