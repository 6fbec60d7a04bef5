/**
 * @module `account_sessions`: a generic key/value store per account for messenger session state (auth keys,
 * update state, peers). Every value is sealed (S4) and all of them go when the account is disconnected (R1).
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

export interface SessionEntry {
  key: string
  value: Buffer
  updatedAt: Date
}

const CONTEXT = 'account_sessions.value'

export class AccountSessionRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  async set(accountId: string, key: string, value: Uint8Array | string, db: Queryable = this.sql) {
    const sealed = this.secrets.seal(value, CONTEXT)
    await db`
      insert into account_sessions (account_id, key, value_enc) values (${accountId}, ${key}, ${sealed})
      on conflict (account_id, key) do update set value_enc = excluded.value_enc, updated_at = now()`
  }

  async get(accountId: string, key: string, db: Queryable = this.sql): Promise<Buffer | undefined> {
    const [row] = await db<{ valueEnc: Buffer }[]>`
      select value_enc from account_sessions where account_id = ${accountId} and key = ${key}`
    return row && this.secrets.open(row.valueEnc, CONTEXT)
  }

  async getText(accountId: string, key: string, db: Queryable = this.sql): Promise<string | undefined> {
    return (await this.get(accountId, key, db))?.toString('utf8')
  }

  async list(accountId: string, db: Queryable = this.sql): Promise<SessionEntry[]> {
    const rows = await db<{ key: string; valueEnc: Buffer; updatedAt: Date }[]>`
      select key, value_enc, updated_at from account_sessions where account_id = ${accountId} order by key`
    return rows.map((row) => ({
      key: row.key,
      value: this.secrets.open(row.valueEnc, CONTEXT),
      updatedAt: row.updatedAt,
    }))
  }

  /** @returns whether the key existed. */
  async delete(accountId: string, key: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from account_sessions where account_id = ${accountId} and key = ${key}`
    return result.count > 0
  }

  /** Drops the whole session of an account (disconnect, R1). @returns how many keys were deleted. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from account_sessions where account_id = ${accountId}`
    return result.count
  }
}
