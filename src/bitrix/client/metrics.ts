/**
 * @module Prometheus counters of the Bitrix24 REST client. Registered once per registry: a second client on the
 * same registry (tests, a CLI next to the server) reuses the existing counters instead of failing on the name.
 */
import { Counter, type Registry } from 'prom-client'

export interface BitrixMetrics {
  /** Finished `call`/`batch` invocations by method and outcome (retries inside count once). */
  calls: Counter<'method' | 'outcome'>
  /** Repeated HTTP attempts by reason (`expired_token`, `rate_limit`, `operating_limit`, `transport`). */
  retries: Counter<'reason'>
  /** Token refresh exchanges with the OAuth server by outcome. */
  refreshes: Counter<'outcome'>
  /** Times the rate budget held requests back, by reason (`bucket`, `backoff`, `operating`). */
  throttleWaits: Counter<'reason'>
  throttleWaitSeconds: Counter<'reason'>
}

export function createBitrixMetrics(registry: Registry): BitrixMetrics {
  const counter = <L extends string>(name: string, help: string, labelNames: L[]): Counter<L> =>
    (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] })
  return {
    calls: counter('olchat_bitrix_calls_total', 'Bitrix24 REST calls by method and outcome', [
      'method',
      'outcome',
    ]),
    retries: counter('olchat_bitrix_retries_total', 'Bitrix24 REST attempts repeated, by reason', ['reason']),
    refreshes: counter('olchat_bitrix_token_refreshes_total', 'OAuth token refreshes by outcome', [
      'outcome',
    ]),
    throttleWaits: counter('olchat_bitrix_throttle_waits_total', 'Rate budget waits by reason', ['reason']),
    throttleWaitSeconds: counter(
      'olchat_bitrix_throttle_wait_seconds_total',
      'Time requests were held back by the rate budget, by reason',
      ['reason'],
    ),
  }
}
