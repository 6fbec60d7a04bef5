/**
 * @module The retention service the retention actor drives: one round claims the sweeps whose deadlines are
 * due, runs each (bounded), and writes its next deadline — at once when it stopped at its budget, after its
 * interval when it finished, after `retryMs` when it failed — then reports when the next one is due.
 * `sweepAll` runs every sweep to the end regardless of the schedule (operators, tests).
 */
import type { Cache } from '../../storage/cache/cache.ts'
import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { Logger } from '../log/logger.ts'
import { analyticsSweep } from './analytics-sweep.ts'
import { logsSweep } from './logs-sweep.ts'
import { messagesSweep } from './messages-sweep.ts'
import { orphanFilesSweep } from './orphan-files-sweep.ts'
import { defaultRetentionPeriods, type RetentionPeriods } from './periods.ts'
import { type SweepClaim, SweepSchedule } from './schedule.ts'
import { staleSweep } from './stale-sweep.ts'
import type { Sweep, SweepDeps, SweepOutcome } from './sweep.ts'
import { undeliveredSweep } from './undelivered-sweep.ts'

export const defaultSweeps: readonly Sweep[] = [
  messagesSweep,
  logsSweep,
  staleSweep,
  analyticsSweep,
  undeliveredSweep,
  orphanFilesSweep,
]

export interface RetentionDeps {
  sql: Sql
  repos: Repositories
  files: FileStore
  cache: Cache
  periods?: RetentionPeriods
  fileTtlMs: number
  purgeAuditLog?: (cutoff: Date) => Promise<number>
  log?: Logger
  now?: () => Date
}

export interface RetentionOptions {
  batchSize: number
  maxBatches: number
  lockTimeoutMs: number
  /** A claim lasts this long; a run is bounded far below it. */
  claimMs: number
  /** A failed sweep is due again after this. */
  retryMs: number
  /** Sweeps claimed per round. */
  claimLimit: number
}

export const defaultRetentionOptions: RetentionOptions = {
  batchSize: 5_000,
  maxBatches: 50,
  lockTimeoutMs: 100,
  claimMs: 10 * 60_000,
  retryMs: 60_000,
  claimLimit: 10,
}

export interface SweepReport {
  rule: string
  name: string
  outcome?: SweepOutcome
  error?: unknown
}

export interface RoundReport {
  ran: number
  failed: number
  nextInMs: number | null
  reports: SweepReport[]
}

export class Retention {
  readonly schedule: SweepSchedule
  readonly #deps: SweepDeps
  readonly #sweeps: Map<string, Sweep>
  readonly #options: RetentionOptions
  #ensured = false

  constructor(deps: RetentionDeps, options: Partial<RetentionOptions> = {}, sweeps = defaultSweeps) {
    this.#options = { ...defaultRetentionOptions, ...options }
    this.#deps = {
      sql: deps.sql,
      repos: deps.repos,
      files: deps.files,
      cache: deps.cache,
      periods: deps.periods ?? defaultRetentionPeriods,
      fileTtlMs: deps.fileTtlMs,
      now: deps.now ?? (() => new Date()),
      batchSize: this.#options.batchSize,
      maxBatches: this.#options.maxBatches,
      lockTimeoutMs: this.#options.lockTimeoutMs,
      purgeAuditLog: deps.purgeAuditLog,
      log: deps.log,
    }
    this.#sweeps = new Map(sweeps.map((sweep) => [`${sweep.rule}:${sweep.name}`, sweep]))
    this.schedule = new SweepSchedule(deps.sql, this.#options.claimMs)
  }

  /** One round of the retention actor. Throws only when the schedule itself cannot be read or written. */
  async runDue(): Promise<RoundReport> {
    if (!this.#ensured) {
      await this.schedule.ensure([...this.#sweeps.values()])
      this.#ensured = true
    }
    const reports: SweepReport[] = []
    for (const claim of await this.schedule.claimDue(this.#options.claimLimit)) {
      reports.push(await this.#runClaimed(claim))
    }
    return {
      ran: reports.length,
      failed: reports.filter((report) => report.error !== undefined).length,
      nextInMs: await this.schedule.nextInMs(),
      reports,
    }
  }

  /** Runs every sweep until it has nothing left, ignoring deadlines. @returns the counts per sweep. */
  async sweepAll(): Promise<SweepReport[]> {
    const reports: SweepReport[] = []
    for (const sweep of this.#sweeps.values()) {
      const deleted: Record<string, number> = {}
      let outcome: SweepOutcome
      do {
        outcome = await sweep.run(this.#deps)
        for (const [what, n] of Object.entries(outcome.deleted)) deleted[what] = (deleted[what] ?? 0) + n
      } while (outcome.more)
      reports.push({ rule: sweep.rule, name: sweep.name, outcome: { deleted, more: false } })
    }
    return reports
  }

  async #runClaimed(claim: SweepClaim): Promise<SweepReport> {
    const sweep = this.#sweeps.get(`${claim.rule}:${claim.name}`)
    const log = this.#deps.log?.child({ rule: claim.rule, sweep: claim.name })
    if (!sweep) {
      // Written by another version of Olchat: leave it to a process that knows it.
      await this.schedule.reschedule(claim, this.#options.claimMs)
      return { rule: claim.rule, name: claim.name }
    }
    const started = Date.now()
    try {
      const outcome = await sweep.run(this.#deps)
      const kept = await this.schedule.reschedule(claim, outcome.more ? 0 : sweep.intervalMs)
      const fields = { deleted: outcome.deleted, more: outcome.more, ms: Date.now() - started }
      if (Object.keys(outcome.deleted).length > 0) log?.info(fields, 'retention sweep deleted data')
      else log?.debug(fields, 'retention sweep: nothing to delete')
      if (!kept) log?.warn('retention sweep outlived its claim; another process took it over')
      return { rule: sweep.rule, name: sweep.name, outcome }
    } catch (error) {
      log?.error({ err: error }, 'retention sweep failed; retried later')
      await this.schedule.reschedule(claim, this.#options.retryMs)
      return { rule: sweep.rule, name: sweep.name, error }
    }
  }
}
