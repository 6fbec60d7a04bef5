/**
 * @module `max_updates`: the inbox of MAX webhook deliveries (reference/max-bot-api.md §4.2). The endpoint
 * inserts the raw update sealed (it carries customers' texts) under its identity key, once; the process that
 * runs the account reads pending rows in arrival order and marks them handled, which drops the body and
 * keeps the key so a late repeat is still recognised. Handled keys go after the retry window.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

/** Wake-up channel (storage/notify.ts) of a stored update; the payload is the account id. */
export const MAX_UPDATES_CHANNEL = 'olchat_max_updates'

const CONTEXT = 'max_updates.body'

export interface MaxUpdateInput {
  accountId: string
  /** Identity of the update (type + message id …), see `src/connectors/max/updates.ts`. */
  key: string
  type: string
  /** The update exactly as MAX sent it (the text keeps int64 values intact). */
  raw: string
}

export interface PendingMaxUpdate {
  id: string
  type: string
  /** The parsed update. */
  body: unknown
  receivedAt: Date
}

export class MaxUpdateRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  /** Pending rows of an account above `afterId`, oldest first. */
  async pending(
    accountId: string,
    afterId: string | undefined,
    limit: number,
    db: Queryable = this.sql,
  ): Promise<PendingMaxUpdate[]> {
    const rows = await db<{ id: string; updateType: string; bodyEnc: Buffer; receivedAt: Date }[]>`
      select id, update_type, body_enc, received_at from max_updates
      where account_id = ${accountId} and handled_at is null and id > ${afterId ?? '0'}
      order by id
      limit ${limit}`
    return rows.map((row) => ({
      id: row.id,
      type: row.updateType,
      body: JSON.parse(this.secrets.open(row.bodyEnc, CONTEXT).toString('utf8')),
      receivedAt: row.receivedAt,
    }))
  }

  /** Drops the bodies of handed-over rows (keys stay for dedup). */
  async markHandled(ids: readonly string[], db: Queryable = this.sql): Promise<number> {
    if (ids.length === 0) return 0
    const result = await db`
      update max_updates set handled_at = now(), body_enc = null
      where id in ${db(ids as string[])} and handled_at is null`
    return result.count
  }

  /** Handled rows older than `before` (their retry window is over). */
  async deleteHandledBefore(accountId: string, before: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`
      delete from max_updates where account_id = ${accountId} and handled_at < ${before}`
    return result.count
  }

  /**
   * Stores an update once (a repeated key stores nothing: `created: false`), and only while the account's
   * session still holds `sessionKey` (its webhook secret), in one
   * statement that share-locks that row: a logout deleting the secret waits for an insert already under way
   * and then deletes its row with the rest, and an insert after it stores nothing (`live: false`).
   */
  async insertWhileLive(
    input: MaxUpdateInput,
    sessionKey: string,
    db: Queryable = this.sql,
  ): Promise<{ live: boolean; created: boolean }> {
    const sealed = this.secrets.seal(input.raw, CONTEXT)
    const [row] = await db<{ live: number; created: number }[]>`
      with live as (
        select 1 from account_sessions
        where account_id = ${input.accountId} and key = ${sessionKey}
        for share
      ), stored as (
        insert into max_updates (account_id, update_key, update_type, body_enc)
        select ${input.accountId}, ${input.key}, ${input.type}, ${sealed} from live
        on conflict (account_id, update_key) do nothing
        returning id
      )
      select (select count(*) from live)::int as live, (select count(*) from stored)::int as created`
    return { live: row!.live > 0, created: row!.created > 0 }
  }

  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from max_updates where account_id = ${accountId}`
    return result.count
  }

  async countPending(accountId: string, db: Queryable = this.sql): Promise<number> {
    const [row] = await db<{ n: number }[]>`
      select count(*)::int as n from max_updates where account_id = ${accountId} and handled_at is null`
    return row!.n
  }
}
