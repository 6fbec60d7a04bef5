/**
 * @module Sessions of Bitrix24 users. `POST /session/bitrix` takes what the placement or app page received
 * from the portal (`member_id`, `AUTH_ID`, `APPLICATION_TOKEN`, optionally `DOMAIN`), has the portal confirm
 * the user and whether they are an admin (`src/http/auth/bitrix-identity.ts`), and answers a short-lived
 * signed session for the `Authorization` header: `portal-admin` for Bitrix24 admins, `portal-viewer` for
 * everyone else. `GET /session` tells any caller who it is. Both outcomes of an exchange are audited (P2).
 */
import { Hono } from 'hono'
import { IdentityRefusedError, PortalUnavailableError, verifyBitrixUser } from '../auth/bitrix-identity.ts'
import { newSessionId, signSessionToken } from '../auth/session-token.ts'
import type { Guard } from './access.ts'
import { audit } from './audit.ts'
import { BitrixSessionBody, SessionView, WhoAmIView } from './auth-schemas.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError } from './errors.ts'
import { permissionsOf, ROLE_PERMISSIONS } from './permissions.ts'
import { defineRoute } from './routes.ts'
import { validJson } from './validate.ts'

const tag = 'session'
const DEFAULT_TTL_MS = 15 * 60_000

export const sessionSpecs = {
  exchange: defineRoute({
    method: 'POST',
    path: '/session/bitrix',
    // The body is the credential: the portal itself vouches for the user.
    permission: 'public',
    scope: 'public',
    summary:
      'Exchanges the Bitrix24 placement/app auth (member_id, AUTH_ID, APPLICATION_TOKEN) for a session ' +
      'token, after the portal confirmed the user (`user.admin`, `profile`)',
    tag,
    body: BitrixSessionBody,
    responses: {
      201: { description: 'The session', schema: SessionView },
      401: { description: 'The portal did not confirm this user for this app' },
      503: { description: 'The portal could not be asked; try again (Retry-After)' },
    },
  }),
  whoAmI: defineRoute({
    method: 'GET',
    path: '/session',
    permission: 'session:read',
    scope: 'caller',
    summary: 'The caller: how it authenticated, its role, portal and permissions',
    tag,
    responses: { 200: { description: 'The caller', schema: WhoAmIView } },
  }),
}

const refused = () =>
  new ApiError(401, 'bitrix_auth_failed', 'Bitrix24 did not confirm this user for this application')

export function sessionRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  const roles = deps.options?.roles ?? ROLE_PERMISSIONS
  const ttlMs = deps.options?.sessionTtlMs ?? DEFAULT_TTL_MS
  const now = deps.now ?? (() => new Date())

  return new Hono<AdminEnv>()
    .post('/session/bitrix', guard(sessionSpecs.exchange), validJson(BitrixSessionBody), async (c) => {
      const bitrix = deps.bitrix
      if (!bitrix) {
        throw new ApiError(503, 'bitrix_unavailable', 'This instance cannot check Bitrix24 users')
      }
      const claim = c.req.valid('json')
      let identity: Awaited<ReturnType<typeof verifyBitrixUser>>
      try {
        identity = await verifyBitrixUser(
          {
            portals: deps.repos.portals,
            callWithToken: bitrix.callWithToken,
            allowHttpPortals: bitrix.allowHttpPortals,
          },
          claim,
        )
      } catch (error) {
        if (error instanceof PortalUnavailableError) {
          deps.log.warn({ err: error }, 'session exchange: the portal could not be asked')
          throw new ApiError(503, 'portal_unavailable', 'Bitrix24 did not answer; try again', {
            retryAfter: 5,
          })
        }
        if (!(error instanceof IdentityRefusedError)) throw error
        await audit(deps, c, {
          action: 'auth.failed',
          portalId: error.portal?.id ?? null,
          details: { route: 'POST /session/bitrix', reason: error.reason },
        })
        throw refused()
      }
      const issuedAt = now().getTime()
      const claims = {
        portalId: identity.portal.id,
        userId: identity.userId,
        role: identity.role,
        issuedAt,
        expiresAt: issuedAt + ttlMs,
        sessionId: newSessionId(),
      }
      await audit(deps, c, {
        action: 'session.created',
        actor: `bitrix24-user:${identity.userId}`,
        actorRole: identity.role,
        portalId: identity.portal.id,
        target: `session:${claims.sessionId}`,
        details: { expiresAt: new Date(claims.expiresAt).toISOString() },
      })
      const permissions = permissionsOf(roles, { role: identity.role, portalId: identity.portal.id })
      return c.json(
        {
          token: signSessionToken(deps.keys, claims),
          tokenType: 'Bearer' as const,
          expiresAt: new Date(claims.expiresAt).toISOString(),
          role: identity.role,
          portalId: identity.portal.id,
          userId: identity.userId,
          permissions: [...permissions],
        },
        201,
      )
    })
    .get('/session', guard(sessionSpecs.whoAmI), (c) => {
      const principal = c.get('principal')
      return c.json({
        via: principal.via,
        role: principal.role,
        portalId: principal.portalId,
        ...(principal.userId === undefined ? {} : { userId: principal.userId }),
        ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt.toISOString() }),
        permissions: [...permissionsOf(roles, principal)],
      })
    })
}
