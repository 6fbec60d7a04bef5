/**
 * @module `retention_deadlines`: long retention deadlines (R1-R8) as rows with absolute due times, so they
 * survive restarts (xstate timers do not, and misfire beyond ~24.8 days). The retention actor claims due
 * rows, does the deletion, then removes them; a claim lapses if its sweeper dies.
 */
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

export interface RetentionDeadline {
  id: string
  /** Policy id, e.g. `R6`. */
  dataClass: string
  subjectType: string
  subjectId: string
  dueAt: Date
  claimedUntil: Date | null
  createdAt: Date
}

export interface DeadlineInput {
  dataClass: string
  subjectType: string
  subjectId: string
  dueAt: Date
}

export class RetentionDeadlineRepository {
  constructor(private readonly sql: Sql) {}

  /** Sets the deadline of a subject (a later call moves it and lifts any claim). */
  async schedule(input: DeadlineInput, db: Queryable = this.sql): Promise<RetentionDeadline> {
    const [row] = await db<RetentionDeadline[]>`
      insert into retention_deadlines (data_class, subject_type, subject_id, due_at)
      values (${input.dataClass}, ${input.subjectType}, ${input.subjectId}, ${input.dueAt})
      on conflict (data_class, subject_type, subject_id) do update set
        due_at = excluded.due_at, claimed_until = null
      returning *`
    return row!
  }

  /** Claims up to `limit` due rows, earliest first, for `claimMs`; concurrent sweepers get disjoint rows. */
  async claimDue(limit = 100, claimMs = 5 * 60_000, db: Queryable = this.sql): Promise<RetentionDeadline[]> {
    const rows = await db<RetentionDeadline[]>`
      update retention_deadlines r
      set claimed_until = now() + ${claimMs}::float8 * interval '1 millisecond'
      from (
        select id from retention_deadlines
        where due_at <= now() and (claimed_until is null or claimed_until < now())
        order by due_at, id
        limit ${limit}
        for update skip locked
      ) due
      where r.id = due.id
      returning r.*`
    return rows.sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || Number(a.id) - Number(b.id))
  }

  async find(dataClass: string, subjectType: string, subjectId: string, db: Queryable = this.sql) {
    const [row] = await db<RetentionDeadline[]>`
      select * from retention_deadlines
      where data_class = ${dataClass} and subject_type = ${subjectType} and subject_id = ${subjectId}`
    return row as RetentionDeadline | undefined
  }

  /** Done (or no longer needed). @returns whether it existed. */
  async remove(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from retention_deadlines where id = ${id}`
    return result.count > 0
  }

  /** Cancels a subject's deadline, e.g. a stale contact seen again. @returns whether it existed. */
  async cancel(dataClass: string, subjectType: string, subjectId: string, db: Queryable = this.sql) {
    const result = await db`
      delete from retention_deadlines
      where data_class = ${dataClass} and subject_type = ${subjectType} and subject_id = ${subjectId}`
    return result.count > 0
  }
}
