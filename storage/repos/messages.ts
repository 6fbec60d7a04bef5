/**
 * @module `messages`: metadata of relayed messages (I5), kept 90 days (R3). The table is partitioned by
 * `sent_at` (origin time) into UTC days, so retention drops whole partitions (`dropOlderThan`).
 * Dedup: a repeat of a remote message carries the same origin id and origin time, so it hits the unique key.
 */
import type { Sql } from '../db.ts'
import { type Queryable, utcDay } from './common.ts'

export type MessageDirection = 'in' | 'out'
export type MessageStatus = 'received' | 'queued' | 'delivered' | 'read' | 'failed' | 'deleted'

export interface Message {
  id: string
  accountId: string
  chatId: string
  direction: MessageDirection
  /** Id on the side it came from (messenger for `in`, Bitrix24 for `out`). */
  originId: string
  /** Id on the other side, known once delivered. */
  targetId: string | null
  status: MessageStatus
  /** Origin time: the messenger's date (`in`) or the Bitrix24 event time (`out`). */
  sentAt: Date
  deliveredAt: Date | null
  readAt: Date | null
  editedAt: Date | null
  /** Bitrix24 user an account owner's own message was shown as (`in` only); null for a customer's. */
  employeeId: string | null
  /** IM message id of the portal's echo of an owner's own message, once recognised (`echo-guard.ts`). */
  echoId: string | null
}

export interface MessageInput {
  accountId: string
  chatId: string
  originId: string
  sentAt: Date
  targetId?: string | null
  status?: MessageStatus
  /** The account owner's own message, sent to the portal as this employee's. */
  employeeId?: string | null
}

/** An operator message that may be the portal's echo of an owner's own message (see `claimEcho`). */
export interface EchoCandidate {
  chatId: string
  /** `message.user_id` of the event. */
  employeeId: string
  /** `im.message_id` of the event. */
  echoId: string
  /** Rows delivered before this are no longer waiting for an echo. */
  deliveredSince: Date
}

/** A message by its origin id (add `sentAt` when known: it prunes the partitions searched) or target id. */
export type MessageRef =
  | { accountId: string; direction: MessageDirection; originId: string; sentAt?: Date }
  | { accountId: string; targetId: string }

export interface DropResult {
  droppedPartitions: number
  deletedRows: number
}

export class MessageRepository {
  constructor(private readonly sql: Sql) {}

  /** Records a customer's message once. @returns `created: false` for a repeat (dedup). */
  recordInbound(input: MessageInput, db: Queryable = this.sql) {
    return this.#record('in', input, 'received', db)
  }

  /** Records an operator's message once. @returns `created: false` for a repeat (dedup). */
  recordOutbound(input: MessageInput, db: Queryable = this.sql) {
    return this.#record('out', input, 'queued', db)
  }

  async #record(
    direction: MessageDirection,
    input: MessageInput,
    status: MessageStatus,
    db: Queryable,
  ): Promise<{ created: boolean; message: Message }> {
    const [row] = await db<Message[]>`
      insert into messages (
        account_id, chat_id, direction, origin_id, target_id, status, sent_at, employee_id
      )
      values (
        ${input.accountId}, ${input.chatId}, ${direction}, ${input.originId}, ${input.targetId ?? null},
        ${input.status ?? status}, ${input.sentAt}, ${input.employeeId ?? null}
      )
      on conflict (account_id, origin_id, direction, sent_at) do nothing
      returning *`
    if (row) return { created: true, message: row }
    // A separate statement: it sees the row a concurrent inserter has just committed.
    const [existing] = await db<Message[]>`
      select * from messages
      where account_id = ${input.accountId} and origin_id = ${input.originId} and direction = ${direction}
        and sent_at = ${input.sentAt}`
    return { created: false, message: existing! }
  }

  /**
   * Messenger ids of the account's messages in a chat recorded as delivered since `since` (minus a minute of
   * clock skew): what an in-doubt resend must not mistake for its own message.
   */
  async outboundTargetsSince(chatId: string, since: Date, db: Queryable = this.sql): Promise<string[]> {
    const rows = await db<{ targetId: string }[]>`
      select target_id from messages
      where chat_id = ${chatId} and direction = 'out' and target_id is not null
        and sent_at >= ${since}::timestamptz - interval '1 day'
        and delivered_at >= ${since}::timestamptz - interval '1 minute'`
    return rows.map((row) => row.targetId)
  }

  async findByOrigin(
    accountId: string,
    direction: MessageDirection,
    originId: string,
    db: Queryable = this.sql,
  ): Promise<Message | undefined> {
    const [row] = await db<Message[]>`
      select * from messages where ${this.#where(db, { accountId, direction, originId })}
      order by sent_at desc limit 1`
    return row
  }

  async findByTarget(
    accountId: string,
    targetId: string,
    db: Queryable = this.sql,
  ): Promise<Message | undefined> {
    const [row] = await db<Message[]>`
      select * from messages where ${this.#where(db, { accountId, targetId })}
      order by sent_at desc limit 1`
    return row
  }

  /**
   * Pairs an operator event with the owner's own message it echoes, once: the row already paired with this
   * echo (a repeat of the event), else the chat's oldest owner's message sent as the same employee that still
   * awaits its echo — not deleted, and not yet delivered or delivered since `deliveredSince`. The row is locked
   * (not skipped: the portal sender may hold it while it records the delivery the echo follows); a second
   * echo waiting on it finds it paired and takes the next one, so two echoes never share a row.
   * @returns the paired row, or undefined when the event is no echo
   */
  async claimEcho(candidate: EchoCandidate, db: Queryable = this.sql): Promise<Message | undefined> {
    const { chatId, employeeId, echoId, deliveredSince } = candidate
    const [paired] = await db<Message[]>`
      select * from messages
      where chat_id = ${chatId} and employee_id = ${employeeId} and echo_id = ${echoId} limit 1`
    if (paired) return paired
    const [claimed] = await db<Message[]>`
      update messages set echo_id = ${echoId}
      where (id, sent_at) = (
        select id, sent_at from messages
        where chat_id = ${chatId} and employee_id = ${employeeId} and direction = 'in' and echo_id is null
          and status <> 'deleted' and (delivered_at is null or delivered_at >= ${deliveredSince})
        order by sent_at, id limit 1
        for update
      )
      returning *`
    return claimed
  }

  async listByChat(chatId: string, { limit = 100 } = {}, db: Queryable = this.sql): Promise<Message[]> {
    return db<Message[]>`
      select * from messages where chat_id = ${chatId} order by sent_at desc, id desc limit ${limit}`
  }

  /** Delivered to the other side, which gave it `targetId`. A read or deleted message keeps its status. */
  async markDelivered(
    ref: MessageRef,
    { targetId, at = new Date() }: { targetId?: string; at?: Date } = {},
    db: Queryable = this.sql,
  ): Promise<boolean> {
    const result = await db`
      update messages set
        target_id = coalesce(${targetId ?? null}, target_id),
        status = case when status in ('read', 'deleted') then status else 'delivered' end,
        delivered_at = coalesce(delivered_at, ${at})
      where ${this.#where(db, ref)}`
    return result.count > 0
  }

  async markRead(ref: MessageRef, at: Date = new Date(), db: Queryable = this.sql): Promise<boolean> {
    const result = await db`
      update messages set
        status = case when status = 'deleted' then status else 'read' end,
        read_at = coalesce(read_at, ${at})
      where ${this.#where(db, ref)}`
    return result.count > 0
  }

  /** Read receipts "up to here": every unread message of the chat and direction sent at or before `until`. */
  async markChatReadUntil(
    chatId: string,
    direction: MessageDirection,
    until: Date,
    at: Date = new Date(),
    db: Queryable = this.sql,
  ): Promise<number> {
    const result = await db`
      update messages set status = 'read', read_at = ${at}
      where chat_id = ${chatId} and direction = ${direction} and sent_at <= ${until}
        and read_at is null and status <> 'deleted'`
    return result.count
  }

  async markEdited(ref: MessageRef, at: Date = new Date(), db: Queryable = this.sql): Promise<boolean> {
    const result = await db`
      update messages set edited_at = greatest(edited_at, ${at}) where ${this.#where(db, ref)}`
    return result.count > 0
  }

  async setStatus(ref: MessageRef, status: MessageStatus, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`update messages set status = ${status} where ${this.#where(db, ref)}`
    return result.count > 0
  }

  /**
   * Creates the daily partitions for the UTC days `from`..`to` (inclusive), moving rows of those days out
   * of the default partition. Idempotent. @returns how many partitions were created.
   */
  async ensurePartitions(from: Date, to: Date, db: Queryable = this.sql): Promise<number> {
    const [row] = await db<{ created: number }[]>`
      select messages_ensure_partitions(${utcDay(from)}::date, ${utcDay(to)}::date) as created`
    return row!.created
  }

  /** The partitions from `daysBehind` days before `now` to `daysAhead` days after (periodic maintenance). */
  async ensurePartitionsAround(
    now: Date,
    { daysBehind = 1, daysAhead = 7 }: { daysBehind?: number; daysAhead?: number } = {},
    db: Queryable = this.sql,
  ): Promise<void> {
    const day = 86_400_000
    await this.ensurePartitions(
      new Date(now.getTime() - daysBehind * day),
      new Date(now.getTime() + daysAhead * day),
      db,
    )
  }

  /** R3: drops the partitions entirely older than `cutoff` and deletes older rows left elsewhere. */
  async dropOlderThan(cutoff: Date, db: Queryable = this.sql): Promise<DropResult> {
    const [row] = await db<{ droppedPartitions: number; deletedRows: string }[]>`
      select dropped_partitions, deleted_rows from messages_drop_before(${cutoff})`
    return { droppedPartitions: row!.droppedPartitions, deletedRows: Number(row!.deletedRows) }
  }

  /** Names of the daily partitions, oldest first (operations and tests). */
  async listPartitions(db: Queryable = this.sql): Promise<string[]> {
    const rows = await db<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'messages'::regclass and c.relname <> 'messages_default'
      order by c.relname`
    return rows.map((row) => row.name)
  }

  #where(db: Queryable, ref: MessageRef) {
    if ('targetId' in ref) return db`account_id = ${ref.accountId} and target_id = ${ref.targetId}`
    const sentAt = ref.sentAt ? db`and sent_at = ${ref.sentAt}` : db``
    return db`
      account_id = ${ref.accountId} and origin_id = ${ref.originId}
      and direction = ${ref.direction} ${sentAt}`
  }
}
