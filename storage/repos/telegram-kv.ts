/**
 * @module `telegram_kv`: mtcute's key-value state of one account (update state, DC options, salts, the
 * current user), every value sealed (S4).
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

const CONTEXT = 'telegram_kv.value'

export class TelegramKvRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  async set(accountId: string, key: string, value: Uint8Array, db: Queryable = this.sql) {
    const sealed = this.secrets.seal(value, CONTEXT)
    await db`
      insert into telegram_kv (account_id, key, value_enc) values (${accountId}, ${key}, ${sealed})
      on conflict (account_id, key) do update set value_enc = excluded.value_enc`
  }

  async get(accountId: string, key: string, db: Queryable = this.sql): Promise<Uint8Array | null> {
    const [row] = await db<{ valueEnc: Buffer }[]>`
      select value_enc from telegram_kv where account_id = ${accountId} and key = ${key}`
    return row ? new Uint8Array(this.secrets.open(row.valueEnc, CONTEXT)) : null
  }

  async delete(accountId: string, key: string, db: Queryable = this.sql) {
    await db`delete from telegram_kv where account_id = ${accountId} and key = ${key}`
  }

  /** @returns how many entries were deleted. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_kv where account_id = ${accountId}`).count
  }
}
