/**
 * @module Prometheus counters of the MAX connector, registered once per registry: webhook deliveries by
 * outcome, and updates or parts left out by reason (an update type we do not handle is acknowledged, never
 * refused — MAX unsubscribes an endpoint that keeps failing, reference §4.2 — so it must show up here).
 */
import { Counter, type Registry } from 'prom-client'

export interface MaxMetrics {
  /** `stored`, `duplicate`, `ignored`, `unauthorized`, `bad_request`. */
  webhookDeliveries: Counter<'outcome'>
  /** `type:<t>` unknown update type, `malformed:<t>`, `attachment:<t>`, `chat:<kind>`, `event:<t>`. */
  skipped: Counter<'reason'>
}

const byRegistry = new WeakMap<Registry, MaxMetrics>()

export function maxMetrics(registry: Registry): MaxMetrics {
  let metrics = byRegistry.get(registry)
  if (!metrics) {
    metrics = {
      webhookDeliveries: new Counter({
        name: 'olchat_max_webhook_deliveries_total',
        help: 'MAX webhook deliveries answered, by outcome',
        labelNames: ['outcome'],
        registers: [registry],
      }),
      skipped: new Counter({
        name: 'olchat_max_updates_skipped_total',
        help: 'MAX updates (or parts of them) acknowledged but not relayed, by reason',
        labelNames: ['reason'],
        registers: [registry],
      }),
    }
    byRegistry.set(registry, metrics)
  }
  return metrics
}

/** Label values stay few: an update type from the wire is cut to a known shape. */
export function skipReason(reason: string): string {
  return reason.replace(/[^a-z0-9_:.-]/gi, '_').slice(0, 64)
}
