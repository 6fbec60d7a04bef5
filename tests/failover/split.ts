/**
 * @module Starts the two Olchat processes of a failover test with the accounts split between them, without
 * freezing anyone: `a` runs with `OLCHAT_MAX_ACCOUNTS` = half, so it stops taking leases at half; `b`, started
 * once `a` holds its half, has no limit and takes the rest — and, later, everything `a` leaves behind.
 */
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { until } from '../support/until.ts'
import type { Cluster, ClusterAccount, Node } from './cluster.ts'

async function waitForLeases(c: Cluster, node: Node, count: number, label: string): Promise<void> {
  let nudged = performance.now()
  await until(
    `${count} leases taken by ${label}`,
    async () => {
      const owners = await c.owners()
      let held = 0
      for (const owner of owners.values()) if (owner === node.instanceId) held++
      if (held >= count) return true
      // A wake-up sent before the process listened is lost; its 5 s round finds them anyway.
      if (performance.now() - nudged > 1_000) {
        nudged = performance.now()
        await c.db.sql.notify(LEASES_RELEASED_CHANNEL, '')
      }
      return undefined
    },
    { timeoutMs: 60_000, everyMs: 50 },
  )
}

/** @returns the capped node `a` (the one to kill: `b` can take everything) and `b`. */
export async function startSplitNodes(
  c: Cluster,
  accounts: readonly ClusterAccount[],
): Promise<{ capped: Node; open: Node; ms: number }> {
  const started = performance.now()
  const half = Math.ceil(accounts.length / 2)
  await c.connect(accounts)
  const capped = await c.startNode('a', { OLCHAT_MAX_ACCOUNTS: String(half) })
  await waitForLeases(c, capped, half, 'a')
  const open = await c.startNode('b')
  await waitForLeases(c, open, accounts.length - half, 'b')
  return { capped, open, ms: Math.round(performance.now() - started) }
}
