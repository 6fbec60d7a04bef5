/**
 * @module The inbox worker: claims stored Bitrix24 events (lease + SKIP LOCKED, so several instances share
 * the inbox) and runs their action (`event-actions.ts`). Failures are retried with exponential backoff up to
 * the repository's `maxAttempts`, then the row is given up and its body dropped. Different Open Lines chats
 * are processed side by side, each chat's events in order; when a row of one chat fails, the later rows of
 * that chat in the same batch are handed back, so order holds.
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

/** A run of rows to process one after another: one Open Lines chat's, or a single event without a chat. */
type Chain = { key: string | null; rows: InboxRow[] }

/**
 * Splits claimed rows (in id order) into steps: within a step, chains of different chats may run side by side;
 * an event without a chat (install, line or uninstall events) is a step of its own, so it still sees every
 * earlier event done and no later one started.
 */
export function planSteps(rows: readonly InboxRow[]): Chain[][] {
  const steps: Chain[][] = []
  let current = new Map<string, Chain>()
  const close = () => {
    if (current.size > 0) steps.push([...current.values()])
    current = new Map()
  }
  for (const row of rows) {
    if (row.orderKey === null) {
      close()
      steps.push([{ key: null, rows: [row] }])
      continue
    }
    const key = `${row.portalId}|${row.orderKey}`
    const chain = current.get(key) ?? { key, rows: [] }
    chain.rows.push(row)
    current.set(key, chain)
  }
  close()
  return steps
}

/** Runs `tasks` with at most `limit` at once. */
async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]!()
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker))
}

export function createInboxProcessor(
  deps: BitrixAppDeps,
  {
    // An event's action is database work and a few portal calls, all idempotent: a short lease lets another
    // instance take over soon after one dies, and a rare overlap only repeats idempotent work.
    leaseMs = 30_000,
    // Chats processed side by side in one pass: one chat's events stay in order, and a pass is no longer as
    // slow as the sum of every event's round trips (the inbox is shared by all accounts of the process).
    concurrency = 8,
  }: { leaseMs?: number; concurrency?: number } = {},
): InboxProcessor {
  return {
    async processPending(limit = 20) {
      const rows = await deps.inbox.claim(limit, leaseMs)
      // Rows whose fate was written; the others (the database went away mid-pass) are handed back below.
      const settled = new Set<string>()
      // One read (and token decryption) per portal and pass, not per event.
      const portals = new Map<string, ReturnType<typeof deps.repos.portals.get>>()
      const portalOf = (id: string) => {
        let portal = portals.get(id)
        if (!portal) {
          portal = deps.repos.portals.get(id)
          portal.catch(() => portals.delete(id))
          portals.set(id, portal)
        }
        return portal
      }
      try {
        for (const step of planSteps(rows)) {
          await runLimited(
            step.map((chain) => () => processChain(chain, settled, portalOf)),
            concurrency,
          )
        }
      } finally {
        await giveBack(rows.filter((row) => !settled.has(row.id)))
      }
      return rows.length
    },
  }

  /** One chat's rows in order; after a failure the rest are handed back, so order holds. */
  async function processChain(
    chain: Chain,
    settled: Set<string>,
    portalOf: (id: string) => ReturnType<typeof deps.repos.portals.get>,
  ) {
    let blocked = false
    for (const row of chain.rows) {
      if (blocked) {
        await deps.inbox.release(row.id)
        settled.add(row.id)
        continue
      }
      try {
        // A worker that died mid-way already spent these attempts (the lease lapsed each time).
        if (row.attempts > deps.inbox.maxAttempts) throw new Error('lease lapsed too often')
        const portal = await portalOf(row.portalId)
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
        if (chain.key !== null) blocked = true
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
    batchSize = 50,
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
