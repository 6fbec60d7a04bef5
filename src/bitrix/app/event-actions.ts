/**
 * @module What the inbox worker does with each stored event (event → action):
 * - MESSAGEADD / UPDATE / DELETE: a `to_messenger` delivery for the bound account (`operator-messages.ts`).
 * - STATUSDELETE (connector, line) / LINEDELETE (line): the line's settings row is deleted, which unbinds its
 *   account (FK set null), so nothing more is relayed to or from that line.
 * - DIALOGSTART / FINISH: the Open Lines session is recorded in the chat's context (or ignored, logged).
 * - ONAPPINSTALL / ONAPPUPDATE: connectors registered and events bound again (the portal drops handlers on
 *   update, pitfall 13).
 * - ONAPPUNINSTALL: every piece of the portal's data is deleted, whatever `data[CLEAN]` says (PRIVACY D3).
 * Each returns a note when it did nothing, for the row's `last_error`.
 */
import type { Portal } from '../../../storage/repos/portals.ts'
import { connectorById } from '../connectors.ts'
import type { BitrixAppDeps } from './deps.ts'
import type { StoredEvent } from './events.ts'
import { boundAccount, enqueueOperatorMessages } from './operator-messages.ts'
import { purgePortal } from './purge.ts'
import type { EventName, EventOf, WithoutAuth } from './schemas.ts'
import { portalRef } from './security.ts'
import { setUpPortal } from './setup.ts'

type Stored<N extends EventName> = WithoutAuth<EventOf<N>>

async function removeLines(
  deps: BitrixAppDeps,
  portal: Portal,
  lineId: string,
  connectorId: string | null,
  cause: string,
): Promise<string | null> {
  const lines = (await deps.repos.lines.listByPortal(portal.id)).filter(
    (line) =>
      line.lineId === lineId && (connectorId === null || line.connectorId === connectorId.toLowerCase()),
  )
  if (lines.length === 0) return `no settings for line ${lineId}`
  await deps.sql.begin(async (tx) => {
    for (const line of lines) {
      await deps.repos.lines.delete(line.id, tx)
      await deps.repos.auditLog.append(
        {
          portalRef: portalRef(deps.keys, portal.memberId),
          actor: 'bitrix24',
          action: 'connector.line.removed',
          target: `${line.connectorId}:${line.lineId}`,
          details: { cause },
        },
        tx,
      )
    }
  })
  deps.log.info({ portalId: portal.id, lineId, connectorId, cause }, 'line unbound by Bitrix24')
  return null
}

async function recordDialog(
  deps: BitrixAppDeps,
  portal: Portal,
  event: Stored<'ONIMCONNECTORDIALOGSTART' | 'ONIMCONNECTORDIALOGFINISH'>,
): Promise<string | null> {
  const { CONNECTOR, LINE, DATA = [] } = event.data
  const account = await boundAccount(deps, portal.id, CONNECTOR, LINE)
  if (!account) return `no account bound to ${CONNECTOR.toLowerCase()} line ${LINE}`
  let recorded = 0
  for (const item of DATA) {
    const remoteChatId = item.chat?.id ?? item.connector?.chat_id
    if (!remoteChatId || !item.session) continue
    const chat = await deps.repos.chats.getByRemote(account.id, remoteChatId)
    if (!chat) continue
    const session = {
      id: item.session.id,
      closed: (item.session.closed ?? (event.event === 'ONIMCONNECTORDIALOGFINISH' ? 'Y' : 'N')) === 'Y',
      at: event.ts,
    }
    await deps.repos.chats.upsert({
      accountId: account.id,
      remoteChatId,
      context: { ...chat.context, openLinesSession: session },
    })
    recorded++
  }
  if (recorded === 0) {
    deps.log.debug({ portalId: portal.id, event: event.event }, 'dialog event for no known chat ignored')
    return 'no known chat'
  }
  return null
}

export async function runEventAction(
  deps: BitrixAppDeps,
  portal: Portal,
  inboxId: string,
  event: StoredEvent,
): Promise<string | null> {
  if (portal.status === 'uninstalled' && event.event !== 'ONAPPUNINSTALL') return 'portal uninstalled'
  switch (event.event) {
    case 'ONIMCONNECTORMESSAGEADD':
    case 'ONIMCONNECTORMESSAGEUPDATE':
    case 'ONIMCONNECTORMESSAGEDELETE':
      return enqueueOperatorMessages(deps, portal.id, inboxId, event)
    case 'ONIMCONNECTORSTATUSDELETE': {
      const connector = connectorById(event.data.connector)
      if (!connector) return 'not an Olchat connector'
      return removeLines(deps, portal, event.data.line, connector.id, 'status deleted')
    }
    case 'ONIMCONNECTORLINEDELETE':
      return removeLines(deps, portal, event.data, null, 'line deleted')
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONIMCONNECTORDIALOGFINISH':
      return recordDialog(deps, portal, event)
    case 'ONAPPINSTALL':
    case 'ONAPPUPDATE': {
      const result = await setUpPortal(deps, portal.id)
      deps.log.info({ portalId: portal.id, event: event.event, ...result }, 'portal set up')
      return null
    }
    case 'ONAPPUNINSTALL': {
      if (portal.status !== 'uninstalled') return 'portal was installed again'
      await purgePortal(deps, portal, { trigger: 'OnAppUninstall', clean: event.data?.CLEAN === '1' })
      return null
    }
  }
}
