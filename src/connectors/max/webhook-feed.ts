/**
 * @module Webhook mode, the owner's side: updates reach whichever process MAX calls (`POST
 * /max/webhook/:accountId` stores them in `max_updates`); the process that runs the account drains its
 * rows in arrival order. A wake-up (LISTEN/NOTIFY, in-process when embedded) makes it look at once, a
 * timer every few seconds anyway — the row is the real copy, a wake-up only a hint. A row is marked
 * handled (its sealed body dropped) once its events were handed over, or acked when the core holds the
 * position; an unacked row comes again after a restart.
 */
import type { Logger } from '../../log/logger.ts'

export interface StoredUpdate {
  id: string
  body: unknown
}

/** The part of the `max_updates` repository the client uses. */
export interface MaxUpdateStore {
  /** Rows not yet handled, oldest first, with an id above `afterId`. */
  pending(accountId: string, afterId: string | undefined, limit: number): Promise<StoredUpdate[]>
  markHandled(ids: readonly string[]): Promise<void>
  /** Drops every row of the account (remote logout: nothing of it may stay, R1). */
  deleteAll(accountId: string): Promise<void>
  /** Drops handled rows (dedup keys only) older than `before`. */
  deleteHandledBefore(accountId: string, before: Date): Promise<void>
}

/** Wake-ups for one account (a webhook stored a row, maybe in another process). */
export type WakeSubscribe = (accountId: string, wake: () => void) => () => void

export interface WebhookFeedDeps {
  accountId: string
  store: MaxUpdateStore
  subscribe: WakeSubscribe
  /** Hands one stored update over; `settled` runs once it may be marked handled. */
  handOver(body: unknown, settled: () => void): Promise<void>
  intervalMs: number
  /** Handled rows are kept this long as dedup keys (MAX retries for 8 h, events live 24 h: §2.4, §4.2). */
  keepHandledMs: number
  log?: Logger
}

const BATCH = 100
const SWEEP_EVERY_MS = 10 * 60_000

export class WebhookFeed {
  #stopped = false
  #running: Promise<void> | undefined
  #again = false
  /** The newest row handed over in this run (unacked rows are not handed twice while it lasts). */
  #lastId: string | undefined
  readonly #settledIds: string[] = []
  #flushing: Promise<void> | undefined
  #lastSweep = 0
  readonly #unsubscribe: () => void
  readonly #timer: ReturnType<typeof setInterval>

  constructor(private readonly deps: WebhookFeedDeps) {
    this.#unsubscribe = deps.subscribe(deps.accountId, () => this.wake())
    this.#timer = setInterval(() => this.wake(), deps.intervalMs)
    this.#timer.unref?.()
    this.wake()
  }

  wake(): void {
    if (this.#stopped) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.#drain().finally(() => {
      this.#running = undefined
    })
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#unsubscribe()
    clearInterval(this.#timer)
    await this.#running
    await this.#flush()
  }

  async #drain(): Promise<void> {
    do {
      this.#again = false
      try {
        for (;;) {
          const rows = await this.deps.store.pending(this.deps.accountId, this.#lastId, BATCH)
          for (const row of rows) {
            if (this.#stopped) return
            this.#lastId = row.id
            await this.deps.handOver(row.body, () => this.#settled(row.id))
          }
          if (rows.length < BATCH || this.#stopped) break
        }
        await this.#sweep()
      } catch (error) {
        // The next wake-up or tick tries again; the rows stay pending.
        this.deps.log?.warn({ err: error, accountId: this.deps.accountId }, 'max: webhook drain failed')
        return
      }
    } while (this.#again && !this.#stopped)
  }

  #settled(id: string): void {
    this.#settledIds.push(id)
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined
    })
  }

  /** Marks settled rows handled in batches: one statement for many rows under load. */
  async #flush(): Promise<void> {
    await this.#flushing
    while (this.#settledIds.length > 0) {
      const ids = this.#settledIds.splice(0)
      try {
        await this.deps.store.markHandled(ids)
      } catch (error) {
        // Left pending: a restart hands them over again (the core dedups); this run will not.
        this.deps.log?.warn(
          { err: error, accountId: this.deps.accountId },
          'max: could not mark updates handled',
        )
        return
      }
    }
  }

  async #sweep(): Promise<void> {
    const now = Date.now()
    if (now - this.#lastSweep < SWEEP_EVERY_MS) return
    this.#lastSweep = now
    await this.deps.store.deleteHandledBefore(this.deps.accountId, new Date(now - this.deps.keepHandledMs))
  }
}
