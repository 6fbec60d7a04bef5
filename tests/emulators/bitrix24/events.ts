/**
 * @module Outgoing events (§6.2): the queue server POSTs `event`, `event_handler_id`, `data`, `ts`, `auth{…}`
 * form-encoded (PHP `http_build_query`, own encoder) to every bound handler of the owning app, once, with no
 * retries, and never before installFinish (§2.1). Every attempt is recorded in the stats.
 */
import type { Emulator } from './context.ts'
import { httpBuildQuery } from './php-form.ts'
import type { Portal } from './state.ts'
import type { DeliveryRecord } from './stats.ts'
import type { HandlerRecord, Installation } from './types.ts'

/** §6.1: names known to `event.bind` (upper-case; binding is case-insensitive). */
export const KNOWN_EVENTS = new Set([
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONAPPUPDATE',
  'ONAPPTEST',
  'ONIMCONNECTORMESSAGEADD',
  'ONIMCONNECTORMESSAGEUPDATE',
  'ONIMCONNECTORMESSAGEDELETE',
  'ONIMCONNECTORSTATUSDELETE',
  'ONIMCONNECTORLINEDELETE',
  'ONIMCONNECTORDIALOGSTART',
  'ONIMCONNECTORDIALOGFINISH',
])

export interface EmitOptions {
  event: string
  data: unknown
  /** §6.1: connector events go only to the app owning the connector; undefined = every app (LineDelete). */
  clientId?: string
  /** User whose action caused the event; null = agent/automation → no tokens in `auth` (§6.3). */
  triggerUserId: number | null
  /** §6.3: `refresh_token` only for ONAPPINSTALL / ONAPPUPDATE. */
  withRefresh?: boolean
  /** Deliver to these handlers of this installation (taken before an update/uninstall dropped them). */
  snapshot?: { installation: Installation; handlers: HandlerRecord[] }
  /** ONAPPINSTALL install callback: one explicit URL, no handler (§2.3). */
  callback?: { url: string; installation: Installation }
}

/** §6.3 auth block; token-less triggers keep only the portal/app identification (§2.5 example). */
export function authBlock(
  emu: Emulator,
  portal: Portal,
  inst: Installation,
  userId: number | null,
  withRefresh: boolean,
): Record<string, string> {
  if (userId === null) {
    return {
      domain: portal.domain,
      server_endpoint: emu.serverEndpoint,
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      application_token: inst.applicationToken,
    }
  }
  const pair = emu.tokens.issue(portal.memberId, inst.clientId, userId)
  const auth: Record<string, string> = {
    access_token: pair.accessToken,
    expires: String(Math.floor(pair.expiresAt / 1000)),
    expires_in: String(Math.round((pair.expiresAt - pair.issuedAt) / 1000)),
    scope: emu.app(inst.clientId).scope,
    domain: portal.domain,
    server_endpoint: emu.serverEndpoint,
    status: portal.status,
    client_endpoint: portal.clientEndpoint,
    member_id: portal.memberId,
    user_id: String(userId),
  }
  if (withRefresh) auth.refresh_token = pair.refreshToken
  auth.application_token = inst.applicationToken
  return auth
}

async function post(
  emu: Emulator,
  portal: Portal,
  inst: Installation,
  event: string,
  url: string,
  handlerId: number | null,
  payload: Record<string, unknown>,
): Promise<DeliveryRecord> {
  const body = httpBuildQuery(payload, { falseAs: emu.settings.falseAs })
  const started = performance.now()
  let status: number | null = null
  let error: string | null = null
  try {
    // §6.2: one attempt; §11.5: "failed" is undocumented — here non-2xx, a redirect, a timeout or no answer.
    const res = await fetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': emu.settings.eventUserAgent,
      },
      signal: AbortSignal.timeout(emu.settings.eventTimeoutMs),
    })
    status = res.status
    await res.arrayBuffer().catch(() => undefined)
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e)
  }
  return emu.stats.delivery({
    memberId: portal.memberId,
    clientId: inst.clientId,
    event,
    handlerId,
    url,
    status,
    ok: status !== null && status >= 200 && status < 300,
    latencyMs: Math.round((performance.now() - started) * 100) / 100,
    at: Date.now(),
    error,
    body,
  })
}

async function run(emu: Emulator, portal: Portal, opts: EmitOptions, ts: string): Promise<DeliveryRecord[]> {
  const out: DeliveryRecord[] = []
  if (opts.callback) {
    const { url, installation } = opts.callback
    const auth = authBlock(emu, portal, installation, opts.triggerUserId, opts.withRefresh ?? false)
    out.push(
      await post(emu, portal, installation, opts.event, url, null, {
        event: opts.event,
        data: opts.data,
        ts,
        auth,
      }),
    )
    return out
  }
  const targets = opts.snapshot
    ? [opts.snapshot]
    : [...portal.installs.values()]
        .filter((inst) => inst.installed && (opts.clientId === undefined || inst.clientId === opts.clientId))
        .map((inst) => ({ installation: inst, handlers: inst.handlers }))
  for (const { installation, handlers } of targets) {
    const bound = handlers.filter((h) => h.event === opts.event && !h.offline)
    if (bound.length === 0) continue
    // §2.1, pitfall 2: nothing reaches handlers until installFinish.
    if (!installation.finished) {
      emu.stats.eventsSuppressed += bound.length
      continue
    }
    for (const h of bound) {
      // §6.1 auth_type: tokens for that user instead of the one who caused the event.
      const userId = h.authType > 0 ? h.authType : opts.triggerUserId
      const auth = authBlock(emu, portal, installation, userId, opts.withRefresh ?? false)
      const payload = { event: opts.event, event_handler_id: String(h.id), data: opts.data, ts, auth }
      out.push(await post(emu, portal, installation, opts.event, h.handler, h.id, payload))
    }
  }
  return out
}

/**
 * Queues an event; deliveries of one portal leave in emission order. REST methods do not await the result
 * (the portal hands events to its queue and answers at once); control actions do.
 */
export function emitEvent(emu: Emulator, portal: Portal, opts: EmitOptions): Promise<DeliveryRecord[]> {
  const ts = String(Math.floor(Date.now() / 1000))
  const prev = emu.eventChains.get(portal.memberId) ?? Promise.resolve()
  const next = prev.then(async () => {
    if (emu.settings.eventDelayMs > 0) await Bun.sleep(emu.settings.eventDelayMs)
    return run(emu, portal, opts, ts)
  })
  emu.eventChains.set(
    portal.memberId,
    next.catch(() => []),
  )
  return next
}

/** Waits until every queued event of the portal has been attempted. */
export async function drainEvents(emu: Emulator, portal: Portal): Promise<void> {
  let chain = emu.eventChains.get(portal.memberId)
  while (chain) {
    await chain.catch(() => undefined)
    const after = emu.eventChains.get(portal.memberId)
    if (after === chain) return
    chain = after
  }
}
