/**
 * @module The portal side of customer → operator: drains `to_portal` deliveries into `imconnector.*` calls
 * (DESIGN.md "Customer → operator"; reference/bitrix24.md §5.8–5.12). Per account, one call at a time:
 * claim up to `batchSize` rows (claim keeps per-chat order), send consecutive rows of one kind in one
 * call, check every item, then complete (body dropped, R8), retry or release each row.
 *
 * In-doubt sends: `send.messages` has no de-duplication on the portal (§5.8, pitfall 6). When a call's
 * answer is lost (timeout, reset, 5xx) its rows are failed with an `in doubt:` reason and resent later with
 * the same message ids: a lost customer message is worse than a message an operator sees twice. Each resend
 * counts an attempt, so a row can be duplicated at most `maxAttempts - 1` times before it is dead-lettered;
 * every such item is counted (`olchat_portal_in_doubt_items_total`) and logged. Calls that provably did not
 * run (rate limits, token trouble, connection refused, portal needing re-authorisation) release their rows
 * untouched instead, and the other kinds can be repeated safely, so they are released too.
 */
import { AccountNotFoundError } from '../../../storage/repos/accounts.ts'
import type { Logger } from '../../log/logger.ts'
import { defaultPortalSenderOptions, type PortalSenderOptions } from './options.ts'
import { PortalPauses } from './portal-pauses.ts'
import { RoundSender } from './round.ts'
import type { DrainResult, PortalSenderDeps, Target } from './types.ts'

export type { DrainResult, PortalSenderDeps } from './types.ts'

export class PortalSender {
  readonly options: PortalSenderOptions
  readonly #deps: PortalSenderDeps
  readonly #log: Logger
  readonly #now: () => number
  readonly #random: () => number
  readonly #pauses: PortalPauses
  readonly #rounds: RoundSender
  readonly #draining = new Map<string, Promise<DrainResult>>()
  #loop: Promise<void> | undefined
  #stopping = false
  #dirty = false
  #wakeUp: (() => void) | undefined

  constructor(deps: PortalSenderDeps) {
    this.#deps = deps
    this.options = {
      ...defaultPortalSenderOptions,
      ...deps.options,
      retry: { ...defaultPortalSenderOptions.retry, ...deps.options?.retry },
    }
    this.#log = deps.log.child({ module: 'portal-sender' })
    this.#now = deps.now ?? Date.now
    this.#random = deps.random ?? Math.random
    this.#pauses = new PortalPauses(
      this.#log,
      this.options.portalPauseMs,
      this.options.retry.maxMs,
      this.#now,
    )
    this.#rounds = new RoundSender({
      deps,
      options: this.options,
      log: this.#log,
      pauses: this.#pauses,
      now: this.#now,
      random: this.#random,
      isStopping: () => this.#stopping,
    })
  }

  /** Starts the background loop: a turn on every `notify` and every `pollIntervalMs`. */
  start(): void {
    if (this.#loop) return
    this.#stopping = false
    this.#loop = this.#run()
  }

  /** Stops the loop after the call in flight has been answered and settled; claimed rows not sent yet are
   * released. */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#wakeUp?.()
    await this.#loop
    await Promise.allSettled(this.#draining.values())
    this.#loop = undefined
  }

  /** New rows for `accountId` (or a portal or line came back): run a turn now. */
  notify(_accountId?: string): void {
    this.#dirty = true
    this.#wakeUp?.()
  }

  /** Lifts a portal's pause (e.g. it has just been re-authorised) and runs a turn. */
  resumePortal(portalId: string): void {
    this.#pauses.resume(portalId)
    this.notify()
  }

  /** One turn over every account with due rows. @returns whether some account has more right away. */
  async runOnce(): Promise<boolean> {
    const { deliveries } = this.#deps.repos
    await deliveries.requeueExpiredLocks()
    const queue = await deliveries.listDueAccounts('to_portal', 1000)
    let more = false
    const worker = async () => {
      for (let accountId = queue.shift(); accountId; accountId = queue.shift()) {
        if (this.#stopping) return
        const result = await this.drainAccount(accountId)
        if (result.status === 'more') more = true
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, this.options.concurrency) }, worker))
    return more
  }

  /** Drains one account for up to `maxRoundsPerTurn` calls; one drain per account at a time. */
  drainAccount(accountId: string): Promise<DrainResult> {
    const running = this.#draining.get(accountId)
    if (running) return running
    const drain = this.#drain(accountId).finally(() => this.#draining.delete(accountId))
    this.#draining.set(accountId, drain)
    return drain
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      this.#dirty = false
      try {
        if (await this.runOnce()) this.#dirty = true
      } catch (error) {
        this.#log.error({ err: error }, 'portal sender: turn failed')
      }
      if (!this.#stopping && !this.#dirty) await this.#sleep(this.options.pollIntervalMs)
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wakeUp = done
    }).finally(() => {
      this.#wakeUp = undefined
    })
  }

  async #drain(accountId: string): Promise<DrainResult> {
    const result: DrainResult = { status: 'idle', calls: 0, delivered: 0, failed: 0, released: 0, invalid: 0 }
    if (this.#stopping) return { ...result, status: 'stopped' }
    const target = await this.#target(accountId)
    // No line binding: leave the rows pending, attempts untouched, until the account is bound again.
    if (!target) return { ...result, status: 'unbound' }
    const { batchSize, lockMs, maxRoundsPerTurn } = this.options
    // Rows an earlier drain of ours left claimed (it died half-way, e.g. with the database): in doubt, resent.
    const orphans = await this.#deps.repos.deliveries.releaseOwnClaims(accountId, 'to_portal')
    if (orphans > 0)
      this.#log.warn({ accountId, rows: orphans }, 'portal sender: interrupted drain, rows back')
    for (let round = 0; ; round++) {
      if (this.#stopping) return { ...result, status: 'stopped' }
      if (this.#pauses.isPaused(target.portalId)) return { ...result, status: 'paused' }
      if (round >= maxRoundsPerTurn) return { ...result, status: 'more' }
      const rows = await this.#deps.repos.deliveries.claim(
        { accountId, direction: 'to_portal' },
        batchSize,
        lockMs,
      )
      if (rows.length === 0) return result
      await this.#rounds.send(target, rows, result)
    }
  }

  async #target(accountId: string): Promise<Target | undefined> {
    const { accounts, lines } = this.#deps.repos
    try {
      const account = await accounts.get(accountId)
      if (!account.lineId) return undefined
      const line = await lines.get(account.lineId)
      // §5.4 examples pass LINE as a number; keep a non-numeric id as it is.
      const lineId = /^\d+$/.test(line.lineId) ? Number(line.lineId) : line.lineId
      return { portalId: line.portalId, connector: line.connectorId, line: lineId }
    } catch (error) {
      if (error instanceof AccountNotFoundError) return undefined
      throw error
    }
  }
}
