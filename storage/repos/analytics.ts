/**
 * @module `analytics_daily`: message counters per portal, account and UTC day (R7: rolling 90 days).
 * A null account is the portal-wide bucket.
 */
import type { Sql } from '../db.ts'
import { type Queryable, utcDay } from './common.ts'

export interface AnalyticsDay {
  portalId: string
  accountId: string | null
  /** `YYYY-MM-DD` (UTC). */
  day: string
  inbound: number
  outbound: number
  failed: number
}

export interface AnalyticsIncrement {
  portalId: string
  accountId?: string | null
  /** Any instant of the UTC day to count on. */
  day: Date
  inbound?: number
  outbound?: number
  failed?: number
}

export class AnalyticsRepository {
  constructor(private readonly sql: Sql) {}

  /** Adds to the day's counters, creating the row on first use. */
  async increment(input: AnalyticsIncrement, db: Queryable = this.sql): Promise<AnalyticsDay> {
    const [row] = await db<AnalyticsDay[]>`
      insert into analytics_daily (portal_id, account_id, day, inbound, outbound, failed)
      values (
        ${input.portalId}, ${input.accountId ?? null}, ${utcDay(input.day)}::date,
        ${input.inbound ?? 0}, ${input.outbound ?? 0}, ${input.failed ?? 0}
      )
      on conflict (portal_id, account_id, day) do update set
        inbound = analytics_daily.inbound + excluded.inbound,
        outbound = analytics_daily.outbound + excluded.outbound,
        failed = analytics_daily.failed + excluded.failed
      returning portal_id, account_id, day::text as day, inbound, outbound, failed`
    return row!
  }

  /** Days `from`..`to` inclusive, oldest first. */
  async list(portalId: string, from: Date, to: Date, db: Queryable = this.sql): Promise<AnalyticsDay[]> {
    return db<AnalyticsDay[]>`
      select portal_id, account_id, day::text as day, inbound, outbound, failed
      from analytics_daily
      where portal_id = ${portalId} and day between ${utcDay(from)}::date and ${utcDay(to)}::date
      order by day, account_id nulls first`
  }

  /** R7: rotates out days before `cutoff`'s UTC day. @returns how many rows. */
  async deleteBefore(cutoff: Date, db: Queryable = this.sql): Promise<number> {
    const result = await db`delete from analytics_daily where day < ${utcDay(cutoff)}::date`
    return result.count
  }
}
