/**
 * @module What a retention sweep is: one small module per data class (R3, R5, R6, R7, R8) that deletes what
 * is past its period in bounded batches and says whether it stopped early. Sweeps are idempotent (running one
 * twice, or from two processes, deletes nothing more) and take their cutoffs from the injected clock.
 */
import type { Cache } from '../../storage/cache/cache.ts'
import type { Sql, Tx } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { Logger } from '../log/logger.ts'
import type { PeriodRule, RetentionPeriods } from './periods.ts'

export interface SweepDeps {
  sql: Sql
  repos: Repositories
  files: FileStore
  cache: Cache
  periods: RetentionPeriods
  /** Lifetime of a signed file link: a file nobody references any more is kept at least this long. */
  fileTtlMs: number
  now: () => Date
  /** Rows per statement. */
  batchSize: number
  /** Statements (or object pages) per run; past it the sweep yields and is due again at once. */
  maxBatches: number
  /** Lock wait allowed to a partition drop before it gives up (inserts queue behind it meanwhile). */
  lockTimeoutMs: number
  /** R5 purge of the audit log, owned by the privacy module (it keeps the chain's anchor); skipped if absent. */
  purgeAuditLog?: (cutoff: Date) => Promise<number>
  log?: Logger
}

export interface SweepOutcome {
  /** Counts by what was deleted (`rows`, `partitions`, `objects` …): never the data itself. */
  deleted: Record<string, number>
  /** Stopped at its batch budget: run again at once. */
  more: boolean
}

export interface Sweep {
  rule: PeriodRule
  /** Stable name: with the rule, it keys the sweep's deadline row. */
  name: string
  /** Next run after one that finished its work. */
  intervalMs: number
  run(deps: SweepDeps): Promise<SweepOutcome>
}

/** Statements left in one run of a sweep, shared by its steps. */
export interface BatchBudget {
  left: number
}

export const budgetOf = (deps: SweepDeps): BatchBudget => ({ left: deps.maxBatches })

/** Advisory-lock key of a data class: one sweeper per class at a time, whichever process it runs in. */
export const classLockKey = (rule: PeriodRule) => `olchat.retention.${rule}`

/**
 * Runs `work` in a short transaction holding the class's advisory lock, so one process at a time sweeps a
 * class and no lock outlives a batch. @returns null when another process holds the lock (it is sweeping).
 * The commit does not wait for its WAL flush: a batch lost in a crash is simply done again by the next run.
 */
export async function withClassLock<T>(
  deps: Pick<SweepDeps, 'sql'>,
  rule: PeriodRule,
  work: (tx: Tx) => Promise<T>,
): Promise<T | null> {
  return deps.sql.begin(async (tx) => {
    const [row] = await tx<{ locked: boolean }[]>`
      select set_config('synchronous_commit', 'off', true) is not null
        and pg_try_advisory_xact_lock(hashtext(${classLockKey(rule)})) as locked`
    return row!.locked ? work(tx) : null
  }) as Promise<T | null>
}

/**
 * Runs `statement` (one bounded DELETE/UPDATE of at most `limit` rows, returning how many it touched) until
 * it touches fewer than `batchSize` rows or the budget is spent, each batch under `withClassLock`. Only full
 * batches spend the budget, so every step of a sweep gets at least its one look per run. When another
 * process holds the class lock, that process is sweeping the class and this one stops.
 */
export async function inBatches(
  deps: SweepDeps,
  rule: PeriodRule,
  budget: BatchBudget,
  statement: (tx: Tx, limit: number) => Promise<number>,
): Promise<{ count: number; more: boolean }> {
  let count = 0
  do {
    const touched = await withClassLock(deps, rule, (tx) => statement(tx, deps.batchSize))
    if (touched === null) return { count, more: false }
    count += touched
    if (touched < deps.batchSize) return { count, more: false }
    budget.left--
  } while (budget.left > 0)
  return { count, more: true }
}

/** Adds the counts of `part` into `into`, leaving zero counts out. */
export function tally(into: Record<string, number>, part: Record<string, number>): Record<string, number> {
  for (const [what, n] of Object.entries(part)) if (n > 0) into[what] = (into[what] ?? 0) + n
  return into
}
