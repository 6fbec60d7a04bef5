/**
 * @module Audit entries of the admin API (PRIVACY P2): who (the token id or Bitrix24 user id, the role, and
 * the keyed reference of the caller's portal — never a token), what, on which target (its portal as a keyed
 * reference), from which address. Values a user typed (codes, passwords, phones) never go in.
 */
import type { Context } from 'hono'
import { getConnInfo } from 'hono/bun'
import type { Tx } from '../../../storage/db.ts'
import { portalRef } from '../../bitrix/app/security.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'

export interface AuditInput {
  action: string
  portalId?: string | null
  target?: string | null
  details?: Record<string, unknown>
  /** Who acted, when no principal is set yet (the session exchange names the user it just checked). */
  actor?: string
  actorRole?: string
}

/** The peer address when served by Bun (absent under `app.request` in tests). */
export function sourceIp(c: Context): string | null {
  try {
    return getConnInfo(c).remote.address ?? null
  } catch {
    return null
  }
}

export async function audit(
  deps: Pick<AdminDeps, 'repos' | 'keys'>,
  c: Context<AdminEnv>,
  input: AuditInput,
  tx?: Tx,
): Promise<void> {
  const principal = c.get('principal') as AdminEnv['Variables']['principal'] | undefined
  let ref: string | null = null
  if (input.portalId) {
    const portal = await deps.repos.portals.get(input.portalId, tx).catch(() => undefined)
    ref = portal ? portalRef(deps.keys, portal.memberId) : null
  }
  await deps.repos.auditLog.append(
    {
      portalRef: ref,
      actor: principal?.actor ?? input.actor ?? 'anonymous',
      actorRole: principal?.role ?? input.actorRole ?? null,
      action: input.action,
      target: input.target ?? null,
      sourceIp: sourceIp(c),
      details: {
        via: 'admin-api',
        ...(principal?.portalRef ? { actorPortal: principal.portalRef } : {}),
        ...(principal?.sessionId ? { session: principal.sessionId } : {}),
        ...input.details,
      },
    },
    tx,
  )
}
