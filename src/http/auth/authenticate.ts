/**
 * @module From an `Authorization` header to a `Principal`: `Bearer <API token>` (looked up by hash) or
 * `Bearer ols1.…` (a Bitrix24 session: signature, claims, expiry, and its portal still installed — a removed
 * portal's sessions die with it). Says why a credential was refused, for the audit log and the client.
 */
import type { Sql } from '../../../storage/db.ts'
import { portalRef } from '../../bitrix/app/security.ts'
import { findToken } from './api-tokens.ts'
import type { Principal } from './principal.ts'
import { looksLikeSessionToken, openSessionToken, type SessionKeys } from './session-token.ts'

export interface AuthenticateDeps {
  sql: Sql
  keys: SessionKeys
  now: () => Date
}

export type RefusedReason =
  | 'malformed'
  | 'unknown_token'
  | 'bad_signature'
  | 'session_expired'
  | 'session_revoked'

export type Authentication =
  | { kind: 'missing' }
  | { kind: 'refused'; reason: RefusedReason }
  | { kind: 'ok'; principal: Principal }

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]{16,2048})[ \t]*$/i

export async function authenticate(
  deps: AuthenticateDeps,
  header: string | undefined,
): Promise<Authentication> {
  if (header === undefined) return { kind: 'missing' }
  const token = BEARER.exec(header)?.[1]
  if (token === undefined) return { kind: 'refused', reason: 'malformed' }
  return looksLikeSessionToken(token) ? fromSession(deps, token) : fromApiToken(deps, token)
}

async function fromApiToken(deps: AuthenticateDeps, token: string): Promise<Authentication> {
  const row = await findToken(deps.sql, token)
  if (!row) return { kind: 'refused', reason: 'unknown_token' }
  return {
    kind: 'ok',
    principal: {
      via: 'api-token',
      actor: `api-token:${row.id}`,
      role: row.role,
      portalId: row.portalId,
      portalRef: row.memberId === null ? null : portalRef(deps.keys, row.memberId),
      tokenId: row.id,
    },
  }
}

async function fromSession(deps: AuthenticateDeps, token: string): Promise<Authentication> {
  const opened = openSessionToken(deps.keys, token, deps.now())
  if (!opened.ok) {
    const reason = opened.reason === 'expired' ? 'session_expired' : opened.reason
    return { kind: 'refused', reason }
  }
  const { claims } = opened
  const [portal] = await deps.sql<{ memberId: string; status: string }[]>`
    select member_id, status from portals where id = ${claims.portalId}`
  if (!portal || portal.status === 'uninstalled') return { kind: 'refused', reason: 'session_revoked' }
  return {
    kind: 'ok',
    principal: {
      via: 'bitrix-session',
      actor: `bitrix24-user:${claims.userId}`,
      role: claims.role,
      portalId: claims.portalId,
      portalRef: portalRef(deps.keys, portal.memberId),
      userId: claims.userId,
      expiresAt: new Date(claims.expiresAt),
      sessionId: claims.sessionId,
    },
  }
}
