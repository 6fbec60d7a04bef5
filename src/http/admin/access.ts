/**
 * @module Authentication and authorisation (P1). `guard(spec)` runs first on every route: a `public` route
 * passes; any other needs `Authorization: Bearer <token>` of a stored token (401 otherwise) whose role grants
 * the route's permission (403). `checkScope` then keeps a portal-scoped token inside its portal (tenant
 * isolation, 403). Failed authentications and refusals are audited (P2).
 */
import type { Context, MiddlewareHandler } from 'hono'
import { audit } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { forbidden, unauthorized } from './errors.ts'
import { ROLE_PERMISSIONS, roleGrants } from './permissions.ts'
import type { RouteSpec } from './routes.ts'
import { findPrincipal } from './tokens.ts'

const BEARER = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]{16,512})[ \t]*$/i

export type Guard = (spec: RouteSpec) => MiddlewareHandler<AdminEnv>

export function createGuard(deps: AdminDeps): Guard {
  const roles = deps.options?.roles ?? ROLE_PERMISSIONS
  return (spec) =>
    async function guard(c, next) {
      const { permission } = spec
      if (permission === 'public') return next()
      const header = c.req.header('Authorization')
      const token = header === undefined ? undefined : BEARER.exec(header)?.[1]
      const principal = token === undefined ? undefined : await findPrincipal(deps.sql, token)
      if (!principal) {
        // A missing header is a client not yet configured; a wrong credential is worth a trace.
        if (header !== undefined) {
          await audit(deps, c, { action: 'auth.failed', details: { route: routeName(spec) } })
        }
        throw unauthorized()
      }
      c.set('principal', principal)
      if (!roleGrants(roles, principal.role, permission)) {
        await audit(deps, c, { action: 'auth.denied', details: { route: routeName(spec), permission } })
        throw forbidden(`This token lacks the permission ${permission}`)
      }
      await next()
    }
}

/** A portal-scoped token may only touch its own portal. @throws ApiError 403 */
export async function checkScope(deps: AdminDeps, c: Context<AdminEnv>, portalId: string): Promise<void> {
  const { portalId: scope } = c.get('principal')
  if (scope === null || scope === portalId) return
  await audit(deps, c, {
    action: 'auth.denied',
    details: { route: `${c.req.method} ${c.req.routePath}`, reason: 'other portal' },
  })
  throw forbidden('This token belongs to another portal')
}

const routeName = (spec: RouteSpec) => `${spec.method} ${spec.path}`
