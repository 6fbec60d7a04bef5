/**
 * @module `inbound_events`: the inbox of verified Bitrix24 events. A row is written before the event is
 * acknowledged (Bitrix24 never retries), claimed by the inbox worker with a lease, and finished as done or
 * failed — its sealed body (operator texts, R8) is dropped the moment it finishes.
 *
 * Order: a row whose `order_key` (one Open Lines chat) has an earlier pending row held by another worker or
 * backing off is not handed out, so an edit never overtakes the message it edits.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { NotFoundError, type Queryable } from './common.ts'

export type InboundEventStatus = 'pending' | 'done' | 'failed'

export interface InboundEvent {
  id: string
  portalId: string
  event: string
  dedupKey: string
  orderKey: string | null
  /** The opened body; null once the row is finished. */
  payload: unknown
  status: InboundEventStatus
  attempts: number
  availableAt: Date
  lockedUntil: Date | null
  receivedAt: Date
  processedAt: Date | null
  lastError: string | null
}

type InboundEventRow = Omit<InboundEvent, 'payload'> & { payloadEnc: Buffer | null }

export interface InboundEventInput {
  portalId: string
  /** Upper-case event name as Bitrix24 sends it (`ONIMCONNECTORMESSAGEADD`). */
  event: string
  dedupKey: string
  orderKey?: string | null
  payload: unknown
}

export interface InboundEventOptions {
  /** Attempts after which a failing event is given up (body dropped). @default 8 */
  maxAttempts?: number
}

export class InboundEventNotFoundError extends NotFoundError {
  override name = 'InboundEventNotFoundError'
  constructor(key: string) {
    super('inbound event', key)
  }
}

const CONTEXT = 'inbound_events.payload'
const MAX_ERROR_LENGTH = 2000

export class InboundEventRepository {
  readonly maxAttempts: number

  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
    { maxAttempts = 8 }: InboundEventOptions = {},
  ) {
    this.maxAttempts = maxAttempts
  }

  /** Stores an event once; a repeated dedup key stores nothing and returns `created: false`. */
  async insert(
    input: InboundEventInput,
    db: Queryable = this.sql,
  ): Promise<{ id: string | undefined; created: boolean }> {
    const sealed = this.secrets.seal(JSON.stringify(input.payload ?? null), CONTEXT)
    const [row] = await db<{ id: string }[]>`
      insert into inbound_events (portal_id, event, dedup_key, order_key, payload_enc)
      values (${input.portalId}, ${input.event}, ${input.dedupKey}, ${input.orderKey ?? null}, ${sealed})
      on conflict (dedup_key) do nothing
      returning id`
    return { id: row?.id, created: row !== undefined }
  }

  /** @throws InboundEventNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<InboundEvent> {
    const [row] = await db<InboundEventRow[]>`select * from inbound_events where id = ${id}`
    if (!row) throw new InboundEventNotFoundError(id)
    return this.#open(row)
  }

  /**
   * Leases up to `limit` due rows, oldest first, counting an attempt each. One short statement, no
   * transaction left open while the caller works (embedded PGlite has a single connection).
   */
  async claim(limit = 20, leaseMs = 60_000, db: Queryable = this.sql): Promise<InboundEvent[]> {
    const rows = await db<InboundEventRow[]>`
      with candidates as (
        select e.id from inbound_events e
        where e.status = 'pending' and e.available_at <= now()
          and (e.locked_until is null or e.locked_until < now())
          and (e.order_key is null or not exists (
            select 1 from inbound_events f
            where f.portal_id = e.portal_id and f.order_key = e.order_key and f.id < e.id
              and f.status = 'pending' and (f.locked_until >= now() or f.available_at > now())
          ))
        order by e.id
        limit ${limit}
        for update of e skip locked
      ),
      ready as (
        select e.id from inbound_events e join candidates c on c.id = e.id
        where e.order_key is null or not exists (
          select 1 from inbound_events f
          where f.portal_id = e.portal_id and f.order_key = e.order_key and f.id < e.id
            and f.status = 'pending' and f.id not in (select id from candidates)
        )
      )
      update inbound_events u
      set locked_until = now() + ${leaseMs}::float8 * interval '1 millisecond', attempts = u.attempts + 1
      from ready
      where u.id = ready.id
      returning u.*`
    return rows.map((row) => this.#open(row)).sort((a, b) => Number(a.id) - Number(b.id))
  }

  /** Processed: the body is dropped; `note` says why nothing was done, when nothing was. */
  async complete(id: string, note: string | null = null, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`
      update inbound_events set
        status = 'done', payload_enc = null, locked_until = null, processed_at = now(),
        last_error = ${note === null ? null : note.slice(0, MAX_ERROR_LENGTH)}
      where id = ${id} and status = 'pending'`
    return result.count > 0
  }

  /**
   * A failed attempt: due again `retryInMs` from now (database clock), or given up (body dropped) once
   * `maxAttempts` is reached or the failure is `permanent`. @returns the new status.
   */
  async fail(
    id: string,
    error: string,
    retryInMs: number,
    { permanent = false }: { permanent?: boolean } = {},
    db: Queryable = this.sql,
  ): Promise<InboundEventStatus> {
    const [row] = await db<{ status: InboundEventStatus }[]>`
      with next as (
        select id, (${permanent}::boolean or attempts >= ${this.maxAttempts}) as given_up
        from inbound_events where id = ${id} and status = 'pending'
      )
      update inbound_events e set
        status = case when next.given_up then 'failed' else 'pending' end,
        payload_enc = case when next.given_up then null else e.payload_enc end,
        processed_at = case when next.given_up then now() end,
        available_at = now() + ${retryInMs}::float8 * interval '1 millisecond',
        locked_until = null,
        last_error = ${error.slice(0, MAX_ERROR_LENGTH)}
      from next
      where e.id = next.id
      returning e.status`
    if (!row) throw new InboundEventNotFoundError(id)
    return row.status
  }

  /** Gives a claimed row back untouched (its attempt does not count): an earlier row of its chat failed. */
  async release(id: string, db: Queryable = this.sql): Promise<void> {
    await db`
      update inbound_events set locked_until = null, attempts = greatest(attempts - 1, 0)
      where id = ${id} and status = 'pending'`
  }

  /** Drops finished rows (and so their dedup keys) older than `cutoff`. @returns how many. */
  async purgeFinished(cutoff: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`
      delete from inbound_events where status <> 'pending' and processed_at < ${cutoff}`
    return result.count
  }

  /** Inbox depth per status (metrics, tests). */
  async countByStatus(db: Queryable = this.sql): Promise<Record<InboundEventStatus, number>> {
    const rows = await db<{ status: InboundEventStatus; count: number }[]>`
      select status, count(*)::int as count from inbound_events group by status`
    const counts: Record<InboundEventStatus, number> = { pending: 0, done: 0, failed: 0 }
    for (const row of rows) counts[row.status] = row.count
    return counts
  }

  #open(row: InboundEventRow): InboundEvent {
    const { payloadEnc, ...rest } = row
    return {
      ...rest,
      payload: payloadEnc === null ? null : JSON.parse(this.secrets.openText(payloadEnc, CONTEXT)),
    }
  }
}
