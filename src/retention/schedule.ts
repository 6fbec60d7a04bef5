/**
 * @module The sweeps' durable deadlines: one `retention_deadlines` row per sweep (`data_class` = its rule,
 * `subject_type` = `sweep`, `subject_id` = its name) holding the absolute time it is next due. A process
 * claims a due row for a while (`claimed_until`, SKIP LOCKED), so a sweep runs in one process at a time; a
 * claim of a process that died lapses and the row is due again. Rescheduling checks that the claim is still
 * this process's (the claim time is the fencing token), so a sweeper that overran its claim cannot move a
 * deadline another one already set. All times are the database's: processes with skewed clocks agree.
 */
import type { Sql } from '../../storage/db.ts'
import type { PeriodRule } from './periods.ts'

export const SWEEP_SUBJECT = 'sweep'

export interface SweepKey {
  rule: PeriodRule
  name: string
}

export interface SweepClaim extends SweepKey {
  id: string
  /** Millisecond precision on purpose: it round-trips through JS unchanged and fences the reschedule. */
  claimedUntil: Date
}

export class SweepSchedule {
  constructor(
    private readonly sql: Sql,
    /** How long a claim holds; a run must end well inside it. */
    private readonly claimMs: number,
  ) {}

  /** Adds a deadline, due at once, for every sweep that has none. Idempotent, safe from several processes. */
  async ensure(sweeps: readonly SweepKey[]): Promise<void> {
    if (sweeps.length === 0) return
    await this.sql`
      insert into retention_deadlines (data_class, subject_type, subject_id, due_at)
      select rule, ${SWEEP_SUBJECT}, name, now()
      from unnest(${this.sql.array(sweeps.map((s) => s.rule))}::text[],
                  ${this.sql.array(sweeps.map((s) => s.name))}::text[]) as s(rule, name)
      on conflict (data_class, subject_type, subject_id) do nothing`
  }

  /** Claims up to `limit` due sweeps, earliest deadline first; other processes get disjoint ones. */
  async claimDue(limit: number): Promise<SweepClaim[]> {
    const rows = await this.sql<{ id: string; rule: PeriodRule; name: string; claimedUntil: Date }[]>`
      update retention_deadlines r
      set claimed_until = date_trunc('milliseconds', now() + ${this.claimMs}::float8 * interval '1 millisecond')
      from (
        select id from retention_deadlines
        where subject_type = ${SWEEP_SUBJECT} and due_at <= now()
          and (claimed_until is null or claimed_until < now())
        order by due_at, id
        limit ${limit}
        for update skip locked
      ) due
      where r.id = due.id
      returning r.id::text as id, r.data_class as rule, r.subject_id as name, r.claimed_until`
    return rows.map(({ id, rule, name, claimedUntil }) => ({ id, rule, name, claimedUntil }))
  }

  /** Sets the next due time, `inMs` from now, and lifts the claim. @returns false when the claim was lost. */
  async reschedule(claim: SweepClaim, inMs: number): Promise<boolean> {
    const result = await this.sql`
      update retention_deadlines
      set due_at = now() + ${inMs}::float8 * interval '1 millisecond', claimed_until = null
      where id = ${claim.id} and claimed_until = ${claim.claimedUntil}`
    return result.count > 0
  }

  /** Milliseconds until the next sweep is due (a claimed one: until its claim lapses); null if none. */
  async nextInMs(): Promise<number | null> {
    const [row] = await this.sql<{ inMs: number | null }[]>`
      select (extract(epoch from min(greatest(due_at, coalesce(claimed_until, due_at))) - now()) * 1000)::float8
        as in_ms
      from retention_deadlines where subject_type = ${SWEEP_SUBJECT}`
    return row?.inMs ?? null
  }

  /** The deadline of one sweep (operations and tests). */
  async get(key: SweepKey): Promise<{ dueAt: Date; claimedUntil: Date | null } | undefined> {
    const [row] = await this.sql<{ dueAt: Date; claimedUntil: Date | null }[]>`
      select due_at, claimed_until from retention_deadlines
      where data_class = ${key.rule} and subject_type = ${SWEEP_SUBJECT} and subject_id = ${key.name}`
    return row
  }
}
