/**
 * @module Deletes everything Olchat holds about a portal (PRIVACY D3): cache keys under `p:<portalId>:` and the
 * REST client's `bitrix:*:<portalId>` keys, its retention deadlines,
 * files under `p/<portalId>/`, then the portal row, whose ON DELETE CASCADE removes lines, accounts,
 * sessions, contacts, chats, message metadata, deliveries, analytics and the events inbox. The row goes last:
 * while it exists the uninstall event that asked for this stays queued, so a failure is retried. A deletion
 * receipt (counts only, the portal named by a keyed hash — D5) and an audit entry record it, with `CLEAN`
 * (D3).
 */
import type { Portal } from '../../../storage/repos/portals.ts'
import type { BitrixAppDeps } from './deps.ts'
import { portalRef } from './security.ts'

export interface PurgeReceipt {
  trigger: string
  /** `data[CLEAN]` of the uninstall event (null when the purge had another trigger); it changes nothing. */
  clean: boolean | null
  rows: Record<string, number>
  cacheKeys: number
  files: number
}

async function countRows(deps: BitrixAppDeps, portalId: string): Promise<Record<string, number>> {
  // Column names come back camelCased (storage/db.ts): the receipt names tables as they are.
  const [row] = await deps.sql<Record<string, number>[]>`
    with a as (select id from accounts where portal_id = ${portalId})
    select
      (select count(*) from lines where portal_id = ${portalId})::int as lines,
      (select count(*) from a)::int as accounts,
      (select count(*) from account_sessions where account_id in (select id from a))::int as account_sessions,
      (select count(*) from contacts where account_id in (select id from a))::int as contacts,
      (select count(*) from chats where account_id in (select id from a))::int as chats,
      (select count(*) from messages where account_id in (select id from a))::int as messages,
      (select count(*) from deliveries where account_id in (select id from a))::int as deliveries,
      (select count(*) from analytics_daily where portal_id = ${portalId})::int as analytics_daily,
      (select count(*) from inbound_events where portal_id = ${portalId})::int as inbound_events`
  const byTable = Object.entries(row!).map(([key, count]) => [
    key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    count,
  ])
  return { portals: 1, ...Object.fromEntries(byTable) }
}

export async function purgePortal(
  deps: BitrixAppDeps,
  portal: Pick<Portal, 'id' | 'memberId'>,
  { trigger, clean }: { trigger: string; clean: boolean | null },
): Promise<PurgeReceipt> {
  const rows = await countRows(deps, portal.id)
  let cacheKeys = await deps.cache.deleteByPrefix(`p:${portal.id}:`)
  // The REST client's keys are named by the portal, not under its prefix (they would expire on their own).
  for (const key of [
    `bitrix:refresh:${portal.id}`,
    `bitrix:bucket:${portal.id}`,
    `bitrix:bucket-lock:${portal.id}`,
  ]) {
    if (await deps.cache.delete(key)) cacheKeys++
  }
  const files = await deps.files.deleteByPrefix(`p/${portal.id}/`)
  const receipt: PurgeReceipt = { trigger, clean, rows, cacheKeys, files }
  const ref = portalRef(deps.keys, portal.memberId)
  await deps.sql.begin(async (tx) => {
    // Deadlines name their subject by id only, so no foreign key takes them along.
    await tx`
      delete from retention_deadlines
      where subject_id = ${portal.id}
        or subject_id in (select id::text from accounts where portal_id = ${portal.id})`
    await deps.repos.portals.delete(portal.id, tx)
    const request = await deps.repos.dataRequests.create(
      { portalRef: ref, kind: 'deletion', scope: { trigger, clean }, requestedBy: 'bitrix24' },
      tx,
    )
    await deps.repos.dataRequests.complete(request.id, { ...receipt }, tx)
    await deps.repos.auditLog.append(
      { portalRef: ref, actor: 'bitrix24', action: 'portal.deleted', details: { ...receipt } },
      tx,
    )
  })
  deps.log.info({ portalRef: ref, trigger, clean, rows, cacheKeys, files }, 'portal data deleted')
  return receipt
}
