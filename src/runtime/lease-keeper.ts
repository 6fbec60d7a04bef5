/**
 * @module LeaseKeeper: holds this process's account leases. Every `renewEveryMs` it renews what it holds and
 * takes free or expired leases up to its capacity; `onAcquired` starts an account, `onLost` stops it.
 *
 * Safety: a fencing token guards database writes, not a live messenger socket, so the keeper itself must
 * give an account up before anyone else can take it. Each lease gets a LOCAL deadline, measured on the
 * monotonic clock from the moment the last successful renewal was SENT (the database set `now() + ttl`
 * after that, so the lease cannot expire earlier): `sent + ttl − safetyMargin`. A timer of its own (not the
 * renewal loop, which may hang on a dead database) calls `onLost` when a deadline passes, leaving
 * `safetyMargin` to close the connection before the lease expires on the database clock.
 *
 * Timing defaults (20 s ttl, renew every 5 s, 5 s margin): a dead or frozen process's leases expire at most
 * 20 s after its last renewal and the others look every 5 s, so they take over within 25 s — inside the
 * 30 s budget with a few seconds left to connect. A holder that cannot reach the database keeps an account
 * for 15 s (two failed renewals), then drops it 5 s before anyone else may take it.
 *
 * A round takes batches for at most `renewEveryMs`, then the next round (at once) renews first: taking
 * thousands of accounts while each started account queues its own queries on the same pool can outlast the
 * local deadline, and an account dropped as overdue comes back as an expired lease that keeps every batch
 * full, so an unbounded round never got to renew (the relay bench's 10,000 idle accounts flapped so).
 */
import type { AccountLeaseRepository, HeldLease } from '../../storage/repos/account-leases.ts'

export type LeaseRepo = Pick<
  AccountLeaseRepository,
  'acquireAvailable' | 'renew' | 'release' | 'heartbeat' | 'forgetInstance'
>

/** Monotonic time and timers (xstate's `SimulatedClock` fits, for tests). */
export interface KeeperClock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const monotonicClock: KeeperClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/**
 * Why an account is given up: its renewal is overdue by the local clock, another instance holds it now,
 * or the keeper is stopping.
 */
export type LostReason = 'renewal-overdue' | 'taken' | 'stopping'

export interface LeaseKeeperOptions {
  /** Lease length on the database clock. */
  ttlMs?: number
  renewEveryMs?: number
  /** Time left between the local give-up and the lease's expiry: closing the connection, event-loop lag. */
  safetyMarginMs?: number
  /** Most accounts this process runs. */
  capacity?: number
  /**
   * Leases taken per statement; a round keeps taking batches while they come back full, for at most
   * `renewEveryMs` (at least one batch).
   */
  batchSize?: number
  /** How long `stop()` waits for `onLost` of each account before releasing (capped by the deadlines). */
  stopTimeoutMs?: number
}

export interface LeaseKeeperDeps {
  repo: LeaseRepo
  instanceId: string
  options?: LeaseKeeperOptions
  /** Start the account; pass the token to every fenced write. */
  onAcquired(accountId: string, fencingToken: string): void
  /**
   * Stop the account and close its messenger connection now. A returned promise tells `stop()` when the
   * connection is closed; only then is the lease released.
   */
  onLost(accountId: string, reason: LostReason): void | Promise<void>
  /** Failed database calls and callbacks that threw; the keeper carries on. */
  onError?(error: unknown): void
  clock?: KeeperClock
}

interface Held {
  fencingToken: string
  /** Local monotonic time by which the account must have been given up. */
  deadline: number
}

const defaults = {
  ttlMs: 20_000,
  renewEveryMs: 5_000,
  safetyMarginMs: 5_000,
  capacity: Number.POSITIVE_INFINITY,
  batchSize: 200,
  stopTimeoutMs: 10_000,
}

export class LeaseKeeper {
  readonly instanceId: string
  private readonly options: typeof defaults
  private readonly repo: LeaseRepo
  private readonly clock: KeeperClock
  private readonly held = new Map<string, Held>()
  private roundTimer: unknown
  private deadlineTimer: unknown
  private running: Promise<void> | undefined
  private started = false
  private stopped = false
  private stopping: Promise<void> | undefined
  private wakeRequested = false
  /** Leases an acquisition returned after stop() began. */
  private readonly strays: string[] = []

  constructor(private readonly deps: LeaseKeeperDeps) {
    this.instanceId = deps.instanceId
    this.repo = deps.repo
    this.clock = deps.clock ?? monotonicClock
    this.options = { ...defaults, ...deps.options }
    const { ttlMs, renewEveryMs, safetyMarginMs } = this.options
    if (safetyMarginMs <= 0 || ttlMs - safetyMarginMs <= renewEveryMs) {
      // Otherwise every lease would be given up before its next renewal.
      throw new RangeError('LeaseKeeper: need 0 < safetyMarginMs and ttlMs - safetyMarginMs > renewEveryMs')
    }
  }

  /** Starts the loop; the first round runs at once. */
  start(): void {
    if (this.started || this.stopped) return
    this.started = true
    this.schedule(0)
  }

  /** Runs a round soon, e.g. when another instance released leases. */
  wake(): void {
    if (!this.started || this.stopped) return
    if (this.running) this.wakeRequested = true
    else this.schedule(0)
  }

  /**
   * The fencing token while this process may run the account, else null. Checks the local deadline right
   * now, so a connector can call it before each send (after a freeze, before the timers have caught up).
   */
  fencingToken(accountId: string): string | null {
    this.dropOverdue()
    return this.held.get(accountId)?.fencingToken ?? null
  }

  heldAccounts(): string[] {
    return [...this.held.keys()]
  }

  /** One round now (tests; the loop calls it itself). Never throws. */
  async runRound(): Promise<void> {
    if (this.stopped) return
    if (this.running) return this.running
    this.running = this.round().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /**
   * Gives accounts up on purpose (e.g. disconnected by the user): the caller has stopped them already, so
   * `onLost` is not called. The leases are freed at once.
   */
  async release(accountIds: readonly string[]): Promise<void> {
    for (const id of accountIds) this.held.delete(id)
    this.armDeadline()
    await this.repo.release(this.instanceId, accountIds)
  }

  /**
   * Graceful shutdown: no more rounds; every account is stopped through `onLost(…, 'stopping')` and, once
   * that has finished, its lease is released at once so another instance takes it on its next round.
   * Accounts whose stop does not finish in time are not released: their leases run out instead.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutDown()
    return this.stopping
  }

  private async shutDown(): Promise<void> {
    this.stopped = true
    this.clock.clearTimeout(this.roundTimer)
    this.clock.clearTimeout(this.deadlineTimer)
    // Stop the accounts first (their leases are still valid), without waiting for a round under way.
    const earliest = Math.min(...[...this.held.values()].map((lease) => lease.deadline))
    const waitMs = Math.max(0, Math.min(this.options.stopTimeoutMs, earliest - this.clock.now()))
    const closed: string[] = []
    const stopping = [...this.held.keys()].map((id) =>
      this.lose(id, 'stopping').then(
        () => void closed.push(id),
        () => {},
      ),
    )
    await this.within(Promise.all(stopping), waitMs)
    // A round under way must not take leases after the release below.
    await this.running
    const all = closed.length === stopping.length
    try {
      // All stopped: free every row of this instance, strays included. Else only what is surely closed.
      await this.repo.release(this.instanceId, all ? undefined : [...closed, ...this.strays])
      await this.repo.forgetInstance(this.instanceId)
    } catch (error) {
      this.report(error)
    }
  }

  private within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(undefined), ms)
      promise.then((value) => {
        this.clock.clearTimeout(timer)
        resolve(value)
      })
    })
  }

  private schedule(delayMs: number): void {
    this.clock.clearTimeout(this.roundTimer)
    this.roundTimer = this.clock.setTimeout(() => void this.loop(), delayMs)
  }

  private async loop(): Promise<void> {
    if (this.stopped) return
    const startedAt = this.clock.now()
    await this.runRound()
    if (this.stopped) return
    const wake = this.wakeRequested
    this.wakeRequested = false
    this.schedule(wake ? 0 : Math.max(0, this.options.renewEveryMs - (this.clock.now() - startedAt)))
  }

  private async round(): Promise<void> {
    const startedAt = this.clock.now()
    this.dropOverdue()
    await this.renewHeld()
    await this.acquireFree(startedAt + this.options.renewEveryMs)
    await this.attempt(() => this.repo.heartbeat(this.instanceId))
  }

  private async renewHeld(): Promise<void> {
    const sent = [...this.held].map(([accountId, lease]) => ({ accountId, fencingToken: lease.fencingToken }))
    if (sent.length === 0) return
    const sentAt = this.clock.now()
    const renewed = await this.attempt(() => this.repo.renew(this.instanceId, sent, this.options.ttlMs))
    if (!renewed) return
    const ours = new Map(renewed.map((lease) => [lease.accountId, lease.fencingToken]))
    for (const { accountId, fencingToken } of sent) {
      const current = this.held.get(accountId)
      const stillOurs = ours.get(accountId) === fencingToken
      if (current?.fencingToken !== fencingToken) {
        // Given up while the renewal was under way. If it was renewed all the same, it is not released here:
        // its connection may still be closing. It runs out after one ttl.
        continue
      }
      if (stillOurs) {
        current.deadline = sentAt + this.options.ttlMs - this.options.safetyMarginMs
      } else {
        this.forget(accountId, 'taken')
      }
    }
    this.armDeadline()
  }

  /** Takes batches while they come back full, until `renewBy` (the next renewal is due; one batch anyway). */
  private async acquireFree(renewBy: number): Promise<void> {
    const { capacity, batchSize, ttlMs, safetyMarginMs } = this.options
    for (let first = true; !this.stopped && this.held.size < capacity; first = false) {
      if (!first && this.clock.now() >= renewBy) return
      const want = Math.min(batchSize, capacity - this.held.size)
      const sentAt = this.clock.now()
      const got = await this.attempt(() => this.repo.acquireAvailable(this.instanceId, want, ttlMs))
      if (!got) return
      if (this.stopped) {
        // Taken while stopping: never started, so stop() can release them whatever else happens.
        this.strays.push(...got.map((lease) => lease.accountId))
        return
      }
      for (const lease of got) this.take(lease, sentAt + ttlMs - safetyMarginMs)
      this.armDeadline()
      if (got.length < want) return
    }
  }

  private take(lease: HeldLease, deadline: number): void {
    // Only possible if the old lease expired on the database before our local deadline: start afresh.
    if (this.held.has(lease.accountId)) this.forget(lease.accountId, 'taken')
    this.held.set(lease.accountId, { fencingToken: lease.fencingToken, deadline })
    try {
      this.deps.onAcquired(lease.accountId, lease.fencingToken)
    } catch (error) {
      this.report(error)
    }
  }

  /** Forgets the account and tells the owner to stop it. */
  private lose(accountId: string, reason: LostReason): Promise<void> {
    this.held.delete(accountId)
    try {
      const result = this.deps.onLost(accountId, reason)
      return Promise.resolve(result).catch((error: unknown) => {
        this.report(error)
        throw error
      })
    } catch (error) {
      this.report(error)
      return Promise.reject(error)
    }
  }

  /** `lose` when nobody waits for the account to be stopped (failures are reported by `lose`). */
  private forget(accountId: string, reason: LostReason): void {
    this.lose(accountId, reason).catch(() => {})
  }

  private dropOverdue(): void {
    const now = this.clock.now()
    for (const [accountId, lease] of this.held) {
      if (lease.deadline <= now) this.forget(accountId, 'renewal-overdue')
    }
  }

  /** One timer at the earliest deadline, independent of the (possibly hanging) renewal round. */
  private armDeadline(): void {
    this.clock.clearTimeout(this.deadlineTimer)
    if (this.held.size === 0) return
    let earliest = Number.POSITIVE_INFINITY
    for (const lease of this.held.values()) earliest = Math.min(earliest, lease.deadline)
    this.deadlineTimer = this.clock.setTimeout(
      () => {
        this.dropOverdue()
        this.armDeadline()
      },
      Math.max(0, earliest - this.clock.now()),
    )
  }

  private async attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call()
    } catch (error) {
      this.report(error)
      return undefined
    }
  }

  private report(error: unknown): void {
    try {
      this.deps.onError?.(error)
    } catch {
      // A failing error reporter must not stop the keeper.
    }
  }
}
