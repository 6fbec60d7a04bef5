/**
 * @module `data_requests`: subject access (D1) and deletion (D4) requests and their receipts. The portal is
 * referred to by `portal_ref` (keyed hash or member id), and receipts hold counts, never the data (D5).
 */
import type { Sql } from '../db.ts'
import { jsonParam, NotFoundError, parseJson, type Queryable } from './common.ts'

export type DataRequestKind = 'access' | 'deletion'
export type DataRequestStatus = 'pending' | 'running' | 'done' | 'failed'
export type DataRequestScope = Record<string, unknown>

export interface DataRequest {
  id: string
  portalRef: string
  kind: DataRequestKind
  scope: DataRequestScope
  requestedBy: string
  status: DataRequestStatus
  createdAt: Date
  completedAt: Date | null
  receipt: Record<string, unknown> | null
  error: string | null
}

export interface DataRequestInput {
  portalRef: string
  kind: DataRequestKind
  scope?: DataRequestScope
  requestedBy: string
}

export class DataRequestNotFoundError extends NotFoundError {
  override name = 'DataRequestNotFoundError'
  constructor(key: string) {
    super('data request', key)
  }
}

type DataRequestRow = Omit<DataRequest, 'scope' | 'receipt'> & { scope: string; receipt: string | null }

const toRequest = (row: DataRequestRow): DataRequest => ({
  ...row,
  scope: parseJson(row.scope),
  receipt: parseJson(row.receipt),
})

export class DataRequestRepository {
  constructor(private readonly sql: Sql) {}

  #columns(db: Queryable) {
    return db`
      id, portal_ref, kind, scope::text as scope, requested_by, status, created_at, completed_at,
      receipt::text as receipt, error`
  }

  async create(input: DataRequestInput, db: Queryable = this.sql): Promise<DataRequest> {
    const [row] = await db<DataRequestRow[]>`
      insert into data_requests (portal_ref, kind, scope, requested_by)
      values (${input.portalRef}, ${input.kind}, ${jsonParam(db, input.scope)}::jsonb, ${input.requestedBy})
      returning ${this.#columns(db)}`
    return toRequest(row!)
  }

  /** @throws DataRequestNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<DataRequest> {
    const [row] = await db<DataRequestRow[]>`select ${this.#columns(db)} from data_requests where id = ${id}`
    if (!row) throw new DataRequestNotFoundError(id)
    return toRequest(row)
  }

  /** Newest first. */
  async listByPortal(portalRef: string, db: Queryable = this.sql): Promise<DataRequest[]> {
    const rows = await db<DataRequestRow[]>`
      select ${this.#columns(db)} from data_requests
      where portal_ref = ${portalRef} order by created_at desc, id`
    return rows.map(toRequest)
  }

  /** Takes a pending request for processing; false when someone else already did. */
  async start(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`
      update data_requests set status = 'running' where id = ${id} and status = 'pending'`
    return result.count > 0
  }

  /** Finishes a request with its receipt (counts per data class for a deletion). */
  async complete(id: string, receipt: Record<string, unknown>, db: Queryable = this.sql) {
    const [row] = await db<DataRequestRow[]>`
      update data_requests
      set status = 'done', receipt = ${jsonParam(db, receipt)}::jsonb, completed_at = now()
      where id = ${id}
      returning ${this.#columns(db)}`
    if (!row) throw new DataRequestNotFoundError(id)
    return toRequest(row)
  }

  async fail(id: string, error: string, db: Queryable = this.sql): Promise<DataRequest> {
    const [row] = await db<DataRequestRow[]>`
      update data_requests set status = 'failed', error = ${error}, completed_at = now()
      where id = ${id}
      returning ${this.#columns(db)}`
    if (!row) throw new DataRequestNotFoundError(id)
    return toRequest(row)
  }
}
