/**
 * @module App lifecycle driven by the test: install (the §2.2 install-page POST and the §2.3 ONAPPINSTALL
 * callback), installFinish (§2.1), opening app pages and the SETTING_CONNECTOR placement (§7), app update
 * (§2.5: ONAPPUPDATE, handlers dropped) and uninstall (§2.5: ONAPPUNINSTALL with CLEAN; connectors, statuses,
 * handlers, placements deleted; tokens revoked).
 *
 * installFinish: the real call is `BX24.installFinish()` run by the page's JavaScript inside the iframe. The
 * emulator runs no JavaScript, so it counts the install as finished when (a) the test calls `finishInstall`,
 * or (b) an app page (install page or any `PLACEMENT=DEFAULT` page) answers 2xx with HTML that contains a
 * call `installFinish(` — the marker the real page would execute.
 */
import type { Emulator } from './context.ts'
import { emitEvent } from './events.ts'
import { unregisterConnector } from './imconnector.ts'
import { phpUrlencode } from './php-form.ts'
import { isStatusOk, type Portal, randomHex } from './state.ts'
import type { DeliveryRecord } from './stats.ts'
import type { Installation } from './types.ts'

export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export const INSTALL_FINISH_MARKER = /\binstallFinish\s*\(/

export interface PageResult {
  status: number
  body: string
  headers: Record<string, string>
  /** The AUTH_ID/REFRESH_ID that were posted (they belong to the opening user). */
  authId: string
  refreshId: string
  url: string
  form: Record<string, string>
}

function installationOf(emu: Emulator, portal: Portal, clientId?: string): Installation {
  const inst = portal.installation(emu.app(clientId).clientId)
  if (!inst) throw new ControlError(409, 'the app is not installed on this portal')
  return inst
}

function userOf(portal: Portal, userId: number) {
  const user = portal.users.get(userId)
  if (!user) throw new ControlError(404, `no user ${userId} on this portal`)
  return user
}

/** §2.2: query DOMAIN/PROTOCOL/LANG/APP_SID, form body with the opening user's tokens. */
async function postPage(
  emu: Emulator,
  portal: Portal,
  inst: Installation,
  url: string,
  userId: number,
  placement: string,
  placementOptions?: string,
): Promise<PageResult> {
  userOf(portal, userId)
  const pair = emu.tokens.issue(portal.memberId, inst.clientId, userId)
  const query = {
    DOMAIN: portal.domain,
    PROTOCOL: portal.url.startsWith('https:') ? '1' : '0',
    LANG: inst.languageId,
    APP_SID: randomHex(16),
  }
  const qs = Object.entries(query)
    .map(([k, v]) => `${k}=${phpUrlencode(v)}`)
    .join('&')
  const target = `${url}${url.includes('?') ? '&' : '?'}${qs}`
  const form: Record<string, string> = {
    AUTH_ID: pair.accessToken,
    AUTH_EXPIRES: String(Math.round((pair.expiresAt - pair.issuedAt) / 1000)),
    REFRESH_ID: pair.refreshToken,
    SERVER_ENDPOINT: emu.serverEndpoint,
    APPLICATION_TOKEN: inst.applicationToken,
    APPLICATION_SCOPE: emu.app(inst.clientId).scope,
    member_id: portal.memberId,
    status: portal.status,
    PLACEMENT: placement,
  }
  if (placementOptions !== undefined) form.PLACEMENT_OPTIONS = placementOptions
  const body = Object.entries(form)
    .map(([k, v]) => `${phpUrlencode(k)}=${phpUrlencode(v)}`)
    .join('&')
  let res: Response
  try {
    res = await fetch(target, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      signal: AbortSignal.timeout(30_000),
    })
  } catch (e) {
    throw new ControlError(
      502,
      `app page ${url} did not answer: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
  const text = await res.text()
  const headers: Record<string, string> = {}
  res.headers.forEach((v, k) => {
    headers[k] = v
  })
  return {
    status: res.status,
    body: text,
    headers,
    authId: pair.accessToken,
    refreshId: pair.refreshToken,
    url: target,
    form,
  }
}

function recogniseFinish(inst: Installation, page: PageResult): void {
  if (page.status >= 200 && page.status < 300 && INSTALL_FINISH_MARKER.test(page.body)) inst.finished = true
}

export interface InstallInput {
  /** Install wizard page (§2.1 b): POSTed with PLACEMENT=DEFAULT. */
  appUrl?: string
  /** Installation callback (§2.3): receives ONAPPINSTALL. */
  eventUrl?: string
  clientId?: string
  userId?: number
  languageId?: string
  /** §2.1: an app without UI is installed at once and must not call installFinish. */
  restOnly?: boolean
  /** ONAPPINSTALL before the page (default after: §2.3 "may arrive late"). */
  eventFirst?: boolean
}

export interface InstallResult {
  applicationToken: string
  finished: boolean
  page: PageResult | null
  installEvent: DeliveryRecord | null
}

export async function install(emu: Emulator, portal: Portal, input: InstallInput): Promise<InstallResult> {
  const app = emu.app(input.clientId)
  const userId = input.userId ?? 1
  if (!userOf(portal, userId).admin)
    throw new ControlError(403, 'only a portal administrator can install apps')
  let inst = portal.installs.get(app.clientId)
  if (!inst?.installed) {
    inst = {
      clientId: app.clientId,
      applicationToken: randomHex(16),
      installed: true,
      finished: false,
      version: app.version,
      handlers: [],
      languageId: input.languageId ?? portal.languageId,
    }
    portal.installs.set(app.clientId, inst)
  }
  if (input.restOnly) inst.finished = true
  const current = inst
  const sendEvent = async () => {
    if (!input.eventUrl) return null
    const data = {
      VERSION: String(current.version),
      ACTIVE: 'Y',
      INSTALLED: current.finished ? 'Y' : 'N',
      LANGUAGE_ID: current.languageId,
    }
    const [record] = await emitEvent(emu, portal, {
      event: 'ONAPPINSTALL',
      data,
      triggerUserId: userId,
      withRefresh: true,
      callback: { url: input.eventUrl, installation: current },
    })
    return record ?? null
  }
  let installEvent = input.eventFirst ? await sendEvent() : null
  let page: PageResult | null = null
  if (input.appUrl) {
    page = await postPage(emu, portal, inst, input.appUrl, userId, 'DEFAULT')
    recogniseFinish(inst, page)
  }
  if (!input.eventFirst) installEvent = await sendEvent()
  return { applicationToken: inst.applicationToken, finished: inst.finished, page, installEvent }
}

export function finishInstall(emu: Emulator, portal: Portal, clientId?: string): { finished: boolean } {
  installationOf(emu, portal, clientId).finished = true
  return { finished: true }
}

export async function openApp(
  emu: Emulator,
  portal: Portal,
  input: { url: string; userId?: number; clientId?: string },
): Promise<PageResult & { finished: boolean }> {
  const inst = installationOf(emu, portal, input.clientId)
  const page = await postPage(emu, portal, inst, input.url, input.userId ?? 1, 'DEFAULT')
  recogniseFinish(inst, page)
  return { ...page, finished: inst.finished }
}

export interface PlacementInput {
  connector: string
  line: number
  userId?: number
  /** Click "Connect" first (§5.1: sets only ACTIVE=Y). Default true. */
  connect?: boolean
}

export async function openPlacement(
  emu: Emulator,
  portal: Portal,
  input: PlacementInput,
): Promise<PageResult & { options: Record<string, unknown> }> {
  const id = input.connector.toLowerCase()
  const connector = portal.connectors.get(id)
  const placement = portal.placements.get(id)
  if (!connector || !placement) throw new ControlError(404, `connector ${id} is not registered`)
  if (!portal.lines.has(input.line)) throw new ControlError(404, `line ${input.line} does not exist`)
  const inst = installationOf(emu, portal, connector.clientId)
  if (input.connect ?? true) portal.statusRow(id, input.line).ACTIVE = true
  const row = portal.findStatus(id, input.line)
  // §7: LINE as a string, booleans mirror the status row, URI of the Contact Center slider.
  const options = {
    CONNECTOR: id,
    LINE: String(input.line),
    STATUS: isStatusOk(row),
    ACTIVE_STATUS: row?.ACTIVE ?? false,
    CONNECTION_STATUS: row?.CONNECTION ?? false,
    REGISTER_STATUS: row?.REGISTER ?? false,
    ERROR_STATUS: row?.ERROR ?? false,
    URI: `/contact_center/connector/?ID=${id}&IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER`,
  }
  const page = await postPage(
    emu,
    portal,
    inst,
    placement.handler,
    input.userId ?? 1,
    'SETTING_CONNECTOR',
    JSON.stringify(options),
  )
  return { ...page, options }
}

export async function updateApp(
  emu: Emulator,
  portal: Portal,
  input: { clientId?: string; version?: number; userId?: number },
): Promise<{ version: number; previousVersion: number; deliveries: DeliveryRecord[] }> {
  const inst = installationOf(emu, portal, input.clientId)
  const previousVersion = inst.version
  inst.version = input.version ?? previousVersion + 1
  const bound = inst.handlers.filter((h) => h.event === 'ONAPPUPDATE')
  // §2.5/§6.1: an update removes every handler; the event still reaches the handlers bound before it.
  inst.handlers = []
  const deliveries = await emitEvent(emu, portal, {
    event: 'ONAPPUPDATE',
    data: {
      VERSION: String(inst.version),
      PREVIOUS_VERSION: String(previousVersion),
      LANGUAGE_ID: inst.languageId,
    },
    triggerUserId: input.userId ?? 1,
    withRefresh: true,
    snapshot: { installation: { ...inst }, handlers: bound },
  })
  return { version: inst.version, previousVersion, deliveries }
}

export async function uninstall(
  emu: Emulator,
  portal: Portal,
  input: { clientId?: string; clean?: boolean },
): Promise<{ deliveries: DeliveryRecord[]; removedConnectors: string[] }> {
  const inst = installationOf(emu, portal, input.clientId)
  const snapshot = {
    installation: { ...inst },
    handlers: inst.handlers.filter((h) => h.event === 'ONAPPUNINSTALL'),
  }
  // §2.5: handlers, placements and the app's connectors (with status rows) go; API access is revoked.
  inst.handlers = []
  inst.installed = false
  inst.finished = false
  const removed = [...portal.connectors.values()].filter((c) => c.clientId === inst.clientId).map((c) => c.id)
  for (const id of removed) unregisterConnector(null, emu, portal, id)
  emu.tokens.revokeInstall(portal.memberId, inst.clientId)
  // §2.5: no tokens in the uninstall event; CLEAN is 1/0.
  const deliveries = await emitEvent(emu, portal, {
    event: 'ONAPPUNINSTALL',
    data: { LANGUAGE_ID: inst.languageId, CLEAN: input.clean === false ? 0 : 1 },
    triggerUserId: null,
    snapshot,
  })
  return { deliveries, removedConnectors: removed }
}
