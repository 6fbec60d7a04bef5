/**
 * @module The admin API's queries on `deliveries`: dead letters (status `dead`) listed with metadata only,
 * and a retry that puts one back to `pending` — only while its body still exists and its 7 days (R8,
 * `expires_at`) have not run out. The retry keeps `expires_at`, so a retried row still dies in time.
 */
import type { Queryable } from '../../../storage/repos/common.ts'
import type { DeadLetterRow } from './views.ts'

const columns = (db: Queryable) => db`
  d.id, d.account_id, d.chat_id, d.direction, d.kind, d.idempotency_key, d.attempts, d.last_error,
  d.created_at, d.finished_at, d.expires_at,
  (d.payload_enc is not null and d.expires_at > now()) as retryable`

export interface DeadLetterFilter {
  accountId?: string
  portalId?: string
  limit: number
}

/** Newest first. */
export async function listDeadLetters(db: Queryable, filter: DeadLetterFilter): Promise<DeadLetterRow[]> {
  const account = filter.accountId === undefined ? db`` : db`and d.account_id = ${filter.accountId}`
  const portal = filter.portalId === undefined ? db`` : db`and a.portal_id = ${filter.portalId}`
  return db<DeadLetterRow[]>`
    select ${columns(db)} from deliveries d join accounts a on a.id = d.account_id
    where d.status = 'dead' ${account} ${portal}
    order by d.id desc limit ${filter.limit}`
}

export async function findDeadLetter(
  db: Queryable,
  id: string,
): Promise<(DeadLetterRow & { portalId: string }) | undefined> {
  const [row] = await db<(DeadLetterRow & { portalId: string })[]>`
    select ${columns(db)}, a.portal_id from deliveries d join accounts a on a.id = d.account_id
    where d.id = ${id} and d.status = 'dead'`
  return row
}

/** @returns whether the row went back to the queue. */
export async function retryDeadLetter(db: Queryable, id: string): Promise<boolean> {
  const result = await db`
    update deliveries set
      status = 'pending', attempts = 0, available_at = now(), finished_at = null, locked_until = null
    where id = ${id} and status = 'dead' and payload_enc is not null and expires_at > now()`
  return result.count > 0
}
