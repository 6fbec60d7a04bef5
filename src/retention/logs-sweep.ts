/**
 * @module R5: stored logs older than the period — finished rows of the Bitrix24 event inbox (their bodies
 * are already gone; what is left is the dedup key and the outcome) and, through the privacy module's hook,
 * the audit log, whose purge keeps the hash chain's anchor.
 */
import { cutoffFor } from './periods.ts'
import { budgetOf, inBatches, type Sweep, tally } from './sweep.ts'

export const logsSweep: Sweep = {
  rule: 'R5',
  name: 'logs',
  intervalMs: 3600_000,
  async run(deps) {
    const cutoff = cutoffFor(deps.periods, 'R5', deps.now())
    const events = await inBatches(deps, 'R5', budgetOf(deps), async (tx, limit) => {
      const result = await tx`
        delete from inbound_events where id in (
          select id from inbound_events where status <> 'pending' and processed_at < ${cutoff} limit ${limit})`
      return result.count
    })
    const auditEntries = deps.purgeAuditLog ? await deps.purgeAuditLog(cutoff) : 0
    return { deleted: tally({}, { inboxEvents: events.count, auditEntries }), more: events.more }
  },
}
