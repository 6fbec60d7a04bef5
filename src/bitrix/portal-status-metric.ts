/**
 * @module `olchat_portals{status}`: installed portals by status, read from PostgreSQL at scrape time. A portal
 * whose refresh token died shows up as `needs_reauth` on the operator's dashboards (and in alerts) until an
 * administrator opens the app in Bitrix24 again, which stores fresh tokens.
 */
import { Gauge, type Registry } from 'prom-client'
import type { Sql } from '../../storage/db.ts'

const STATUSES = ['active', 'needs_reauth', 'uninstalled'] as const

export function registerPortalStatusGauge(registry: Registry, sql: Sql): Gauge<'status'> {
  return new Gauge({
    name: 'olchat_portals',
    help: 'Installed Bitrix24 portals by status (needs_reauth: an administrator must open the app again)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows = await sql<{ status: string; n: number }[]>`
        select status, count(*)::int as n from portals group by status`
      for (const status of STATUSES) {
        this.set({ status }, rows.find((row) => row.status === status)?.n ?? 0)
      }
    },
  })
}
