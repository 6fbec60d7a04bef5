/**
 * @module Splits the accounts between two running Olchat processes, deterministically: a lease keeper takes
 * every free account it sees, so while one half is handed out the other process is frozen (SIGSTOP) for the
 * moment of one keeper round, then resumed. Both hold leases, which is what the failover tests need.
 */
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { until } from '../support/until.ts'
import type { Cluster, ClusterAccount, Node } from './cluster.ts'

export async function splitAccounts(
  c: Cluster,
  nodes: readonly Node[],
  accounts: readonly ClusterAccount[],
): Promise<{ ms: number }> {
  const started = performance.now()
  const half = Math.ceil(accounts.length / nodes.length)
  for (const [i, node] of nodes.entries()) {
    const share = accounts.slice(i * half, (i + 1) * half)
    const others = nodes.filter((n) => n !== node)
    for (const other of others) process.kill(other.pid, 'SIGSTOP')
    try {
      await c.connect(share)
      let nudged = performance.now()
      await until(
        `${share.length} leases taken by ${node.name}`,
        async () => {
          const owners = await c.owners()
          if (share.every((a) => owners.get(a.id) === node.instanceId)) return true
          // A wake-up sent before the process listened is lost; its 5 s round finds them anyway.
          if (performance.now() - nudged > 1_000) {
            nudged = performance.now()
            await c.db.sql.notify(LEASES_RELEASED_CHANNEL, '')
          }
          return undefined
        },
        { timeoutMs: 25_000, everyMs: 25 },
      ).catch(async (error: unknown) => {
        const activity = await c.db.sql<{ state: string; waiting: string | null; query: string }[]>`
          select state, wait_event_type as waiting, left(query, 120) as query from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`
        throw new Error(`${String(error)}; sessions: ${JSON.stringify(activity)}`)
      })
    } finally {
      for (const other of others) process.kill(other.pid, 'SIGCONT')
    }
  }
  return { ms: Math.round(performance.now() - started) }
}
