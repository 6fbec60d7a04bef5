/**
 * @module `POST /bitrix/events`: every event Bitrix24 sends (reference/bitrix24.md §6). The form body is
 * decoded and validated (400 with the reason, nothing stored), `auth[application_token]` is compared in
 * constant time with the stored one (unknown portal or wrong token: 401, nothing stored), and the event is
 * written to the inbox before the 200 — Bitrix24 never retries. The inbox worker acts on it later.
 *
 * ONAPPINSTALL may introduce a portal, so its tokens are verified with the portal first (`verify.ts`).
 * ONAPPUNINSTALL marks the portal 'uninstalled' in the same transaction that stores it: from that moment the
 * REST client refuses calls for it and no later event is accepted.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import { canonicalJson } from '../../../storage/repos/audit-log.ts'
import type { BitrixAppDeps } from './deps.ts'
import { FormError, isFormContentType, parseForm } from './form.ts'
import { type BitrixEvent, describeIssues, type EventOf, eventSchema, type WithoutAuth } from './schemas.ts'
import { EndpointError, hostOf, keyedHash, oauthEndpoint, portalEndpoint, sameSecret } from './security.ts'
import { acceptInstall, VerificationError } from './verify.ts'

/** What the inbox keeps of an event: everything but `auth` (its tokens are never needed afterwards). */
export type StoredEvent = WithoutAuth<BitrixEvent>

type Outcome = { status: 200 | 400 | 401 | 503; body: Record<string, unknown> }

const unauthorized: Outcome = { status: 401, body: { error: 'unauthorized' } }
const malformed = (reason: string): Outcome => ({ status: 400, body: { error: 'malformed_event', reason } })

function toStored(event: BitrixEvent): StoredEvent {
  const { auth: _auth, ...rest } = event
  return rest as StoredEvent
}

/** Message events of one Open Lines chat keep their order in the inbox. */
function orderKey(deps: BitrixAppDeps, event: BitrixEvent): string | null {
  if (
    event.event !== 'ONIMCONNECTORMESSAGEADD' &&
    event.event !== 'ONIMCONNECTORMESSAGEUPDATE' &&
    event.event !== 'ONIMCONNECTORMESSAGEDELETE'
  ) {
    return null
  }
  const chat = `${event.data.CONNECTOR.toLowerCase()}|${event.data.LINE}|${event.data.MESSAGES[0]!.chat.id}`
  return keyedHash(deps.keys, 'bitrix inbox order v1', chat).slice(0, 32)
}

const lateOutcome: Outcome = {
  status: 503,
  body: { error: 'unavailable', reason: 'the event could not be stored in time' },
}

/**
 * Stores the event in the inbox unless `deadline` (ms) has passed. Bitrix24 tries an event once (§6.2) and
 * gives up on a slow answer; an event stored after that would land behind the chat's next event. The deadline
 * counts from when the request arrived, not from when the database first answered: a portal lookup stuck
 * behind a reconnecting pool (seen for ~20 s after a PostgreSQL restart) counts too.
 */
async function store(
  deps: BitrixAppDeps,
  portalId: string,
  event: BitrixEvent,
  deadline: number,
): Promise<Outcome> {
  const dedupKey = keyedHash(
    deps.keys,
    'bitrix inbox dedup v1',
    `${portalId}\n${event.event}\n${event.ts}\n${canonicalJson(event.data ?? null)}`,
  )
  const input = {
    portalId,
    event: event.event,
    dedupKey,
    orderKey: orderKey(deps, event),
    payload: toStored(event),
  }
  if (Date.now() > deadline) return late(deps, event, portalId)
  let created: boolean
  try {
    ;({ created } = await deps.sql.begin(async (tx) => {
      if (event.event === 'ONAPPUNINSTALL') await deps.repos.portals.setStatus(portalId, 'uninstalled', tx)
      const inserted = await deps.inbox.insert(input, tx)
      // A write held up by a database outage must not commit after the portal gave up on it.
      if (Date.now() > deadline) throw new LateEventError()
      return inserted
    }))
  } catch (error) {
    if (!(error instanceof LateEventError)) throw error
    return late(deps, event, portalId)
  }
  if (created) deps.onEventStored?.()
  return { status: 200, body: { ok: true, duplicate: !created } }
}

class LateEventError extends Error {
  override name = 'LateEventError'
}

function late(deps: BitrixAppDeps, event: BitrixEvent, portalId: string): Outcome {
  deps.log.warn({ event: event.event, portalId }, 'event not stored in time: answered 503, nothing kept')
  return lateOutcome
}

async function acceptInstallEvent(
  deps: BitrixAppDeps,
  event: EventOf<'ONAPPINSTALL'>,
  deadline: number,
): Promise<Outcome> {
  const { auth } = event
  if (!auth.member_id || !auth.application_token) return unauthorized
  const memberId = auth.member_id
  const applicationToken = auth.application_token
  const now = (deps.now ?? (() => new Date()))()
  let clientEndpoint: string
  let serverEndpoint: string | null
  try {
    clientEndpoint = portalEndpoint(
      auth.client_endpoint ? { clientEndpoint: auth.client_endpoint } : { domain: auth.domain },
      deps.config.allowHttpPortals,
    )
    if (hostOf(clientEndpoint).toLowerCase() !== auth.domain.toLowerCase()) {
      return malformed('auth.client_endpoint: does not match auth.domain')
    }
    serverEndpoint = auth.server_endpoint
      ? oauthEndpoint(auth.server_endpoint, clientEndpoint, deps.config.allowHttpPortals)
      : null
  } catch (error) {
    if (error instanceof EndpointError) return malformed(`auth.client_endpoint: ${error.message}`)
    throw error
  }
  const expiresAt = auth.expires
    ? new Date(Number(auth.expires) * 1000)
    : new Date(now.getTime() + Number(auth.expires_in ?? 3600) * 1000)
  try {
    const { portal } = await acceptInstall(deps, {
      memberId,
      clientEndpoint,
      serverEndpoint,
      applicationToken,
      accessToken: auth.access_token,
      refreshToken: auth.refresh_token,
      expiresAt,
    })
    return await store(deps, portal.id, event, deadline)
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error
    deps.log.warn({ err: error, memberId: auth.member_id }, 'ONAPPINSTALL refused: tokens not confirmed')
    return unauthorized
  }
}

/**
 * Validates, authenticates and stores one decoded event.
 * @param receivedAt when the request arrived (ms); the store deadline counts from it
 */
export async function acceptEvent(
  deps: BitrixAppDeps,
  form: Record<string, unknown>,
  receivedAt = Date.now(),
): Promise<Outcome> {
  const deadline = receivedAt + (deps.options?.eventStoreDeadlineMs ?? 5_000)
  // Event names are upper-case in payloads (§6.1); tolerate other spellings.
  const input = typeof form.event === 'string' ? { ...form, event: form.event.toUpperCase() } : form
  const parsed = v.safeParse(eventSchema, input)
  if (!parsed.success) return malformed(describeIssues(parsed.issues))
  const event = parsed.output
  if (event.event === 'ONAPPINSTALL') return acceptInstallEvent(deps, event, deadline)
  const { member_id: memberId, application_token: applicationToken } = event.auth
  const portal = memberId ? await deps.repos.portals.findByMemberId(memberId) : undefined
  if (!portal || portal.status === 'uninstalled' || !sameSecret(portal.applicationToken, applicationToken)) {
    deps.log.warn({ event: event.event, memberId }, 'event refused: not authenticated')
    return unauthorized
  }
  return store(deps, portal.id, event, deadline)
}

export function eventsHandler(deps: BitrixAppDeps) {
  return async function events(c: Context) {
    const receivedAt = Date.now()
    if (!isFormContentType(c.req.header('content-type'))) {
      return c.json({ error: 'unsupported_media_type', reason: 'expected a form-encoded body' }, 415)
    }
    let form: Record<string, unknown>
    try {
      form = parseForm(await c.req.text())
    } catch (error) {
      if (!(error instanceof FormError)) throw error
      return c.json(malformed(error.message).body, 400)
    }
    const outcome = await acceptEvent(deps, form, receivedAt)
    if (outcome.status !== 200 && outcome.status !== 401) {
      deps.log.info({ reason: outcome.body.reason }, 'malformed Bitrix24 event refused')
    }
    return c.json(outcome.body, outcome.status)
  }
}
