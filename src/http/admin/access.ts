/**
 * @module Authentication and authorisation of every admin route (P1). `guard(spec)` runs first: a `public`
 * route passes; any other needs `Authorization: Bearer <API token or Bitrix24 session>` (401 otherwise)
 * whose role grants the route's permission (403). On a `portal`-scoped route the handler then calls
 * `checkScope` with the portal of the resource it touches (403 for another portal's), and the guard refuses
 * to deliver a success from a handler that never did (500, logged): a forgotten check cannot leak data.
 * Failed authentications and refusals are audited (P2).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { authenticate } from '../auth/authenticate.ts'
import { audit } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, forbidden } from './errors.ts'
import { callerGrants, ROLE_PERMISSIONS } from './permissions.ts'
import type { RouteSpec } from './routes.ts'

export type Guard = (spec: RouteSpec) => MiddlewareHandler<AdminEnv>

const REFUSED_MESSAGE: Record<string, string> = {
  session_expired: 'The session has expired: exchange the Bitrix24 placement auth again',
  session_revoked: 'The portal of this session is no longer installed',
}

function unauthorized(error = 'unauthorized', message?: string) {
  return new ApiError(
    401,
    error,
    message ?? 'A valid bearer token or session is required (Authorization: Bearer …)',
  )
}

export function createGuard(deps: AdminDeps): Guard {
  const roles = deps.options?.roles ?? ROLE_PERMISSIONS
  const now = deps.now ?? (() => new Date())
  return (spec) =>
    async function guard(c, next) {
      const { permission } = spec
      if (permission === 'public') return next()
      const result = await authenticate(
        { sql: deps.sql, keys: deps.keys, now },
        c.req.header('Authorization'),
      )
      // A missing header is a client not yet configured; a wrong credential is worth a trace.
      if (result.kind === 'missing') throw unauthorized()
      if (result.kind === 'refused') {
        await audit(deps, c, {
          action: 'auth.failed',
          details: { route: routeName(spec), reason: result.reason },
        })
        const expired = result.reason === 'session_expired' || result.reason === 'session_revoked'
        throw expired ? unauthorized(result.reason, REFUSED_MESSAGE[result.reason]) : unauthorized()
      }
      const { principal } = result
      c.set('principal', principal)
      if (!callerGrants(roles, principal, permission)) {
        await audit(deps, c, { action: 'auth.denied', details: { route: routeName(spec), permission } })
        throw forbidden(`The role ${principal.role} lacks the permission ${permission}`)
      }
      if (spec.scope !== 'portal') return next()
      c.set('portalChecked', false)
      await next()
      if (c.res.status < 400 && !c.get('portalChecked')) {
        deps.log.error(
          { route: routeName(spec) },
          'admin API: a portal-scoped route answered without checkScope',
        )
        c.res = c.json({ error: 'internal_error', message: 'internal error' }, 500)
      }
    }
}

/**
 * Keeps a caller inside its portal (tenant isolation). `portalId` is the portal of the resource; null means
 * installation-wide data, which only an unscoped caller (support) may touch. @throws ApiError 403
 */
export async function checkScope(
  deps: AdminDeps,
  c: Context<AdminEnv>,
  portalId: string | null,
): Promise<void> {
  c.set('portalChecked', true)
  const { portalId: scope } = c.get('principal')
  if (scope === null || scope === portalId) return
  await audit(deps, c, {
    action: 'auth.denied',
    details: { route: `${c.req.method} ${c.req.routePath}`, reason: 'other portal' },
  })
  throw forbidden(
    portalId === null ? 'Only installation-wide support may do that' : 'This belongs to another portal',
  )
}

const routeName = (spec: RouteSpec) => `${spec.method} ${spec.path}`
