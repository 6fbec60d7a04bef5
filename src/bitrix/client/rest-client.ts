/**
 * @module `BitrixClient`: the BitrixApi for stored portals (reference/bitrix24.md §4). JSON bodies with `auth`
 * inside, `<client_endpoint><method>`, a timeout per attempt, typed errors, and the retry rules:
 * - 401 expired_token / invalid_token: refresh once (shared by all callers of the portal) and retry;
 * - 503 (QUERY_LIMIT_EXCEEDED or overload) and 429 OPERATION_TIME_LIMIT: the portal ran nothing, so any call
 *   waits in the rate budget (at its old place in line) and is sent again, up to `maxThrottleRetries`;
 * - no answer (timeout, lost connection, 502/504): retried only for `idempotent` calls, except connection
 *   refused, which provably ran nothing;
 * - anything else is thrown at once as a BitrixError.
 */
import type { Registry } from 'prom-client'
import type { Cache } from '../../../storage/cache/cache.ts'
import type { Logger } from '../../log/logger.ts'
import {
  type BatchCommand,
  type BatchResult,
  type BitrixApi,
  type BitrixCallOptions,
  BitrixError,
  BitrixTransportError,
  PortalInactiveError,
  PortalNeedsReauthError,
} from '../api.ts'
import { CacheBucketStore } from './bucket-store.ts'
import {
  checkEndpoint,
  checkMethodName,
  classify,
  DEFAULT_TIMEOUT_MS,
  type Outcome,
  restUrl,
  send,
} from './http.ts'
import { type BitrixMetrics, createBitrixMetrics } from './metrics.ts'
import { type PortalStore, TokenManager, type TokenManagerOptions } from './oauth.ts'
import { encodeBatchCommand } from './php-query.ts'
import { RateBudget, type RateBudgetOptions } from './rate-budget.ts'

/** §4.5: more sub-calls are refused with ERROR_BATCH_LENGTH_EXCEEDED. */
export const MAX_BATCH_COMMANDS = 50

export interface BitrixClientOptions {
  portals: PortalStore
  /** Refresh locks, and the shared bucket mirror unless `sharedBucket` is false. */
  cache: Cache
  /** Marketplace credentials (`config.bitrix.app`). */
  app?: { clientId: string; clientSecret: string } | undefined
  /** `config.bitrix.allowHttpPortals`. */
  allowHttp?: boolean
  /** Default per-attempt timeout (30 s). */
  timeoutMs?: number
  /**
   * Keep the leaky-bucket mirror in `cache`, so every instance draws from one budget per portal (default true;
   * with the in-process cache it costs nothing and changes nothing).
   */
  sharedBucket?: boolean
  /** Bucket sizes, margins, operating-time threshold, backoff; or a ready budget (tests). */
  budget?: Omit<RateBudgetOptions, 'store' | 'logger' | 'metrics'> | RateBudget
  /** Refresh timing and lock settings. */
  tokens?: Pick<TokenManagerOptions, 'refreshBeforeMs' | 'timeoutMs' | 'lockTtlMs' | 'lockPollMs'>
  /** Repeats after 503/429 before the error reaches the caller (default 10). */
  maxThrottleRetries?: number
  /** Repeats after a lost answer, for calls allowed to repeat (default 2). */
  maxTransportRetries?: number
  logger?: Logger
  /** Prometheus registry for the client's counters (`src/metrics.ts` → `registry`). */
  registry?: Registry
}

type Answer = Extract<Outcome, { kind: 'ok' }>

export class BitrixClient implements BitrixApi {
  readonly tokens: TokenManager
  readonly budget: RateBudget
  readonly #metrics: BitrixMetrics | undefined
  readonly #allowHttp: boolean
  readonly #timeoutMs: number
  readonly #maxThrottleRetries: number
  readonly #maxTransportRetries: number

  constructor(private readonly options: BitrixClientOptions) {
    const { cache, logger } = options
    this.#metrics = options.registry ? createBitrixMetrics(options.registry) : undefined
    this.#allowHttp = options.allowHttp ?? false
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#maxThrottleRetries = options.maxThrottleRetries ?? 10
    this.#maxTransportRetries = options.maxTransportRetries ?? 2
    this.tokens = new TokenManager({
      ...options.tokens,
      portals: options.portals,
      cache,
      app: options.app,
      allowHttp: this.#allowHttp,
      logger,
      metrics: this.#metrics,
    })
    this.budget =
      options.budget instanceof RateBudget
        ? options.budget
        : new RateBudget({
            ...options.budget,
            store: options.sharedBucket === false ? undefined : new CacheBucketStore(cache),
            logger,
            metrics: this.#metrics,
          })
  }

  async call<T = unknown>(
    portalId: string,
    method: string,
    params: Record<string, unknown> = {},
    options: BitrixCallOptions = {},
  ): Promise<T> {
    checkMethodName(method)
    const answer = await this.#measured(method, () =>
      this.#execute(portalId, method, [method], params, options),
    )
    return answer.result as T
  }

  async batch(
    portalId: string,
    commands: Record<string, BatchCommand>,
    options: BitrixCallOptions & { halt?: boolean } = {},
  ): Promise<BatchResult> {
    const keys = Object.keys(commands)
    if (keys.length > MAX_BATCH_COMMANDS) {
      throw new BitrixError(
        'ERROR_BATCH_LENGTH_EXCEEDED',
        `at most ${MAX_BATCH_COMMANDS} commands per batch, got ${keys.length}`,
        0,
        'batch',
      )
    }
    if (keys.length === 0) return { results: {}, errors: {} }
    const cmd: Record<string, string> = {}
    const methods = new Set<string>()
    for (const key of keys) {
      const { method, params } = commands[key]!
      checkMethodName(method)
      if (method.toLowerCase() === 'batch') {
        throw new BitrixError('ERROR_BATCH_METHOD_NOT_ALLOWED', 'batch cannot be nested', 0, 'batch')
      }
      cmd[key] = encodeBatchCommand(method, params)
      methods.add(method)
    }
    // The batch counts once against the bucket, but waits while any of its inner methods is paused.
    const gate = ['batch', ...methods]
    const params = { halt: options.halt ? 1 : 0, cmd }
    const answer = await this.#measured('batch', () =>
      this.#execute(portalId, 'batch', gate, params, options),
    )
    return this.#batchResult(portalId, commands, answer.result)
  }

  async #measured(method: string, run: () => Promise<Answer>): Promise<Answer> {
    try {
      const answer = await run()
      this.#metrics?.calls.inc({ method, outcome: 'ok' })
      return answer
    } catch (error) {
      this.#metrics?.calls.inc({ method, outcome: outcomeOf(error) })
      throw error
    }
  }

  async #execute(
    portalId: string,
    method: string,
    gate: readonly string[],
    params: Record<string, unknown>,
    options: BitrixCallOptions,
  ): Promise<Answer> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs
    // Fails fast, before any network traffic: unknown/uninstalled portal, needs re-auth, insecure endpoint.
    // The check runs while the request already holds its place in line, so calls keep their order.
    const check = this.tokens.portal(portalId).then((stored) => {
      checkEndpoint(stored.clientEndpoint, this.#allowHttp, method)
      return stored.ratePlan
    })
    let seq = await this.budget.acquire(portalId, check, gate)
    let renewed = false
    let throttled = 0
    let lost = 0
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) seq = await this.budget.acquire(portalId, await check, gate, seq)
      // Read after the wait: the token may have been refreshed (or expired) while the request was queued.
      const { portal, accessToken } = await this.tokens.session(portalId)
      const url = restUrl(checkEndpoint(portal.clientEndpoint, this.#allowHttp, method), method)
      const body = JSON.stringify({ ...params, auth: accessToken })
      let outcome: Outcome
      try {
        outcome = classify(
          await send(url, { body, contentType: 'application/json' }, timeoutMs, method),
          method,
        )
      } catch (error) {
        if (!(error instanceof BitrixTransportError)) throw error
        outcome = { kind: 'transport', error }
      }
      switch (outcome.kind) {
        case 'ok':
          this.budget.observe(portalId, method, outcome.time)
          return outcome
        case 'token':
          if (renewed) throw outcome.error
          renewed = true
          this.#retrying('expired_token', portalId, method, outcome.error)
          await this.tokens.renew(portalId, accessToken)
          continue
        case 'rate':
          if (++throttled > this.#maxThrottleRetries) throw outcome.error
          this.#retrying('rate_limit', portalId, method, outcome.error)
          await this.budget.onRateLimited(portalId, portal.ratePlan, throttled, outcome.bucketFull)
          continue
        case 'operating':
          if (++throttled > this.#maxThrottleRetries) throw outcome.error
          this.#retrying('operating_limit', portalId, method, outcome.error)
          this.budget.onOperatingLimit(portalId, gate, throttled)
          continue
        case 'transport':
          if ((options.idempotent || !outcome.error.maybeExecuted) && ++lost <= this.#maxTransportRetries) {
            this.#retrying('transport', portalId, method, outcome.error)
            await Bun.sleep(this.budget.backoff(lost))
            continue
          }
          throw outcome.error
        default:
          throw outcome.error
      }
    }
  }

  #retrying(reason: string, portalId: string, method: string, error: BitrixError): void {
    this.#metrics?.retries.inc({ reason })
    this.options.logger?.debug({ portalId, method, reason, code: error.code }, 'bitrix call repeated')
  }

  /** §4.5: `result.{result, result_error, result_time}` keyed by command (PHP lists come back as arrays). */
  #batchResult(portalId: string, commands: Record<string, BatchCommand>, result: unknown): BatchResult {
    const body = result !== null && typeof result === 'object' ? (result as Record<string, unknown>) : {}
    const errors: BatchResult['errors'] = {}
    for (const [key, raw] of Object.entries(byKey(body.result_error))) {
      const error = raw as { error?: unknown; error_description?: unknown } | string
      errors[key] =
        typeof error === 'object' && error !== null
          ? { error: String(error.error ?? 'ERROR'), description: String(error.error_description ?? '') }
          : { error: 'ERROR', description: String(error) }
      const method = commands[key]?.method
      // Inner calls count against their method's execution time; a later batch waits for the reset.
      if (method && errors[key].error === 'OPERATION_TIME_LIMIT')
        this.budget.onOperatingLimit(portalId, [method], 1)
    }
    for (const [key, time] of Object.entries(byKey(body.result_time))) {
      const method = commands[key]?.method
      if (method) this.budget.observe(portalId, method, time)
    }
    const results = byKey(body.result)
    for (const key of Object.keys(errors)) delete results[key]
    return { results, errors }
  }
}

/** A PHP array as JSON: an object keyed by command, or a list when the keys were 0, 1, 2… */
function byKey(value: unknown): Record<string, unknown> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((item, index) => [String(index), item]))
  if (value !== null && typeof value === 'object') return { ...(value as Record<string, unknown>) }
  return {}
}

function outcomeOf(error: unknown): string {
  if (error instanceof PortalNeedsReauthError) return 'needs_reauth'
  if (error instanceof PortalInactiveError) return 'inactive'
  if (error instanceof BitrixTransportError) return 'transport'
  if (error instanceof BitrixError)
    return error.status === 503 || error.status === 429 ? 'throttled' : 'error'
  return 'failure'
}

export { callWithToken } from './http.ts'
