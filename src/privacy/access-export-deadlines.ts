/**
 * @module When an exported item will be gone (D1): for every table location of the policy whose rule has a
 * period, the SQL expression giving the row's deletion time from its own columns and the period in force.
 * The expressions mirror what the retention sweeps delete (and the policy's overdue checks test), so the
 * export shows the deadline the code keeps. Rules without a period end with an event (disconnect,
 * uninstall, delivery) and are described in words instead.
 *
 * A location of the policy with a period rule missing here is found by `missingDeadlines` (a test fails),
 * so a new table cannot slip into the export without its deadline.
 */
import type postgres from 'postgres'
import type { Tx } from '../../storage/db.ts'
import type { PrivacyPolicy } from './policy-types.ts'
import { isPeriodRule } from './privacy-page-retention.ts'

type Fragment = postgres.PendingQuery<postgres.Row[]>

/** `<table>.<rule>` → deletion time of a row, `days` being the rule's period. Null while not yet counting. */
export const DEADLINES: Readonly<Record<string, (tx: Tx, days: number) => Fragment>> = {
  // R3: the messages sweep drops whole days older than the period (by origin time).
  'messages.R3': (tx, days) => tx`sent_at + make_interval(days => ${days}::int)`,
  // R3: finished relay jobs keep their idempotency key for the period after they finished.
  'deliveries.R3': (tx, days) => tx`finished_at + make_interval(days => ${days}::int)`,
  'max_updates.R3': (tx, days) => tx`handled_at + make_interval(days => ${days}::int)`,
  'telegram_message_chats.R3': (tx, days) => tx`seen_at + make_interval(days => ${days}::int)`,
  // R8: a body goes when delivered, at the latest at its expiry or the period after it was queued.
  'deliveries.R8': (tx, days) => tx`least(expires_at, created_at + make_interval(days => ${days}::int))`,
  'max_updates.R8': (tx, days) => tx`received_at + make_interval(days => ${days}::int)`,
  'inbound_events.R8': (tx, days) => tx`received_at + make_interval(days => ${days}::int)`,
  // R6: counted from the stale mark; a row never marked has no deadline yet.
  'contacts.R6': (tx, days) => tx`stale_at + make_interval(days => ${days}::int)`,
  'chats.R6': (tx, days) => tx`stale_at + make_interval(days => ${days}::int)`,
  // R7: analytics days are UTC dates.
  'analytics_daily.R7': (tx, days) => tx`(day + ${days}::int)::timestamp at time zone 'UTC'`,
}

/** `<table>.<rule>` pairs of the policy that have a period but no deadline expression here. */
export function missingDeadlines(policy: PrivacyPolicy): string[] {
  const missing: string[] = []
  for (const dataClass of Object.values(policy.classes)) {
    for (const location of dataClass.locations) {
      if (location.store !== 'postgres') continue
      for (const rule of location.rules) {
        const key = `${location.table}.${rule}`
        if (isPeriodRule(rule) && !(key in DEADLINES) && !missing.includes(key)) missing.push(key)
      }
    }
  }
  return missing
}
