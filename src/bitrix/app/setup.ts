/**
 * @module Puts a portal into the state Olchat needs, idempotently: one Open Lines connector per messenger
 * (`imconnector.register`, reference/bitrix24.md §5.2) and the event handlers (`event.bind`, §6.1). Run on
 * install, on ONAPPINSTALL and on ONAPPUPDATE (the portal drops handlers on update, pitfall 13); running it
 * again changes nothing on the portal.
 */
import { BitrixError } from '../api.ts'
import { type ConnectorDefinition, connectors, iconDataUrl } from '../connectors.ts'
import type { BitrixAppDeps } from './deps.ts'

/**
 * Flags sent with every `imconnector.register` (JSON booleans: the portal ignores anything but true/false,
 * §4.2). Why each value:
 * - CHAT_GROUP false: one Open Lines chat per customer (chat.id + user.id), which keeps the CRM tracker;
 *   changing it later would split every history (pitfall 17).
 * - NEED_SIGNATURE true: the customer sees which operator answers; the line's own "show operator data"
 *   setting still decides, and `options.signature` can drop it on our side.
 * - EDIT_INTERNAL_MESSAGES / DEL_INTERNAL_MESSAGES true: operators' edits and deletions are relayed (§6.5,
 *   §6.6).
 * - DEL_EXTERNAL_MESSAGES false: an operator deleting a customer's message must never delete it in the
 *   customer's own messenger, and the delete event would not tell the two apart.
 * - NEWSLETTER false: CRM mass mailings through a personal Telegram account get it banned for spam.
 * - NEED_SYSTEM_MESSAGES true: the line's automatic texts for the customer (rating request, closing) arrive,
 *   as with Bitrix24's own connectors.
 */
export const CONNECTOR_FLAGS = {
  CHAT_GROUP: false,
  NEED_SIGNATURE: true,
  EDIT_INTERNAL_MESSAGES: true,
  DEL_INTERNAL_MESSAGES: true,
  DEL_EXTERNAL_MESSAGES: false,
  NEWSLETTER: false,
  NEED_SYSTEM_MESSAGES: true,
} as const

/** §1, §6.1: every event Olchat handles. */
export const BOUND_EVENTS = [
  'OnImConnectorMessageAdd',
  'OnImConnectorMessageUpdate',
  'OnImConnectorMessageDelete',
  'OnImConnectorStatusDelete',
  'OnImConnectorLineDelete',
  'OnImConnectorDialogStart',
  'OnImConnectorDialogFinish',
  'OnAppUninstall',
  'OnAppUpdate',
] as const

export interface SetupResult {
  registered: string[]
  /** Events bound by this run (empty when every handler was already there). */
  bound: string[]
  /** Handlers of our events at another address (an earlier public URL) that this run removed. */
  unbound: Array<{ event: string; handler: string }>
}

export function enabledConnectors(deps: Pick<BitrixAppDeps, 'options'>): ConnectorDefinition[] {
  const list = [connectors.telegram, connectors.max]
  return deps.options?.sandboxConnector ? [...list, connectors.sandbox] : list
}

export function registerParams(connector: ConnectorDefinition, publicUrl: string): Record<string, unknown> {
  const icon = { DATA_IMAGE: iconDataUrl(connector.svg), SIZE: '90%', POSITION: 'center' }
  return {
    ID: connector.id,
    NAME: connector.name,
    ICON: { ...icon, COLOR: connector.color },
    ICON_DISABLED: { ...icon, COLOR: '#ebeff2' },
    PLACEMENT_HANDLER: `${publicUrl}/bitrix/placement`,
    ...CONNECTOR_FLAGS,
  }
}

/** §5.2: the answer is nested (`result.result`); the tutorial's flat `true` is tolerated (pitfall 9, 19). */
function registered(answer: unknown): { ok: boolean; error?: string; description?: string } {
  if (answer === true) return { ok: true }
  if (answer && typeof answer === 'object') {
    const nested = answer as { result?: unknown; error?: unknown; error_description?: unknown }
    if (nested.result === true) return { ok: true }
    return {
      ok: false,
      error: typeof nested.error === 'string' ? nested.error : 'REGISTER_FAILED',
      description: typeof nested.error_description === 'string' ? nested.error_description : '',
    }
  }
  return { ok: false, error: 'REGISTER_FAILED', description: 'unexpected answer' }
}

export async function registerConnectors(deps: BitrixAppDeps, portalId: string): Promise<string[]> {
  const ids: string[] = []
  for (const connector of enabledConnectors(deps)) {
    // One call each, with a JSON body: batch would send the flags form-encoded and the portal would ignore
    // them.
    const answer = await deps.api.call(
      portalId,
      'imconnector.register',
      registerParams(connector, deps.config.publicUrl),
      { idempotent: true },
    )
    const result = registered(answer)
    if (!result.ok) {
      throw new BitrixError(result.error!, result.description ?? '', 200, 'imconnector.register')
    }
    ids.push(connector.id)
  }
  return ids
}

const ALREADY_BOUND = /already bind/i

interface BoundHandler {
  event: string
  handler: string
}

async function boundHandlers(deps: BitrixAppDeps, portalId: string): Promise<BoundHandler[]> {
  const answer = await deps.api.call<unknown>(portalId, 'event.get', {}, { idempotent: true })
  return (Array.isArray(answer) ? answer : []).filter((item): item is BoundHandler => {
    const row = item as { event?: unknown; handler?: unknown } | null
    return typeof row?.event === 'string' && typeof row.handler === 'string'
  })
}

/**
 * Binds every event of BOUND_EVENTS to this installation's handler, and unbinds our events still pointing
 * somewhere else — left over from an earlier OLCHAT_PUBLIC_URL (a domain move): `event.get` lists only this
 * app's handlers (§6.1), so such a handler can only be ours, and keeping it would send events to a dead or
 * foreign address.
 */
export async function bindEvents(
  deps: BitrixAppDeps,
  portalId: string,
): Promise<{ bound: string[]; unbound: BoundHandler[] }> {
  const handler = `${deps.config.publicUrl}/bitrix/events`
  const ours = new Set(BOUND_EVENTS.map((event) => event.toUpperCase()))
  const handlers = (await boundHandlers(deps, portalId)).filter((h) => ours.has(h.event.toUpperCase()))
  const present = new Set(handlers.filter((h) => h.handler === handler).map((h) => h.event.toUpperCase()))
  const stale = handlers.filter((h) => h.handler !== handler)
  const missing = BOUND_EVENTS.filter((event) => !present.has(event.toUpperCase()))
  const commands = Object.fromEntries([
    ...missing.map((event, index) => [`bind${index}`, { method: 'event.bind', params: { event, handler } }]),
    ...stale.map((h, index) => [
      `unbind${index}`,
      { method: 'event.unbind', params: { event: h.event, handler: h.handler } },
    ]),
  ])
  if (Object.keys(commands).length === 0) return { bound: [], unbound: [] }
  const { errors } = await deps.api.batch(portalId, commands, { idempotent: true })
  for (const [key, error] of Object.entries(errors)) {
    // Another install run bound it in the meantime (§6.1): that is the state we want.
    if (ALREADY_BOUND.test(error.description) || ALREADY_BOUND.test(error.error)) continue
    if (key.startsWith('unbind')) {
      // A stale handler that cannot be removed costs only wasted deliveries: log it, do not fail the install.
      deps.log.warn({ portalId, error: error.error }, 'could not unbind a stale event handler')
      continue
    }
    const event = missing[Number(key.replace('bind', ''))] ?? key
    throw new BitrixError(error.error, `${event}: ${error.description}`, 200, 'event.bind')
  }
  return { bound: [...missing], unbound: stale }
}

export async function setUpPortal(deps: BitrixAppDeps, portalId: string): Promise<SetupResult> {
  const registeredIds = await registerConnectors(deps, portalId)
  const { bound, unbound } = await bindEvents(deps, portalId)
  return { registered: registeredIds, bound, unbound }
}
