/**
 * @module Long polling (reference §4.1): `GET /updates?marker=&timeout=30&limit=100`, at most 2 requests a
 * second per token (the May 2026 notice, §2.4). The marker is int64, so it is read from the answer's text,
 * never through a JS number. It is stored in the account's session — and sent back to MAX, which commits
 * everything before it — only after the batch was handed over (and, when the core holds the position,
 * acked), so a crash or restart repeats a batch rather than losing it.
 */
import { NeedsLoginError } from '../../bridge/errors.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { ConnectionState } from '../../bridge/remote-event.ts'
import { type MaxApi, MaxApiError, parseAnswer } from './api.ts'
import type { RequestBudget } from './budget.ts'
import { floodSeconds, toBridgeError } from './errors.ts'
import { UpdateList } from './schemas.ts'
import { decodeText, SESSION_KEYS } from './session.ts'

export interface PollingOptions {
  /** Long-poll hold time in seconds (§2.4: 30). */
  timeoutSeconds: number
  /** Updates per answer (§2.4: ≤ 100). */
  limit: number
}

export const DEFAULT_POLLING: PollingOptions = { timeoutSeconds: 30, limit: 100 }

export interface PollerDeps {
  api: MaxApi
  session: SessionStore
  /** The token's polling budget (2 rps), shared by everything that polls this token in the process. */
  budget: RequestBudget
  options: PollingOptions
  /** Hands a batch over; resolves once it may be committed (rejects when `signal` aborts first). */
  handOver(updates: unknown[], signal: AbortSignal): Promise<void>
  /** The loop ended for this reason (the account actor reconnects). */
  report(state: Exclude<ConnectionState, 'connected'>, error: unknown, floodSeconds?: number): void
}

const MARKER = /"marker"\s*:\s*(-?\d+)/

/** The marker of an answer as decimal text, or undefined when the answer has none (or null). */
export function markerOf(text: string): string | undefined {
  return MARKER.exec(text)?.[1]
}

export class Poller {
  readonly #controller = new AbortController()
  readonly #loop: Promise<void>

  constructor(private readonly deps: PollerDeps) {
    this.#loop = this.#run()
  }

  /** Ends the loop: the request in flight is aborted and its batch not committed. */
  async stop(): Promise<void> {
    this.#controller.abort()
    await this.#loop
  }

  async #run(): Promise<void> {
    const { api, session, budget, options } = this.deps
    const signal = this.#controller.signal
    let marker: string | undefined
    try {
      marker = decodeText(await session.get(SESSION_KEYS.marker))
    } catch (error) {
      this.deps.report('transient-disconnect', error)
      return
    }
    while (!signal.aborted) {
      let text: string
      try {
        await budget.take(signal)
        ;({ text } = await api.callText('GET', '/updates', {
          query: { limit: options.limit, timeout: options.timeoutSeconds, marker },
          signal,
          timeoutMs: (options.timeoutSeconds + 15) * 1000,
        }))
      } catch (error) {
        if (!signal.aborted) this.#fail(error)
        return
      }
      try {
        const { updates } = parseAnswer(UpdateList, text, 'GET /updates')
        if (updates.length > 0) await this.deps.handOver(updates, signal)
        const next = markerOf(text)
        if (next !== undefined && next !== marker && !signal.aborted) {
          await session.set(SESSION_KEYS.marker, next)
          marker = next
        }
      } catch (error) {
        if (!signal.aborted) this.#fail(error)
        return
      }
    }
  }

  #fail(error: unknown): void {
    const mapped = toBridgeError(error)
    if (mapped instanceof NeedsLoginError) this.deps.report('bad-credentials', mapped)
    else if (error instanceof MaxApiError && error.status === 429) {
      this.deps.report('flood-wait', mapped, floodSeconds(error))
    } else this.deps.report('transient-disconnect', mapped)
  }
}
