/**
 * @module `deliveries`: the durable relay queue (R8). Bodies are sealed (message text is personal data) and
 * dropped the moment a row is done or dead; finished rows keep only metadata and their idempotency key.
 *
 * Per-chat order: `claim` never hands out a row while an earlier row of the same chat and direction is in
 * flight, or pending and not claimed by this very call. Several claimers run at once with SKIP LOCKED.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { NotFoundError, type Queryable } from './common.ts'

export type DeliveryDirection = 'to_portal' | 'to_messenger'
export type DeliveryKind = 'message' | 'edit' | 'delete' | 'read' | 'status'
export type DeliveryStatus = 'pending' | 'in_flight' | 'done' | 'dead'

export interface Delivery {
  id: string
  accountId: string
  chatId: string | null
  direction: DeliveryDirection
  kind: DeliveryKind
  idempotencyKey: string
  /** The opened body; null once the row is done or dead (R8). */
  payload: unknown
  status: DeliveryStatus
  attempts: number
  availableAt: Date
  lockedUntil: Date | null
  /** Instance id of the claimer while in flight (when the repository was given one). */
  claimedBy: string | null
  claimedAt: Date | null
  lastError: string | null
  createdAt: Date
  expiresAt: Date
  finishedAt: Date | null
}

type DeliveryRow = Omit<Delivery, 'payload'> & { payloadEnc: Buffer | null }

export interface DeliveryInput {
  accountId: string
  chatId?: string | null
  direction: DeliveryDirection
  kind: DeliveryKind
  /** Globally unique: namespace it, e.g. `tg:<account>:<chat>:<message>`. */
  idempotencyKey: string
  /** Any JSON value; sealed before it reaches PostgreSQL. */
  payload: unknown
  /** Not before this time (default: now). */
  availableAt?: Date
  /** Dead letter after this time (default: the table's 7 days). */
  expiresAt?: Date
}

/** Which queue to claim from: one account's (account actor), one direction's (portal side), or both. */
export type ClaimScope =
  | { accountId: string; direction?: DeliveryDirection }
  | { accountId?: string; direction: DeliveryDirection }

export interface DeliveryOptions {
  /** Attempts after which a failing row is dead-lettered. @default 10 */
  maxAttempts?: number
  /**
   * This process's instance id (`instances.id`), written on every row it claims, so its claims go back to
   * the queue soon after it dies (`requeueExpiredLocks`) instead of when their lock runs out.
   */
  claimer?: string
  /** An instance whose heartbeat is older than this is dead, and so are its claims. @default 20 s (the lease TTL) */
  claimerDeadAfterMs?: number
}

export class DeliveryNotFoundError extends NotFoundError {
  override name = 'DeliveryNotFoundError'
  constructor(key: string) {
    super('delivery', key)
  }
}

const CONTEXT = 'deliveries.payload'
/** Rows per INSERT in `enqueueMany` (8 parameters each, far below the protocol's 65535). */
const BATCH = 500
const MAX_ERROR_LENGTH = 2000

export class DeliveryRepository {
  readonly maxAttempts: number
  readonly claimer: string | null
  readonly claimerDeadAfterMs: number

  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
    { maxAttempts = 10, claimer, claimerDeadAfterMs = 20_000 }: DeliveryOptions = {},
  ) {
    this.maxAttempts = maxAttempts
    this.claimer = claimer ?? null
    this.claimerDeadAfterMs = claimerDeadAfterMs
  }

  /** Adds a job once. A repeated idempotency key returns the existing row with `created: false`. */
  async enqueue(
    input: DeliveryInput,
    db: Queryable = this.sql,
  ): Promise<{ delivery: Delivery; created: boolean }> {
    const [result] = await this.enqueueMany([input], db)
    return result!
  }

  /** Batched multi-row insert; results come back in input order, existing rows for known keys. */
  async enqueueMany(
    inputs: DeliveryInput[],
    db: Queryable = this.sql,
  ): Promise<{ delivery: Delivery; created: boolean }[]> {
    const byKey = new Map<string, { delivery: Delivery; created: boolean }>()
    for (let at = 0; at < inputs.length; at += BATCH) {
      const batch = inputs.slice(at, at + BATCH)
      // One fragment per row; an array of fragments is joined with spaces, so the comma leads each row.
      const rows = batch.map(
        (input, index) => db`${index === 0 ? db`` : db`,`} (
          ${input.accountId}::uuid, ${input.chatId ?? null}::bigint, ${input.direction}, ${input.kind},
          ${input.idempotencyKey}, ${this.secrets.seal(JSON.stringify(input.payload ?? null), CONTEXT)},
          coalesce(${input.availableAt ?? null}::timestamptz, now()),
          coalesce(${input.expiresAt ?? null}::timestamptz, now() + interval '7 days')
        )`,
      )
      const inserted = await db<DeliveryRow[]>`
        insert into deliveries (
          account_id, chat_id, direction, kind, idempotency_key, payload_enc, available_at, expires_at
        )
        values ${rows}
        on conflict (idempotency_key) do nothing
        returning *`
      for (const row of inserted) byKey.set(row.idempotencyKey, { delivery: this.#open(row), created: true })
      const missing = batch.map((input) => input.idempotencyKey).filter((key) => !byKey.has(key))
      if (missing.length > 0) {
        const existing = await db<DeliveryRow[]>`
          select * from deliveries where idempotency_key = any(${db.array(missing)}::text[])`
        for (const row of existing)
          byKey.set(row.idempotencyKey, { delivery: this.#open(row), created: false })
      }
    }
    // A key given twice in one call was created (at most) by its first occurrence.
    const seen = new Set<string>()
    return inputs.map((input) => {
      const result = byKey.get(input.idempotencyKey)!
      const repeated = seen.has(input.idempotencyKey)
      seen.add(input.idempotencyKey)
      return repeated ? { delivery: result.delivery, created: false } : result
    })
  }

  /** @throws DeliveryNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Delivery> {
    const [row] = await db<DeliveryRow[]>`select * from deliveries where id = ${id}`
    if (!row) throw new DeliveryNotFoundError(id)
    return this.#open(row)
  }

  /**
   * Takes up to `limit` due rows, oldest first, and locks them for `lockMs`. Rows locked by a concurrent
   * claimer are skipped, and so is every later row of their chat: per-chat order holds across claimers.
   */
  async claim(scope: ClaimScope, limit = 20, lockMs = 60_000, db: Queryable = this.sql): Promise<Delivery[]> {
    const account = scope.accountId === undefined ? db`` : db`and d.account_id = ${scope.accountId}`
    const direction = scope.direction === undefined ? db`` : db`and d.direction = ${scope.direction}`
    // candidates: due rows not queued behind an in-flight or backing-off row of their chat, locked (SKIP
    // LOCKED). ready: drops a candidate when an earlier live row of its chat was not locked by this call
    // (a concurrent claimer holds it), so a later row never overtakes it.
    const rows = await db<DeliveryRow[]>`
      with candidates as (
        select d.id from deliveries d
        where d.status = 'pending' and d.available_at <= now() and d.expires_at > now()
          ${account} ${direction}
          and not exists (
            select 1 from deliveries e
            where e.chat_id = d.chat_id and e.direction = d.direction and e.id < d.id
              and (e.status = 'in_flight' or (e.status = 'pending' and e.available_at > now()
                and e.expires_at > now()))
          )
        order by d.id
        limit ${limit}
        for update of d skip locked
      ),
      ready as (
        select d.id from deliveries d join candidates c on c.id = d.id
        where d.chat_id is null or not exists (
          select 1 from deliveries e
          where e.chat_id = d.chat_id and e.direction = d.direction and e.id < d.id
            and (e.status = 'in_flight' or (e.status = 'pending' and e.expires_at > now()))
            and e.id not in (select id from candidates)
        )
      )
      update deliveries u
      set status = 'in_flight', locked_until = now() + ${lockMs}::float8 * interval '1 millisecond',
        claimed_by = ${this.claimer}, claimed_at = case when ${this.claimer}::text is null then null else now() end
      from ready
      where u.id = ready.id
      returning u.*`
    return rows.map((row) => this.#open(row)).sort((a, b) => Number(a.id) - Number(b.id))
  }

  /**
   * Puts claimed rows back untouched: no attempt counted, body kept. For conditions that are not the rows'
   * fault (the portal needs re-authorisation, the rate budget is spent, nothing was sent). `availableAt`
   * delays them (and, by claim's rule, every later row of their chats); `error` is kept for admins.
   * @returns how many rows were released.
   */
  async release(
    ids: string[],
    { availableAt, error }: { availableAt?: Date; error?: string } = {},
    db: Queryable = this.sql,
  ): Promise<number> {
    if (ids.length === 0) return 0
    const result = await db`
      update deliveries set
        status = 'pending', locked_until = null, claimed_by = null, claimed_at = null,
        available_at = coalesce(${availableAt ?? null}::timestamptz, available_at),
        last_error = coalesce(${error?.slice(0, MAX_ERROR_LENGTH) ?? null}, last_error)
      where id = any(${db.array(ids)}::bigint[]) and status = 'in_flight'`
    return result.count
  }

  /** Accounts that have due rows in `direction` (what a queue worker polls), oldest work first. */
  async listDueAccounts(
    direction: DeliveryDirection,
    limit = 100,
    db: Queryable = this.sql,
  ): Promise<string[]> {
    const rows = await db<{ accountId: string }[]>`
      select account_id from deliveries
      where status = 'pending' and direction = ${direction} and available_at <= now() and expires_at > now()
      group by account_id
      order by min(id)
      limit ${limit}`
    return rows.map((row) => row.accountId)
  }

  /** Delivered: the body is dropped at once (R8), the row stays as a tombstone for its idempotency key. */
  async complete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`
      update deliveries set
        status = 'done', payload_enc = null, locked_until = null, claimed_by = null, claimed_at = null, last_error = null, finished_at = now()
      where id = ${id} and status in ('pending', 'in_flight')`
    return result.count > 0
  }

  /**
   * A failed attempt: retried at `retryAt`, or dead-lettered once `maxAttempts` is reached or the retry would
   * fall past `expires_at`. A dead letter keeps its body until `expires_at` (R8: at most 7 days) so an admin can
   * retry it; `expire()` drops it then. @returns the new status.
   */
  async fail(id: string, error: string, retryAt: Date, db: Queryable = this.sql): Promise<DeliveryStatus> {
    const [row] = await db<{ status: DeliveryStatus }[]>`
      with next as (
        select id, (attempts + 1 >= ${this.maxAttempts} or ${retryAt} >= expires_at) as dead
        from deliveries where id = ${id} and status in ('pending', 'in_flight')
      )
      update deliveries d set
        attempts = d.attempts + 1,
        last_error = ${error.slice(0, MAX_ERROR_LENGTH)},
        status = case when next.dead then 'dead' else 'pending' end,
        finished_at = case when next.dead then now() end,
        available_at = case when next.dead then d.available_at else ${retryAt} end,
        locked_until = null, claimed_by = null, claimed_at = null
      from next
      where d.id = next.id
      returning d.status`
    if (!row) throw new DeliveryNotFoundError(id)
    return row.status
  }

  /**
   * Rows whose claimer vanished go back to pending: their lock expired, or the instance that claimed them
   * stopped heartbeating (killed or frozen) at least `claimerDeadAfterMs` ago and claimed them before that.
   * The lost attempt counts, so a body that crashes its worker every time is dead-lettered in the end.
   * @returns how many rows were released.
   */
  async requeueExpiredLocks(db: Queryable = this.sql): Promise<number> {
    const deadAfter = `${this.claimerDeadAfterMs} milliseconds`
    return this.#requeue(
      db,
      db`(locked_until < now() or (
        claimed_by is not null and claimed_at < now() - ${deadAfter}::interval
        and not exists (
          select 1 from instances i where i.id = d.claimed_by and i.heartbeat_at > now() - ${deadAfter}::interval
        )))`,
      'lock expired',
    )
  }

  /**
   * Rows this process claimed for one account and direction and still holds although no drain of it is
   * running (a drain that died half-way, e.g. when the database went away): back to pending at once rather
   * than when their lock runs out. Only a caller that runs one drain per account and direction at a time
   * may call it, before claiming. The attempt counts (the send may have happened). @returns how many.
   */
  async releaseOwnClaims(
    accountId: string,
    direction: DeliveryDirection,
    db: Queryable = this.sql,
  ): Promise<number> {
    if (this.claimer === null) return 0
    return this.#requeue(
      db,
      db`claimed_by = ${this.claimer} and account_id = ${accountId} and direction = ${direction}`,
      'in doubt: drain interrupted',
    )
  }

  /** In-flight rows matching `where` back to pending (or dead at their last attempt), the attempt counted. */
  async #requeue(db: Queryable, where: ReturnType<Queryable>, reason: string): Promise<number> {
    const result = await db`
      update deliveries u set
        attempts = u.attempts + 1,
        status = case when dead then 'dead' else 'pending' end,
        finished_at = case when dead then now() end,
        last_error = coalesce(u.last_error, ${reason}),
        locked_until = null, claimed_by = null, claimed_at = null
      from (
        select id, (attempts + 1 >= ${this.maxAttempts} or expires_at <= now()) as dead
        from deliveries d
        where status = 'in_flight' and ${where}
        for update skip locked
      ) lost
      where u.id = lost.id`
    return result.count
  }

  /**
   * R8: rows past `expires_at` — pending ones and dead letters still holding a body — end as bodyless dead
   * letters; only metadata stays. @returns how many rows changed.
   */
  async expire(db: Queryable = this.sql): Promise<number> {
    const result = await db`
      update deliveries set
        status = 'dead', payload_enc = null, finished_at = coalesce(finished_at, now()),
        last_error = coalesce(last_error, 'expired')
      where expires_at <= now()
        and (status = 'pending' or (status = 'dead' and payload_enc is not null))`
    return result.count
  }

  /**
   * Dead-letters a row at once, whatever its attempts (a permanent failure). `dropBody` for a body that can never
   * be delivered (it failed validation): keeping it would only keep personal data. @returns whether it changed.
   */
  async deadLetter(
    id: string,
    reason: string,
    { dropBody = false }: { dropBody?: boolean } = {},
    db: Queryable = this.sql,
  ): Promise<boolean> {
    const result = await db`
      update deliveries set
        status = 'dead', attempts = attempts + 1, last_error = ${reason.slice(0, MAX_ERROR_LENGTH)},
        payload_enc = case when ${dropBody} then null else payload_enc end,
        finished_at = now(), locked_until = null, claimed_by = null, claimed_at = null
      where id = ${id} and status in ('pending', 'in_flight')`
    return result.count > 0
  }

  /** Drops finished tombstones (done or dead) older than `cutoff`. @returns how many. */
  async purgeFinished(cutoff: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`
      delete from deliveries where status in ('done', 'dead') and finished_at < ${cutoff}`
    return result.count
  }

  /** Queue depth per status (metrics). */
  async countByStatus(db: Queryable = this.sql): Promise<Record<DeliveryStatus, number>> {
    const rows = await db<{ status: DeliveryStatus; count: number }[]>`
      select status, count(*)::int as count from deliveries group by status`
    const counts: Record<DeliveryStatus, number> = { pending: 0, in_flight: 0, done: 0, dead: 0 }
    for (const row of rows) counts[row.status] = row.count
    return counts
  }

  #open(row: DeliveryRow): Delivery {
    const { payloadEnc, ...rest } = row
    return {
      ...rest,
      payload: payloadEnc === null ? null : JSON.parse(this.secrets.openText(payloadEnc, CONTEXT)),
    }
  }
}
