/**
 * @module Both relay directions of one account, as the account actor runs them while the account is live.
 * Inbound: remote events are queued and handled one at a time (per-account order, so per-chat order too);
 * a failure is logged and the same event retried with backoff — it never reaches the actor. Outbound: the
 * account's queue is drained on every `wake()` (LISTEN/NOTIFY, in-process notify) and on a poll interval,
 * since a wake-up is never the only copy of the work.
 *
 * A client that can hold its update position (`PositionHolding`) is told to: each event is acked once its
 * outcome is committed (queued, duplicate, skipped) or it was given up, never while it only sits in memory,
 * so a crash or `stop()` loses nothing — the messenger sends the unacked events again.
 */

import type { Sql } from '../../storage/db.ts'
import type { FileStore } from '../../storage/files/file-store.ts'
import { LeaseLostError } from '../../storage/repos/account-leases.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { holdsPosition } from '../bridge/capabilities.ts'
import type { MessengerClient } from '../bridge/client.ts'
import type { RemoteEvent } from '../bridge/remote-event.ts'
import type { Logger } from '../log/logger.ts'
import { type RetryPolicy, retryDelay } from './backoff.ts'
import type { Fence } from './fence.ts'
import { handleRemoteEvent, type InboundAccount, type InboundDeps } from './inbound.ts'
import type { FetchLike } from './operator-files.ts'
import { type OutboundHooks, type OutboundOptions, OutboundRelay } from './outbound.ts'

export interface RelayServiceOptions {
  /** A drain this often even without a wake-up; 0 for none (the process polls for all its accounts). */
  pollIntervalMs: number
  /** Pause before a failed inbound event (or a failed drain) is tried again. */
  retry: RetryPolicy
  /** Tries of one inbound event before it is given up (logged as an error) so the account moves on. */
  maxEventAttempts: number
  /**
   * Subscribe to `client.onEvent` directly. Off when the account actor forwards events through `push`
   * (its `onRemoteEvent` hook), so each event arrives once.
   */
  subscribe: boolean
}

export const DEFAULT_RELAY_OPTIONS: RelayServiceOptions = {
  // Wake-ups carry the normal path; the poll is the safety net, kept slow so idle accounts cost little.
  pollIntervalMs: 30_000,
  retry: { baseMs: 500, capMs: 30_000 },
  maxEventAttempts: 10,
  subscribe: true,
}

export interface RelayServiceDeps {
  sql: Sql
  repos: Pick<Repositories, 'contacts' | 'chats' | 'messages' | 'deliveries'>
  files: FileStore
  client: MessengerClient
  account: InboundAccount
  notifySender(accountId: string): void
  /** The lease check of every relay transaction (see `fence.ts`); absent for unfenced callers. */
  fence?: Fence
  fetch?: FetchLike
  log?: Logger
  now?: () => number
  hooks?: OutboundHooks
  outbound?: Partial<OutboundOptions>
  options?: Partial<RelayServiceOptions>
}

export class RelayService {
  readonly outbound: OutboundRelay
  readonly #deps: RelayServiceDeps
  readonly #inbound: InboundDeps
  readonly #options: RelayServiceOptions
  readonly #queue: RemoteEvent[] = []
  /** Aborted by `stop()`: cuts a retry pause short (the event in flight itself is let finish). */
  readonly #stopController = new AbortController()
  #unsubscribe: (() => void) | undefined
  #poll: ReturnType<typeof setInterval> | undefined
  #drainTimer: ReturnType<typeof setTimeout> | undefined
  #pumping: Promise<void> | undefined
  #draining: Promise<void> | undefined
  #drainAgain = false
  #drainFailures = 0
  #started = false
  #stopped = false
  /** A write found the lease gone: no more inbound work (the keeper releases the account soon). */
  #fenced = false

  constructor(deps: RelayServiceDeps) {
    this.#deps = deps
    this.#options = { ...DEFAULT_RELAY_OPTIONS, ...deps.options }
    this.#inbound = {
      sql: deps.sql,
      repos: deps.repos,
      files: deps.files,
      notifySender: deps.notifySender,
      fence: deps.fence,
      log: deps.log,
    }
    this.outbound = new OutboundRelay({
      sql: deps.sql,
      repos: deps.repos,
      client: deps.client,
      fetch: deps.fetch,
      log: deps.log,
      now: deps.now,
      notifySender: deps.notifySender,
      fence: deps.fence,
      hooks: deps.hooks,
      options: deps.outbound,
    })
    if (holdsPosition(deps.client)) deps.client.holdPositionUntilAck()
  }

  get accountId(): string {
    return this.#deps.account.id
  }

  /** Subscribes (unless told not to), starts the poll and drains once. Idempotent. */
  start(): void {
    if (this.#started || this.#stopped) return
    this.#started = true
    if (this.#options.subscribe) this.#unsubscribe = this.#deps.client.onEvent((event) => this.push(event))
    if (this.#options.pollIntervalMs > 0) {
      this.#poll = setInterval(() => this.wake(), this.#options.pollIntervalMs)
      this.#poll.unref?.()
    }
    this.wake()
  }

  /** Queues a remote event for the inbound relay (the actor's `onRemoteEvent` hook calls this). */
  push(event: RemoteEvent): void {
    if (this.#stopped || this.#fenced || event.type === 'connection') return
    if (event.type === 'typing') {
      event.ack?.()
      return
    }
    this.#queue.push(event)
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined
    })
  }

  /** Work for the outbound relay may be waiting: drain now (or once more after the drain in progress). */
  wake(): void {
    if (this.#stopped) return
    if (this.#draining) {
      this.#drainAgain = true
      return
    }
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined
    })
  }

  /** Resolves once no inbound event is queued and no drain runs (tests, graceful hand-over). */
  async idle(): Promise<void> {
    while (this.#pumping || this.#draining) await Promise.all([this.#pumping, this.#draining])
  }

  /** Stops taking work, lets the item in flight finish (the rest of a claimed batch is put back). */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#unsubscribe?.()
    clearInterval(this.#poll)
    clearTimeout(this.#drainTimer)
    this.#stopController.abort()
    // Unhandled events stay with the messenger, which redelivers them on the next connection.
    this.#queue.length = 0
    await Promise.all([this.outbound.stop(), this.#pumping, this.#draining])
  }

  async #pump(): Promise<void> {
    let attempts = 0
    while (!this.#stopped && this.#queue.length > 0) {
      const event = this.#queue[0]!
      try {
        await handleRemoteEvent(this.#inbound, this.#deps.account, event)
        this.#queue.shift()
        attempts = 0
        // Committed: the client may move its update position past it.
        event.ack?.()
      } catch (error) {
        if (error instanceof LeaseLostError) {
          // Not ours any more: keep the events unacked so the messenger hands them to the new owner.
          this.#deps.log?.warn(
            { accountId: this.accountId, reason: error.reason },
            'lease lost: inbound relay stopped',
          )
          this.#queue.length = 0
          this.#fenced = true
          return
        }
        attempts++
        const context = { accountId: this.accountId, type: event.type, attempts, err: error }
        if (attempts >= this.#options.maxEventAttempts) {
          this.#deps.log?.error(context, 'remote event given up')
          this.#queue.shift()
          attempts = 0
          // Deliberately dropped (logged): holding the position for it would stall every later event.
          event.ack?.()
          continue
        }
        this.#deps.log?.warn(context, 'remote event failed, retrying')
        await this.#sleep(retryDelay(attempts - 1, this.#options.retry))
      }
    }
  }

  async #drain(): Promise<void> {
    do {
      this.#drainAgain = false
      try {
        const result = await this.outbound.drain()
        this.#drainFailures = 0
        // A flood wait ends on its own: look again right then rather than at the next poll.
        if (result.status === 'paused') this.#wakeAt(this.outbound.pausedUntil)
      } catch (error) {
        this.#drainFailures++
        this.#deps.log?.warn({ accountId: this.accountId, err: error }, 'outbound drain failed')
        const delay = retryDelay(this.#drainFailures - 1, this.#options.retry)
        this.#wakeAt((this.#deps.now ?? Date.now)() + delay)
        return
      }
    } while (this.#drainAgain && !this.#stopped)
  }

  #wakeAt(at: number): void {
    if (this.#stopped || at === 0) return
    clearTimeout(this.#drainTimer)
    const delay = Math.max(0, at - (this.#deps.now ?? Date.now)())
    this.#drainTimer = setTimeout(() => this.wake(), delay)
    this.#drainTimer.unref?.()
  }

  /** Resolves after `ms`, or at once when the service stops. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#stopController.signal
    if (signal.aborted) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      signal.addEventListener('abort', done, { once: true })
    })
  }
}
