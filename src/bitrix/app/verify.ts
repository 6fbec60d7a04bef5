/**
 * @module Accepting install data (install page §2.2, ONAPPINSTALL §2.3): tokens are stored only after the
 * portal confirmed them (`app.info` with the posted access token answers in our app's context, §2.4, §2.6),
 * so nobody can "install" a made-up portal or swap a real portal's tokens.
 *
 * A known portal posting another application token (reinstall after an uninstall event we missed) is checked
 * against its stored address, not the posted one. A portal left 'uninstalled' is purged before it is created
 * again, so nothing of the old installation survives.
 */
import type { Portal } from '../../../storage/repos/portals.ts'
import type { BitrixAppDeps } from './deps.ts'
import { purgePortal } from './purge.ts'
import { hostOf, sameSecret } from './security.ts'

export class VerificationError extends Error {
  override name = 'VerificationError'
}

export interface InstallClaim {
  memberId: string
  /** `https://<portal>/rest/`, already checked by `portalEndpoint`. */
  clientEndpoint: string
  serverEndpoint: string | null
  applicationToken: string
  accessToken: string
  refreshToken: string
  expiresAt: Date
}

/** @throws VerificationError when the portal does not answer `app.info` for this token as our app */
export async function verifyAccessToken(
  deps: BitrixAppDeps,
  clientEndpoint: string,
  accessToken: string,
  expectedClientId: string | null | undefined,
): Promise<void> {
  let info: unknown
  try {
    info = await deps.callWithToken({
      clientEndpoint,
      accessToken,
      method: 'app.info',
      allowHttp: deps.config.allowHttpPortals,
    })
  } catch (error) {
    throw new VerificationError('the portal did not confirm the access token', { cause: error })
  }
  if (!info || typeof info !== 'object') throw new VerificationError('app.info gave no application')
  const record = info as Record<string, unknown>
  const clientId = record.client_id ?? record.CLIENT_ID
  if (expectedClientId && typeof clientId === 'string' && clientId !== expectedClientId) {
    throw new VerificationError('the access token belongs to another application')
  }
}

function storedEndpoint(portal: Portal): string {
  return portal.clientEndpoint ?? `https://${portal.domain}/rest/`
}

export async function acceptInstall(
  deps: BitrixAppDeps,
  claim: InstallClaim,
): Promise<{ portal: Portal; created: boolean }> {
  const existing = await deps.repos.portals.findByMemberId(claim.memberId)
  const live = existing !== undefined && existing.status !== 'uninstalled' ? existing : undefined
  const vouched = live !== undefined && sameSecret(live.applicationToken, claim.applicationToken)
  const endpoint = live && !vouched ? storedEndpoint(live) : claim.clientEndpoint
  await verifyAccessToken(deps, endpoint, claim.accessToken, live?.appClientId ?? deps.config.clientId)
  if (existing && existing.status === 'uninstalled') {
    await purgePortal(deps, existing, { trigger: 'reinstall', clean: null })
  }
  return deps.repos.portals.upsert({
    memberId: claim.memberId,
    domain: hostOf(endpoint),
    clientEndpoint: endpoint,
    serverEndpoint: claim.serverEndpoint,
    applicationToken: claim.applicationToken,
    accessToken: claim.accessToken,
    refreshToken: claim.refreshToken,
    tokenExpiresAt: claim.expiresAt,
  })
}
