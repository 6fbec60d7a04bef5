/** @module Prometheus metrics of the portal sender, registered on the process registry (src/metrics.ts). */
import { Counter, Histogram, type Registry } from 'prom-client'

export type ItemOutcomeLabel = 'delivered' | 'failed' | 'dead' | 'released' | 'invalid'

export interface PortalSenderMetrics {
  /** Calls by method and outcome (`ok` or the failure class). */
  calls: Counter<'method' | 'outcome'>
  /** Rows by kind and what became of them. */
  items: Counter<'kind' | 'outcome'>
  /** `send.messages` items resent after a call whose result was lost (possible duplicates). */
  inDoubt: Counter<string>
  /** Items per call. */
  callSize: Histogram<'method'>
}

export function createPortalSenderMetrics(registry: Registry): PortalSenderMetrics {
  const registers = [registry]
  return {
    calls: new Counter({
      name: 'olchat_portal_calls_total',
      help: 'Bitrix24 imconnector calls made by the portal sender, by method and outcome',
      labelNames: ['method', 'outcome'],
      registers,
    }),
    items: new Counter({
      name: 'olchat_portal_items_total',
      help: 'Queued to_portal rows handled, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    inDoubt: new Counter({
      name: 'olchat_portal_in_doubt_items_total',
      help: 'Messages in a send.messages call whose answer was lost; they are resent and may show twice',
      registers,
    }),
    callSize: new Histogram({
      name: 'olchat_portal_call_items',
      help: 'Items per imconnector call',
      labelNames: ['method'],
      buckets: [1, 2, 5, 10, 15, 20, 25, 50],
      registers,
    }),
  }
}
