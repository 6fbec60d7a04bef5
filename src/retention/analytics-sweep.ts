/**
 * @module R7: analytics are a rolling history; daily aggregates of UTC days before the cutoff's day are
 * rotated out in small batches.
 */
import { utcDay } from '../../storage/repos/common.ts'
import { cutoffFor } from './periods.ts'
import { budgetOf, inBatches, type Sweep, tally } from './sweep.ts'

export const analyticsSweep: Sweep = {
  rule: 'R7',
  name: 'analytics',
  intervalMs: 6 * 3600_000,
  async run(deps) {
    const firstKeptDay = utcDay(cutoffFor(deps.periods, 'R7', deps.now()))
    const days = await inBatches(deps, 'R7', budgetOf(deps), async (tx, limit) => {
      const result = await tx`
        delete from analytics_daily where id in (
          select id from analytics_daily where day < ${firstKeptDay}::date limit ${limit})`
      return result.count
    })
    return { deleted: tally({}, { analyticsDays: days.count }), more: days.more }
  },
}
