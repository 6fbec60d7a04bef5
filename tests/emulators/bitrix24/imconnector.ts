/**
 * @module The connector registry and status rows: `imconnector.register/unregister` (§5.2–5.3, nested
 * `result.result`, validation errors with HTTP 200), `activate` (§5.4), `status` (§5.5), `connector.data.set`
 * (§5.6), `list` (§5.7), `set.error` (§5.14), and `Status::delete` with its ONIMCONNECTORSTATUSDELETE (§5.1,
 * §6.8).
 */
import type { CallContext, MethodTable } from './call.ts'
import type { Emulator } from './context.ts'
import {
  isRecord,
  phpEmpty,
  phpInt,
  phpString,
  RestError,
  requireArgs,
  upperKeys,
  upperKeysDeep,
} from './errors.ts'
import { emitEvent } from './events.ts'
import { isConfigured, isStatusOk, type Portal, statusKey } from './state.ts'
import type { ConnectorFlags } from './types.ts'

/** Built-in connectors every portal lists (§5.7 example). */
export const BUILTIN_CONNECTORS: Record<string, string> = {
  livechat: 'Live Chat',
  telegrambot: 'Telegram',
  network: 'Bitrix24.Network',
}

/** §5.2 defaults: everything true except CHAT_GROUP. */
const FLAG_DEFAULTS: ConnectorFlags = {
  DEL_EXTERNAL_MESSAGES: true,
  EDIT_INTERNAL_MESSAGES: true,
  DEL_INTERNAL_MESSAGES: true,
  NEWSLETTER: true,
  NEED_SYSTEM_MESSAGES: true,
  NEED_SIGNATURE: true,
  CHAT_GROUP: false,
}

/**
 * §5.1 `Status::delete`: removes the row and fires ONIMCONNECTORSTATUSDELETE `{connector, line}` (lower-case
 * keys, §6.8) to the app owning the connector. Returns false when there was no row.
 */
export function deleteStatusRow(
  emu: Emulator,
  portal: Portal,
  connector: string,
  line: number,
  triggerUserId: number | null,
  ownerClientId?: string,
): boolean {
  const key = statusKey(connector, line)
  if (!portal.statuses.has(key)) return false
  portal.statuses.delete(key)
  const owner = ownerClientId ?? portal.connectors.get(connector)?.clientId
  // §6.1: without an owning app the portal skips the handler (WRONG_APP_ID).
  if (owner) {
    void emitEvent(emu, portal, {
      event: 'ONIMCONNECTORSTATUSDELETE',
      data: { connector, line: String(line) },
      clientId: owner,
      triggerUserId,
    })
  }
  return true
}

function nested(ok: boolean, error?: string, description?: string): unknown {
  // §5.2/§5.3: answers are wrapped once more and validation errors come back with HTTP 200.
  return ok ? { result: true } : { result: false, error, error_description: description }
}

function register(ctx: CallContext, raw: Record<string, unknown>): unknown {
  // §4.2: register upper-cases keys recursively.
  const p = upperKeysDeep(raw) as Record<string, unknown>
  const id = phpString(p.ID)
  const icon = isRecord(p.ICON) ? p.ICON : {}
  if (id.includes('.')) {
    return nested(false, 'APPLICATION_REGISTRATION_ERROR_POINT', 'The connector ID must not contain a dot')
  }
  if (phpEmpty(p.ID)) return nested(false, 'CONNECTOR_ID_REQUIRED', 'The connector ID is required')
  if (phpEmpty(p.NAME)) return nested(false, 'NAME_REQUIRED', 'The connector name is required')
  if (phpEmpty(icon.DATA_IMAGE)) return nested(false, 'ICON_REQUIRED', 'The connector icon is required')
  if (!ctx.clientId) return nested(false, 'NO_APPLICATION_ID', 'Application ID not found')
  if (phpEmpty(p.PLACEMENT_HANDLER)) {
    return nested(false, 'NO_PLACEMENT_HANDLER', 'The placement handler is required')
  }
  const lower = id.toLowerCase()
  const existing = ctx.portal.connectors.get(lower)
  if (BUILTIN_CONNECTORS[lower] || (existing && existing.clientId !== ctx.clientId)) {
    return nested(false, 'APPLICATION_REGISTRATION_ERROR', 'Failed to register the connector')
  }
  const flags = { ...FLAG_DEFAULTS }
  for (const name of Object.keys(flags) as (keyof ConnectorFlags)[]) {
    // §4.2: only real booleans count; anything else (e.g. form "Y"/"1") leaves the default.
    const value = p[name]
    if (value === true || value === false) flags[name] = value
  }
  const handler = phpString(p.PLACEMENT_HANDLER)
  const comment = p.COMMENT === undefined ? null : phpString(p.COMMENT)
  // §5.2: re-registering the same ID by the same app updates it.
  ctx.portal.connectors.set(lower, {
    id: lower,
    name: phpString(p.NAME),
    icon: p.ICON,
    iconDisabled: p.ICON_DISABLED ?? null,
    placementHandler: handler,
    comment,
    flags,
    clientId: ctx.clientId,
  })
  // §7: the SETTING_CONNECTOR placement is bound to PLACEMENT_HANDLER (replacing an older URL).
  ctx.portal.placements.set(lower, { handler, clientId: ctx.clientId, comment })
  return nested(true)
}

/** §5.3 effect, shared with uninstall (§2.5): status rows (each fires StatusDelete), connector, placement. */
export function unregisterConnector(
  ctx: CallContext | null,
  emu: Emulator,
  portal: Portal,
  id: string,
): void {
  const connector = portal.connectors.get(id)
  if (!connector) return
  for (const row of [...portal.statuses.values()].filter((r) => r.connector === id)) {
    deleteStatusRow(emu, portal, id, row.line, ctx?.userId ?? null, connector.clientId)
  }
  portal.connectors.delete(id)
  portal.placements.delete(id)
}

function unregister(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  if (!ctx.clientId) return nested(false, 'NO_APPLICATION_ID', 'Application ID not found')
  const id = phpString(p.ID).toLowerCase()
  const connector = ctx.portal.connectors.get(id)
  if (phpEmpty(p.ID) || !connector || connector.clientId !== ctx.clientId) {
    return nested(false, 'APPLICATION_UNREGISTRATION_ERROR', 'Failed to unregister the connector')
  }
  unregisterConnector(ctx, ctx.emu, ctx.portal, id)
  return nested(true)
}

function connectorAndLine(p: Record<string, unknown>): { connector: string; line: number } {
  // §5.2/pitfall 8: ids are stored lower-case; LINE is an integer.
  return { connector: phpString(p.CONNECTOR).toLowerCase(), line: phpInt(p.LINE) }
}

function activate(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  requireArgs(p, ['CONNECTOR', 'LINE', 'ACTIVE'])
  const { connector, line } = connectorAndLine(p)
  // §5.4: empty/0 → Status::delete (its result); anything else → A/C/R = Y, ERROR = N. The id is not checked.
  if (phpEmpty(p.ACTIVE)) return deleteStatusRow(ctx.emu, ctx.portal, connector, line, ctx.userId)
  const row = ctx.portal.statusRow(connector, line)
  row.ACTIVE = true
  row.CONNECTION = true
  row.REGISTER = true
  row.ERROR = false
  return true
}

function status(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  requireArgs(p, ['CONNECTOR'])
  const { connector, line } = connectorAndLine(p)
  // §5.1: Status::getInstance creates an empty row as a side effect.
  const row = ctx.portal.statusRow(connector, line)
  return {
    LINE: line,
    CONNECTOR: connector,
    ERROR: row.ERROR,
    CONFIGURED: isConfigured(row),
    STATUS: isStatusOk(row),
  }
}

function dataSet(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  requireArgs(p, ['CONNECTOR', 'LINE', 'DATA'])
  const { connector, line } = connectorAndLine(p)
  const data = isRecord(p.DATA) ? upperKeys(p.DATA) : {}
  const row = ctx.portal.statusRow(connector, line)
  // §5.6: source merges and skips empty values (docs: overwrite); keys lower-case; flags untouched.
  for (const [k, v] of Object.entries(data)) {
    if (!phpEmpty(v)) row.data[k.toLowerCase()] = phpString(v)
  }
  row.data.connector_id = connector
  return true
}

function list(ctx: CallContext): unknown {
  // §5.7: needs the right to change Open Lines connectors (admins here).
  if (!ctx.portal.users.get(ctx.userId)?.admin) {
    throw new RestError('ACCESS_DENIED', "You don't have access to this action", 400)
  }
  const out: Record<string, string> = { ...BUILTIN_CONNECTORS }
  for (const c of ctx.portal.connectors.values()) out[c.id] = c.name
  return out
}

function setError(ctx: CallContext, raw: Record<string, unknown>): unknown {
  const p = upperKeys(raw)
  requireArgs(p, ['CONNECTOR', 'LINE'])
  const { connector, line } = connectorAndLine(p)
  // §5.14: ERROR = Y → incoming messages fail with NOT_ACTIVE_LINE until activate.
  ctx.portal.statusRow(connector, line).ERROR = true
  return { SUCCESS: true, DATA: [] }
}

const scope = ['imopenlines', 'imconnector']

export const imconnectorMethods: MethodTable = {
  'imconnector.register': { fn: register, scope, appOnly: 'wrong-auth-type' },
  'imconnector.unregister': { fn: unregister, scope, appOnly: 'wrong-auth-type' },
  'imconnector.activate': { fn: activate, scope, appOnly: 'wrong-auth-type' },
  'imconnector.status': { fn: status, scope, appOnly: 'wrong-auth-type' },
  'imconnector.connector.data.set': { fn: dataSet, scope, appOnly: 'wrong-auth-type' },
  'imconnector.list': { fn: list, scope, appOnly: 'wrong-auth-type' },
  'imconnector.set.error': { fn: setError, scope, appOnly: 'wrong-auth-type' },
}
