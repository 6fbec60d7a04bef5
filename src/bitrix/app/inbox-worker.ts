/**
 * @module The inbox worker: claims stored Bitrix24 events (lease + SKIP LOCKED, so several instances share
 * the inbox) and runs their action (`event-actions.ts`). Failures are retried with exponential backoff up to
 * the repository's `maxAttempts`, then the row is given up and its body dropped. When a row of one Open Lines
 * chat fails, the later rows of that chat in the same batch are handed back, so order holds.
 */
import { retryOnConnectionLoss } from '../../../storage/connection-loss.ts'
import type { InboundEvent as InboxRow } from '../../../storage/repos/inbound-events.ts'
import { PortalInactiveError } from '../api.ts'
import type { BitrixAppDeps } from './deps.ts'
import { runEventAction } from './event-actions.ts'
import type { StoredEvent } from './events.ts'

export interface InboxProcessor {
  /** Claims and processes up to `limit` due events. @returns how many were claimed. */
  processPending(limit?: number): Promise<number>
}

export interface InboxWorker extends InboxProcessor {
  /** Processes at once instead of at the next poll (an event was just stored). */
  wake(): void
  stop(): Promise<void>
}

const MAX_BACKOFF_MS = 5 * 60_000

export function backoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(attempts - 1, 0), MAX_BACKOFF_MS)
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

export function createInboxProcessor(
  deps: BitrixAppDeps,
  // An event's action is database work and a few portal calls, all idempotent: a short lease lets another
  // instance take over soon after one dies, and a rare overlap only repeats idempotent work.
  { leaseMs = 30_000 }: { leaseMs?: number } = {},
): InboxProcessor {
  return {
    async processPending(limit = 20) {
      const rows = await deps.inbox.claim(limit, leaseMs)
      const blocked = new Set<string>()
      // Rows whose fate was written; the others (the database went away mid-pass) are handed back below.
      const settled = new Set<string>()
      try {
        await processRows(rows, blocked, settled)
      } finally {
        await giveBack(rows.filter((row) => !settled.has(row.id)))
      }
      return rows.length
    },
  }

  async function processRows(rows: InboxRow[], blocked: Set<string>, settled: Set<string>) {
    for (const row of rows) {
      const chain = row.orderKey === null ? null : `${row.portalId}|${row.orderKey}`
      if (chain !== null && blocked.has(chain)) {
        await deps.inbox.release(row.id)
        settled.add(row.id)
        continue
      }
      try {
        // A worker that died mid-way already spent these attempts (the lease lapsed each time).
        if (row.attempts > deps.inbox.maxAttempts) throw new Error('lease lapsed too often')
        const portal = await deps.repos.portals.get(row.portalId)
        const note = await runEventAction(deps, portal, row.id, row.payload as StoredEvent)
        await deps.inbox.complete(row.id, note)
        settled.add(row.id)
      } catch (error) {
        const permanent = error instanceof PortalInactiveError || row.attempts > deps.inbox.maxAttempts
        const status = await deps.inbox
          .fail(row.id, describe(error), backoffMs(row.attempts), { permanent })
          .then((status) => {
            settled.add(row.id)
            return status
          })
          .catch(() => 'gone')
        if (chain !== null) blocked.add(chain)
        deps.log.warn({ err: error, inboxId: row.id, event: row.event, status }, 'Bitrix24 event failed')
      }
    }
  }

  /**
   * Without this a row claimed in a pass that lost the database would wait out its lease, and every later
   * event of its chat behind it. Waits for the database to come back; the row's attempt does not count.
   */
  async function giveBack(rows: InboxRow[]) {
    if (rows.length === 0) return
    deps.log.warn({ rows: rows.length }, 'inbox pass interrupted: events handed back')
    await retryOnConnectionLoss(async () => {
      for (const row of rows) await deps.inbox.release(row.id)
    }).catch((error: unknown) =>
      deps.log.error({ err: error }, 'inbox: events not handed back (lease lapses)'),
    )
  }
}

export function startInboxWorker(
  deps: BitrixAppDeps,
  {
    intervalMs = 1000,
    batchSize = 20,
    leaseMs,
  }: { intervalMs?: number; batchSize?: number; leaseMs?: number } = {},
): InboxWorker {
  const processor = createInboxProcessor(deps, { leaseMs })
  let running = true
  // A wake-up during a pass must not be lost: the next pass starts at once instead of sleeping.
  let woken = false
  let timer: ReturnType<typeof setTimeout> | undefined
  let wakeUp: (() => void) | undefined
  const sleep = () =>
    new Promise<void>((resolve) => {
      wakeUp = resolve
      timer = setTimeout(resolve, intervalMs)
    })
  const loop = (async () => {
    while (running) {
      woken = false
      let claimed = 0
      try {
        claimed = await processor.processPending(batchSize)
      } catch (error) {
        deps.log.error({ err: error }, 'inbox worker pass failed')
      }
      if (running && claimed < batchSize && !woken) await sleep()
    }
  })()
  return {
    processPending: (limit) => processor.processPending(limit),
    wake() {
      woken = true
      clearTimeout(timer)
      wakeUp?.()
    },
    async stop() {
      running = false
      clearTimeout(timer)
      wakeUp?.()
      await loop
    },
  }
}
