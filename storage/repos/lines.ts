/**
 * @module `lines`: connector / Open Line settings of a portal (R4), deleted with the portal.
 */
import type { Sql } from '../db.ts'
import { jsonParam, NotFoundError, parseJson, type Queryable } from './common.ts'

export type LineSettings = Record<string, unknown>

export interface Line {
  id: string
  portalId: string
  connectorId: string
  lineId: string
  settings: LineSettings
  createdAt: Date
  updatedAt: Date
}

export interface LineInput {
  portalId: string
  connectorId: string
  lineId: string
  settings?: LineSettings
}

export class LineNotFoundError extends NotFoundError {
  override name = 'LineNotFoundError'
  constructor(key: string) {
    super('line', key)
  }
}

type LineRow = Omit<Line, 'settings'> & { settings: string }

const toLine = (row: LineRow): Line => ({ ...row, settings: parseJson(row.settings) })

export class LineRepository {
  constructor(private readonly sql: Sql) {}

  #columns(db: Queryable) {
    return db`id, portal_id, connector_id, line_id, settings::text as settings, created_at, updated_at`
  }

  /** Creates the line or replaces its settings (when given). */
  async upsert(input: LineInput, db: Queryable = this.sql): Promise<Line> {
    const settings = input.settings === undefined ? null : jsonParam(db, input.settings)
    const [row] = await db<LineRow[]>`
      insert into lines (portal_id, connector_id, line_id, settings)
      values (${input.portalId}, ${input.connectorId}, ${input.lineId}, coalesce(${settings}::jsonb, '{}'))
      on conflict (portal_id, connector_id, line_id) do update set
        settings = coalesce(${settings}::jsonb, lines.settings),
        updated_at = now()
      returning ${this.#columns(db)}`
    return toLine(row!)
  }

  /** @throws LineNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Line> {
    const [row] = await db<LineRow[]>`select ${this.#columns(db)} from lines where id = ${id}`
    if (!row) throw new LineNotFoundError(id)
    return toLine(row)
  }

  async find(
    portalId: string,
    connectorId: string,
    lineId: string,
    db: Queryable = this.sql,
  ): Promise<Line | undefined> {
    const [row] = await db<LineRow[]>`
      select ${this.#columns(db)} from lines
      where portal_id = ${portalId} and connector_id = ${connectorId} and line_id = ${lineId}`
    return row && toLine(row)
  }

  async listByPortal(portalId: string, db: Queryable = this.sql): Promise<Line[]> {
    const rows = await db<LineRow[]>`
      select ${this.#columns(db)} from lines where portal_id = ${portalId} order by connector_id, line_id`
    return rows.map(toLine)
  }

  /** Merges `patch` into the stored settings (top-level keys). @throws LineNotFoundError */
  async mergeSettings(id: string, patch: LineSettings, db: Queryable = this.sql): Promise<Line> {
    const [row] = await db<LineRow[]>`
      update lines set settings = settings || ${jsonParam(db, patch)}::jsonb, updated_at = now()
      where id = ${id}
      returning ${this.#columns(db)}`
    if (!row) throw new LineNotFoundError(id)
    return toLine(row)
  }

  /** @returns whether it existed. Accounts bound to it are unbound, not deleted. */
  async delete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from lines where id = ${id}`
    return result.count > 0
  }
}
