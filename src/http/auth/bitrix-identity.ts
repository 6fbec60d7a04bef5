/**
 * @module Who a Bitrix24 user is, according to their portal (reference/bitrix24.md §2.2: the `AUTH_ID` an app
 * page or placement receives is the opening user's access token and carries that user's rights).
 *
 * Nothing the browser claims is trusted: the portal is looked up by `member_id` among installed portals, the
 * page's `APPLICATION_TOKEN` must match the one stored at install (so an access token another app obtained for
 * the same user cannot be replayed here), and the token is checked by calling the portal at its *stored*
 * address — a forged `DOMAIN` cannot send the check elsewhere. Two calls, both of scope `basic` (the app asks
 * for no `user` scope):
 * - `user.admin` — true for a Bitrix24 administrator (docs: api-reference/common/users/user-admin.md);
 * - `profile` — the user's `ID` (docs: api-reference/common/users/profile.md). `user.current` would need the
 *   `user`/`user_brief` scope, and a new scope forces every portal to reinstall.
 */
import * as v from 'valibot'
import type { Portal, PortalRepository } from '../../../storage/repos/portals.ts'
import { BitrixError, BitrixTransportError } from '../../bitrix/api.ts'
import type { CallWithToken } from '../../bitrix/app/deps.ts'
import { sameSecret } from '../../bitrix/app/security.ts'
import type { Role } from './roles.ts'

export interface BitrixIdentityDeps {
  portals: Pick<PortalRepository, 'findByMemberId'>
  callWithToken: CallWithToken
  /** Plain-http portals (emulators on loopback). */
  allowHttpPortals: boolean
}

export interface PlacementAuth {
  memberId: string
  authId: string
  applicationToken: string
  /** The page's `DOMAIN`, when the caller sends it: must name the stored portal. */
  domain?: string
}

export interface BitrixIdentity {
  portal: Portal
  userId: string
  admin: boolean
  role: Role
}

export type RefusalReason =
  | 'unknown_portal'
  | 'application_token'
  | 'domain_mismatch'
  | 'token_refused'
  | 'unexpected_answer'

/** The portal said no (or we cannot tell who this is): 401. */
export class IdentityRefusedError extends Error {
  override name = 'IdentityRefusedError'
  constructor(
    readonly reason: RefusalReason,
    readonly portal?: Portal,
  ) {
    super(`Bitrix24 identity refused: ${reason}`)
  }
}

/** The portal could not be asked (network, 5xx, its rate limits): 503, try again. */
export class PortalUnavailableError extends Error {
  override name = 'PortalUnavailableError'
}

const AdminAnswer = v.boolean()
const ProfileAnswer = v.looseObject({
  ID: v.union([
    v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,17}$/)),
    v.pipe(v.number(), v.integer(), v.minValue(1)),
  ]),
})

function endpointOf(portal: Portal): string {
  return portal.clientEndpoint ?? `https://${portal.domain}/rest/`
}

function unavailable(error: unknown): boolean {
  if (error instanceof BitrixTransportError) return true
  return error instanceof BitrixError && (error.status >= 500 || error.status === 429)
}

export async function verifyBitrixUser(
  deps: BitrixIdentityDeps,
  claim: PlacementAuth,
): Promise<BitrixIdentity> {
  const portal = await deps.portals.findByMemberId(claim.memberId)
  if (!portal || portal.status === 'uninstalled') throw new IdentityRefusedError('unknown_portal')
  if (!sameSecret(portal.applicationToken, claim.applicationToken)) {
    throw new IdentityRefusedError('application_token', portal)
  }
  if (claim.domain !== undefined && claim.domain.toLowerCase() !== portal.domain.toLowerCase()) {
    throw new IdentityRefusedError('domain_mismatch', portal)
  }
  const call = async (method: string): Promise<unknown> => {
    try {
      return await deps.callWithToken({
        clientEndpoint: endpointOf(portal),
        accessToken: claim.authId,
        method,
        allowHttp: deps.allowHttpPortals,
      })
    } catch (error) {
      if (unavailable(error))
        throw new PortalUnavailableError(`${method}: the portal did not answer`, { cause: error })
      throw new IdentityRefusedError('token_refused', portal)
    }
  }
  const admin = v.safeParse(AdminAnswer, await call('user.admin'))
  const profile = v.safeParse(ProfileAnswer, await call('profile'))
  if (!admin.success || !profile.success) throw new IdentityRefusedError('unexpected_answer', portal)
  return {
    portal,
    userId: String(profile.output.ID),
    admin: admin.output,
    role: admin.output ? 'portal-admin' : 'portal-viewer',
  }
}
