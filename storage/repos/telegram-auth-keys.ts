/**
 * @module `telegram_auth_keys`: mtcute's permanent and temporary (PFS) auth keys of one account, sealed (S4).
 * mtcute requires these writes to be applied at once, so every method is one statement.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

const CONTEXT = 'telegram_auth_keys.key'
/** `temp_index` of the permanent key of a DC. */
const PERMANENT = -1

export class TelegramAuthKeyRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  async set(accountId: string, dc: number, key: Uint8Array | null, db: Queryable = this.sql) {
    await this.setAt(accountId, dc, PERMANENT, key, null, db)
  }

  get(accountId: string, dc: number, db: Queryable = this.sql): Promise<Uint8Array | null> {
    return this.getAt(accountId, dc, PERMANENT, null, db)
  }

  async setTemp(
    accountId: string,
    dc: number,
    index: number,
    key: Uint8Array | null,
    expires: number,
    db: Queryable = this.sql,
  ) {
    await this.setAt(accountId, dc, checkIndex(index), key, expires, db)
  }

  /** The temporary key of that connection while `now` has not passed its expiry. */
  getTemp(accountId: string, dc: number, index: number, now: number, db: Queryable = this.sql) {
    return this.getAt(accountId, dc, checkIndex(index), now, db)
  }

  async deleteByDc(accountId: string, dc: number, db: Queryable = this.sql) {
    await db`delete from telegram_auth_keys where account_id = ${accountId} and dc = ${dc}`
  }

  /** @returns how many keys were deleted. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_auth_keys where account_id = ${accountId}`).count
  }

  private async setAt(
    accountId: string,
    dc: number,
    index: number,
    key: Uint8Array | null,
    expires: number | null,
    db: Queryable,
  ) {
    if (key === null) {
      await db`
        delete from telegram_auth_keys
        where account_id = ${accountId} and dc = ${dc} and temp_index = ${index}`
      return
    }
    const sealed = this.secrets.seal(key, CONTEXT)
    await db`
      insert into telegram_auth_keys (account_id, dc, temp_index, key_enc, expires)
      values (${accountId}, ${dc}, ${index}, ${sealed}, ${expires})
      on conflict (account_id, dc, temp_index)
      do update set key_enc = excluded.key_enc, expires = excluded.expires`
  }

  private async getAt(accountId: string, dc: number, index: number, now: number | null, db: Queryable) {
    const [row] = await db<{ keyEnc: Buffer; expires: string | null }[]>`
      select key_enc, expires from telegram_auth_keys
      where account_id = ${accountId} and dc = ${dc} and temp_index = ${index}`
    if (!row) return null
    if (now !== null && now > Number(row.expires)) return null
    return new Uint8Array(this.secrets.open(row.keyEnc, CONTEXT))
  }
}

function checkIndex(index: number): number {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`temp key index must be >= 0: ${index}`)
  return index
}
