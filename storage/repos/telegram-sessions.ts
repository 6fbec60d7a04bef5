/**
 * @module The Telegram session tables of one repository object (`repos.telegramSessions`): what the mtcute
 * storage provider reads and writes, and the one call that forgets an account's session (disconnect, R1/R2).
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'
import { TelegramAuthKeyRepository } from './telegram-auth-keys.ts'
import { TelegramKvRepository } from './telegram-kv.ts'
import { TelegramMessageChatRepository } from './telegram-message-chats.ts'
import { TelegramMessageRefRepository } from './telegram-message-refs.ts'
import { TelegramPeerRepository } from './telegram-peers.ts'

export class TelegramSessionRepository {
  readonly authKeys: TelegramAuthKeyRepository
  readonly kv: TelegramKvRepository
  readonly peers: TelegramPeerRepository
  readonly refs: TelegramMessageRefRepository
  readonly messageChats: TelegramMessageChatRepository

  constructor(
    private readonly sql: Sql,
    secrets: SecretBox,
  ) {
    this.authKeys = new TelegramAuthKeyRepository(sql, secrets)
    this.kv = new TelegramKvRepository(sql, secrets)
    this.peers = new TelegramPeerRepository(sql, secrets)
    this.refs = new TelegramMessageRefRepository(sql)
    this.messageChats = new TelegramMessageChatRepository(sql)
  }

  /** Deletes every Telegram session row of the account. @returns how many rows went. */
  async deleteAccount(accountId: string, db?: Queryable): Promise<number> {
    const run = async (tx: Queryable) => {
      let count = 0
      count += await this.authKeys.deleteAll(accountId, tx)
      count += await this.kv.deleteAll(accountId, tx)
      count += await this.peers.deleteAll(accountId, tx)
      count += await this.refs.deleteAll(accountId, tx)
      count += await this.messageChats.deleteAll(accountId, tx)
      return count
    }
    return db ? run(db) : this.sql.begin(run)
  }
}
