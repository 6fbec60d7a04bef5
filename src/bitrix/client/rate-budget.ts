/**
 * @module The per-portal rate budget (reference/bitrix24.md §4.6, §9.14): requests wait here instead of
 * provoking QUERY_LIMIT_EXCEEDED or OPERATION_TIME_LIMIT.
 *
 * - A FIFO line per portal, ordered by a sequence number taken at the first attempt: a request that must be
 *   repeated (503, 429, refreshed token) goes back in at its old place, ahead of everything queued after it.
 * - A mirror of the portal's leaky bucket with a safety margin (80 % of the burst, 90 % of the drain by default),
 *   kept in a BucketStore: in the Cache when several instances share a portal, in-process otherwise.
 * - Per-method pauses from `time.operating`: above 80 % of the 480 s execution budget the method waits until
 *   `operating_reset_at`; other methods of the portal keep flowing past it.
 * - After a 503 the whole portal backs off (exponential, jittered, capped) and, for QUERY_LIMIT_EXCEEDED, the
 *   mirror is marked full so the drain decides when to resume.
 */
import type { RatePlan } from '../../../storage/repos/portals.ts'
import type { Logger } from '../../log/logger.ts'
import { type BucketParams, type BucketStore, LocalBucketStore } from './bucket-store.ts'
import type { BitrixMetrics } from './metrics.ts'

export interface BucketSpec {
  burst: number
  drainPerSecond: number
}

/** §4.6: Enterprise drains 5/s with a burst of 250, every other plan 2/s and 50. */
export const PLAN_BUCKETS: Record<RatePlan, BucketSpec> = {
  standard: { burst: 50, drainPerSecond: 2 },
  enterprise: { burst: 250, drainPerSecond: 5 },
}

export interface BackoffOptions {
  /** First pause (default 1 s); doubles per attempt. */
  baseMs?: number
  /** Longest pause (default 30 s). */
  maxMs?: number
}

export interface RateBudgetOptions {
  /** Overrides of the portal's bucket per plan (emulators and tests run faster buckets). */
  plans?: Partial<Record<RatePlan, BucketSpec>>
  /** Share of the portal's burst Olchat uses (default 0.8): headroom for other apps on the same IP and jitter. */
  burstFraction?: number
  /** Share of the portal's drain rate Olchat assumes (default 0.9), so the mirror never drifts above the portal. */
  drainFraction?: number
  /** Where the bucket mirror lives (default: this process only). */
  store?: BucketStore
  /** The portal's per-method execution budget in seconds per 10 minutes (default 480, §4.6). */
  operatingLimitSeconds?: number
  /** Pause a method once `time.operating` passes this share of the budget (default 0.8). */
  operatingPauseFraction?: number
  backoff?: BackoffOptions
  logger?: Logger
  metrics?: BitrixMetrics
  /** Jitter source (tests). */
  random?: () => number
}

/** No pause lasts longer than the portal's 10-minute accounting window. */
const MAX_PAUSE_MS = 10 * 60_000
/** When `operating_reset_at` is missing or past: the oldest bucket is one minute wide. */
const DEFAULT_OPERATING_PAUSE_MS = 60_000

interface Job {
  seq: number
  methods: readonly string[]
  /** Undefined while the caller's own check (portal status, plan) is still running. */
  plan: RatePlan | undefined
  ready: Promise<void> | undefined
  admit: () => void
}

interface Lane {
  /** Sorted by `seq`. */
  queue: Job[]
  /** Wall-clock ms until which nothing is sent to the portal (503 backoff). */
  pausedUntil: number
  methodPauses: Map<string, number>
  /** Last `operating_reset_at` seen per method, in ms. */
  resets: Map<string, number>
  running: boolean
  /** Cuts the pump's current wait short (set only while waiting for a paused method). */
  wake: (() => void) | undefined
  storeFailing: boolean
}

export class RateBudget {
  readonly #lanes = new Map<string, Lane>()
  readonly #local = new LocalBucketStore()
  readonly #store: BucketStore
  readonly #plans: Record<RatePlan, BucketSpec>
  readonly #burstFraction: number
  readonly #drainFraction: number
  readonly #operatingThreshold: number
  readonly #backoffBase: number
  readonly #backoffMax: number
  readonly #random: () => number
  #seq = 0

  constructor(private readonly options: RateBudgetOptions = {}) {
    this.#store = options.store ?? this.#local
    this.#plans = { ...PLAN_BUCKETS, ...options.plans }
    this.#burstFraction = options.burstFraction ?? 0.8
    this.#drainFraction = options.drainFraction ?? 0.9
    this.#operatingThreshold =
      (options.operatingLimitSeconds ?? 480) * (options.operatingPauseFraction ?? 0.8)
    this.#backoffBase = options.backoff?.baseMs ?? 1_000
    this.#backoffMax = options.backoff?.maxMs ?? 30_000
    this.#random = options.random ?? Math.random
  }

  /** The mirror of a plan's bucket, margins applied. */
  bucket(plan: RatePlan): BucketParams {
    const spec = this.#plans[plan]
    return {
      capacity: Math.max(1, Math.floor(spec.burst * this.#burstFraction)),
      intervalMs: 1000 / (spec.drainPerSecond * this.#drainFraction),
      portalCapacity: spec.burst,
    }
  }

  /**
   * Waits for the request's turn: first in the portal's line among requests whose methods are not paused, the
   * portal not backing off, and a free slot in the bucket. The place is taken synchronously, so requests keep
   * the order of the calls even when `plan` comes from a database read that finishes out of order.
   * @param plan the portal's plan, or the caller's check that yields it; if that check fails, the request
   *   leaves the line and this rejects with its error
   * @param seq the place returned by an earlier attempt of the same request (a retry keeps its place)
   * @returns the request's place in line
   */
  acquire(
    portalId: string,
    plan: RatePlan | Promise<RatePlan>,
    methods: readonly string[],
    seq?: number,
  ): Promise<number> {
    const lane = this.#lane(portalId)
    const place = seq ?? ++this.#seq
    return new Promise((resolve, reject) => {
      const job: Job = { seq: place, methods, plan: undefined, ready: undefined, admit: () => resolve(place) }
      if (typeof plan === 'string') job.plan = plan
      else {
        job.ready = plan.then(
          (known) => {
            job.plan = known
            job.ready = undefined
          },
          (error: unknown) => {
            lane.queue.splice(lane.queue.indexOf(job), 1)
            reject(error)
          },
        )
      }
      const at = lane.queue.findIndex((queued) => queued.seq > place)
      lane.queue.splice(at === -1 ? lane.queue.length : at, 0, job)
      lane.wake?.()
      if (!lane.running) {
        lane.running = true
        void this.#pump(portalId, lane)
      }
    })
  }

  /** Reads a response's `time` block: pauses the method before the portal's OPERATION_TIME_LIMIT. */
  observe(portalId: string, method: string, time: unknown): void {
    if (time === null || typeof time !== 'object') return
    const block = time as Record<string, unknown>
    const operating = Number(block.operating)
    const resetAt = Number(block.operating_reset_at) * 1000
    const lane = this.#lane(portalId)
    if (Number.isFinite(resetAt)) lane.resets.set(method, resetAt)
    if (!Number.isFinite(operating) || operating < this.#operatingThreshold) return
    const now = Date.now()
    const until = Number.isFinite(resetAt) && resetAt > now ? resetAt : now + DEFAULT_OPERATING_PAUSE_MS
    this.#pauseMethod(lane, method, until)
    this.options.logger?.info(
      { portalId, method, operating, pausedMs: (lane.methodPauses.get(method) ?? now) - now },
      'bitrix method paused before its execution-time limit',
    )
  }

  /**
   * The portal answered 503: back the whole portal off (and mark its bucket full on QUERY_LIMIT_EXCEEDED).
   * @returns the backoff in ms
   */
  async onRateLimited(
    portalId: string,
    plan: RatePlan,
    attempt: number,
    bucketFull: boolean,
  ): Promise<number> {
    const lane = this.#lane(portalId)
    if (bucketFull) {
      const params = this.bucket(plan)
      await this.#store
        .fill(portalId, params, Date.now())
        .catch(() => this.#local.fill(portalId, params, Date.now()))
    }
    const pause = this.backoff(attempt)
    lane.pausedUntil = Math.max(lane.pausedUntil, Date.now() + pause)
    this.options.logger?.warn({ portalId, attempt, pauseMs: pause, bucketFull }, 'bitrix portal answered 503')
    return pause
  }

  /**
   * The portal answered 429 OPERATION_TIME_LIMIT: pause these methods until the last known reset, or back off.
   * @returns the longest pause in ms
   */
  onOperatingLimit(portalId: string, methods: readonly string[], attempt: number): number {
    const lane = this.#lane(portalId)
    const now = Date.now()
    let longest = 0
    for (const method of methods) {
      const until = Math.max(lane.resets.get(method) ?? 0, now + this.backoff(attempt))
      this.#pauseMethod(lane, method, until)
      longest = Math.max(longest, (lane.methodPauses.get(method) ?? now) - now)
    }
    this.options.logger?.warn({ portalId, methods, pauseMs: longest }, 'bitrix operation time limit reached')
    return longest
  }

  /** Exponential backoff with jitter (50–100 % of the step), capped. */
  backoff(attempt: number): number {
    const step = Math.min(this.#backoffMax, this.#backoffBase * 2 ** Math.max(0, attempt - 1))
    return Math.round(step * (0.5 + this.#random() / 2))
  }

  /** Wall-clock ms until which `method` is paused for the portal, or undefined (tests, diagnostics). */
  methodPausedUntil(portalId: string, method: string): number | undefined {
    const until = this.#lanes.get(portalId)?.methodPauses.get(method)
    return until !== undefined && until > Date.now() ? until : undefined
  }

  /** Requests waiting for the portal (tests, diagnostics). */
  waiting(portalId: string): number {
    return this.#lanes.get(portalId)?.queue.length ?? 0
  }

  #lane(portalId: string): Lane {
    let lane = this.#lanes.get(portalId)
    if (!lane) {
      lane = {
        queue: [],
        pausedUntil: 0,
        methodPauses: new Map(),
        resets: new Map(),
        running: false,
        wake: undefined,
        storeFailing: false,
      }
      this.#lanes.set(portalId, lane)
    }
    return lane
  }

  #pauseMethod(lane: Lane, method: string, until: number): void {
    const capped = Math.min(until, Date.now() + MAX_PAUSE_MS)
    lane.methodPauses.set(method, Math.max(lane.methodPauses.get(method) ?? 0, capped))
  }

  /** Admits the portal's requests one at a time, in order, as the pauses and the bucket allow. */
  async #pump(portalId: string, lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        try {
          const now = Date.now()
          if (lane.pausedUntil > now) {
            await this.#wait(lane, lane.pausedUntil - now, 'backoff', false)
            continue
          }
          const readyAt = (job: Job) => Math.max(0, ...job.methods.map((m) => lane.methodPauses.get(m) ?? 0))
          const job = lane.queue.find((queued) => readyAt(queued) <= now)
          if (!job) {
            // Every waiting request is of a paused method; a new request of another method wakes us.
            await this.#wait(lane, Math.min(...lane.queue.map(readyAt)) - now, 'operating', true)
            continue
          }
          if (job.plan === undefined) {
            // Its check is still running: later requests must not overtake it.
            await job.ready
            continue
          }
          const wait = await this.#take(portalId, lane, job.plan)
          if (wait > 0) {
            await this.#wait(lane, wait, 'bucket', false)
            continue
          }
          lane.queue.splice(lane.queue.indexOf(job), 1)
          job.admit()
        } catch (error) {
          // The pump must outlive surprises: queued callers would otherwise wait forever.
          this.options.logger?.error({ err: error, portalId }, 'bitrix rate budget pump failed; retrying')
          await Bun.sleep(1_000)
        }
      }
    } finally {
      lane.running = false
    }
  }

  /** A slot from the shared store; if the store is unreachable, from this process's own mirror. */
  async #take(portalId: string, lane: Lane, plan: RatePlan): Promise<number> {
    const params = this.bucket(plan)
    try {
      const wait = await this.#store.take(portalId, params, Date.now())
      lane.storeFailing = false
      return wait
    } catch (error) {
      if (!lane.storeFailing) {
        this.options.logger?.warn(
          { err: error, portalId },
          'shared rate bucket unavailable; using a local one',
        )
      }
      lane.storeFailing = true
      return this.#local.take(portalId, params, Date.now())
    }
  }

  #wait(
    lane: Lane,
    ms: number,
    reason: 'bucket' | 'backoff' | 'operating',
    wakeable: boolean,
  ): Promise<void> {
    const metrics = this.options.metrics
    metrics?.throttleWaits.inc({ reason })
    const started = performance.now()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        if (lane.wake === done) lane.wake = undefined
        metrics?.throttleWaitSeconds.inc({ reason }, (performance.now() - started) / 1000)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, ms))
      if (wakeable) lane.wake = done
    })
  }
}
