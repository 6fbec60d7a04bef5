/**
 * @module In-memory pauses of portals in trouble (needs re-authorisation, rate limits, unreachable) and
 * the lines known inactive, so each outage is logged once at its start and once at its end, and a paused
 * portal costs no calls. Memory only: after a restart one call finds the trouble again.
 */
import type { Logger } from '../../log/logger.ts'

interface Pause {
  until: number
  streak: number
}

export class PortalPauses {
  readonly #pauses = new Map<string, Pause>()
  readonly #inactiveLines = new Set<string>()

  constructor(
    private readonly log: Logger,
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly now: () => number,
  ) {}

  isPaused(portalId: string): boolean {
    const pause = this.#pauses.get(portalId)
    return pause !== undefined && this.now() < pause.until
  }

  /** Pauses the portal, doubling the pause for each failure in a row. */
  pause(portalId: string, reason: string): number {
    const streak = (this.#pauses.get(portalId)?.streak ?? 0) + 1
    const ms = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(streak - 1, 20))
    this.#pauses.set(portalId, { until: this.now() + ms, streak })
    if (streak === 1) this.log.warn({ portalId, reason, pauseMs: ms }, 'portal sender: portal paused')
    else this.log.debug({ portalId, reason, pauseMs: ms, streak }, 'portal sender: portal still failing')
    return ms
  }

  /** A call went through: lifts the pause (and says so once). */
  succeeded(portalId: string): void {
    if (this.#pauses.delete(portalId)) this.log.info({ portalId }, 'portal sender: portal reachable again')
  }

  /** Lifts a pause at once (e.g. an admin has just re-authorised the app). */
  resume(portalId: string): void {
    this.#pauses.delete(portalId)
  }

  /** NOT_ACTIVE_LINE: logged once until the line works again. */
  lineInactive(lineKey: string, fields: Record<string, unknown>): void {
    if (this.#inactiveLines.has(lineKey)) return
    this.#inactiveLines.add(lineKey)
    this.log.warn(fields, 'portal sender: the line is not active on the portal; an admin must reconnect it')
  }

  lineActive(lineKey: string, fields: Record<string, unknown>): void {
    if (this.#inactiveLines.delete(lineKey)) this.log.info(fields, 'portal sender: the line is active again')
  }
}
