/**
 * @module R8: bodies only until delivered, an undeliverable one at most the period. Relay jobs past their
 * `expires_at` become bodyless dead letters (`deliveries.expire()`); finished jobs (done, or dead without a
 * body) are dropped once finished longer than the period ago — their idempotency keys have done their work
 * by then. Bitrix24 events and MAX updates still waiting after the period are given up, bodies dropped.
 */
import { cutoffFor } from './periods.ts'
import { budgetOf, inBatches, type Sweep, tally } from './sweep.ts'

export const undeliveredSweep: Sweep = {
  rule: 'R8',
  name: 'undelivered',
  intervalMs: 5 * 60_000,
  async run(deps) {
    const cutoff = cutoffFor(deps.periods, 'R8', deps.now())
    const budget = budgetOf(deps)
    const expiredBodies = await deps.repos.deliveries.expire()
    // A dead letter keeping its body (retryable until expires_at) is not a tombstone yet.
    const tombstones = await inBatches(deps, 'R8', budget, async (tx, limit) => {
      const result = await tx`
        delete from deliveries where id in (
          select id from deliveries
          where status in ('done', 'dead') and finished_at < ${cutoff} and payload_enc is null
          limit ${limit})`
      return result.count
    })
    // A worker holding a row (live lock) finishes it itself.
    const inboxBodies = await inBatches(deps, 'R8', budget, async (tx, limit) => {
      const result = await tx`
        update inbound_events set
          status = 'failed', payload_enc = null, processed_at = now(), locked_until = null,
          last_error = 'undelivered past the retention period (R8): body dropped'
        where id in (
          select id from inbound_events
          where status = 'pending' and received_at < ${cutoff}
            and (locked_until is null or locked_until < now())
          limit ${limit})`
      return result.count
    })
    const maxBodies = await inBatches(deps, 'R8', budget, async (tx, limit) => {
      const result = await tx`
        delete from max_updates where id in (
          select id from max_updates where handled_at is null and received_at < ${cutoff} limit ${limit})`
      return result.count
    })
    return {
      deleted: tally(
        {},
        {
          deliveryBodies: expiredBodies,
          deliveries: tombstones.count,
          inboxBodies: inboxBodies.count,
          maxUpdates: maxBodies.count,
        },
      ),
      more: tombstones.more || inboxBodies.more || maxBodies.more,
    }
  },
}
