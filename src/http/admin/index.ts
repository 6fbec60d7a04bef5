/**
 * @module The admin API, `/api/v1`, as one hono sub-app: accounts (list with health, connect through a
 * login, bind to a line, disconnect), logins in progress, dead letters (list, retry), status, API tokens,
 * Bitrix24 sessions and `/api/v1/openapi.json`. Callers present a bearer token from `api_tokens` (call
 * `ensureAdminToken` at start) or a session obtained through their Bitrix24 portal; every route declares its
 * permission and portal scope (P1) and security-relevant actions are audited (P2).
 *
 * Mount it with `createApp({ routes: [createAdminRoutes(deps), …] })`.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { createGuard } from './access.ts'
import { accessRequestRoutes, accessRequestSpecs } from './access-requests.ts'
import { accountRoutes, accountSpecs } from './accounts.ts'
import { deadLetterRoutes, deadLetterSpecs } from './dead-letters.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, adminErrorHandler } from './errors.ts'
import { loginRoutes, loginSpecs } from './logins.ts'
import { openApiDocument } from './openapi.ts'
import { API_PREFIX, defineRoute, type RouteSpec } from './routes.ts'
import { sessionRoutes, sessionSpecs } from './session.ts'
import { statusRoutes, statusSpecs } from './status.ts'
import { tokenRoutes, tokenSpecs } from './token-routes.ts'

export type { Principal } from '../auth/principal.ts'
export type { AccessExportServices } from './access-requests.ts'
export type { AccountControl, AdminDeps, AdminOptions } from './deps.ts'
export {
  PERMISSIONS,
  type Permission,
  PORTAL_ROLES,
  permissionsOf,
  ROLE_PERMISSIONS,
  ROLES,
  type RoleTable,
} from './permissions.ts'
export type { RouteScope, RouteSpec } from './routes.ts'
export { ADMIN_TOKEN_NAME, createToken, ensureAdminToken, generateToken, hashToken } from './tokens.ts'

const docSpec = defineRoute({
  method: 'GET',
  path: '/openapi.json',
  permission: 'public',
  scope: 'public',
  summary: 'This document',
  tag: 'meta',
  responses: { 200: { description: 'OpenAPI 3.0 document' } },
})

/** Every route of the admin API, as declared (tests run the permission matrix over these). */
export const ADMIN_ROUTES: readonly RouteSpec[] = [
  ...Object.values(accountSpecs),
  ...Object.values(loginSpecs),
  ...Object.values(deadLetterSpecs),
  ...Object.values(statusSpecs),
  ...Object.values(tokenSpecs),
  ...Object.values(sessionSpecs),
  ...Object.values(accessRequestSpecs),
  docSpec,
]

export function createAdminRoutes(deps: AdminDeps): Hono {
  const guard = createGuard(deps)
  const document = openApiDocument(ADMIN_ROUTES)
  const v1 = new Hono<AdminEnv>()
  v1.use(
    bodyLimit({
      maxSize: deps.options?.maxBodyBytes ?? 64 * 1024,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', 'The request body is too large')
      },
    }),
  )
  v1.onError(adminErrorHandler(deps.log))
  v1.route('/', accountRoutes(deps, guard))
  v1.route('/', loginRoutes(deps, guard))
  v1.route('/', deadLetterRoutes(deps, guard))
  v1.route('/', statusRoutes(deps, guard))
  v1.route('/', tokenRoutes(deps, guard))
  v1.route('/', sessionRoutes(deps, guard))
  v1.route('/', accessRequestRoutes(deps, guard))
  v1.get(docSpec.path, guard(docSpec), (c) => c.json(document))
  const app = new Hono().route(API_PREFIX, v1)
  assertDeclared(app, ADMIN_ROUTES)
  return app
}

/** Fails at start when a mounted route has no spec (its permission and scope would be undeclared). */
export function assertDeclared(app: Hono, specs: readonly RouteSpec[]): void {
  for (const spec of specs) {
    // Only a route open to everyone may skip authentication, and it touches no portal.
    if ((spec.permission === 'public') !== (spec.scope === 'public')) {
      throw new Error(
        `admin API: ${spec.method} ${spec.path}: permission ${spec.permission} with scope ${spec.scope}`,
      )
    }
  }
  const declared = new Set(specs.map((spec) => `${spec.method} ${API_PREFIX}${spec.path}`))
  for (const route of app.routes) {
    if (route.method === 'ALL') continue
    const key = `${route.method} ${route.path}`
    if (!declared.has(key)) throw new Error(`admin API: route ${key} has no RouteSpec`)
  }
}
