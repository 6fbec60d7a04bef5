/**
 * @module `GET /status`: what a portal viewer may see — the portal's state and the health of its accounts,
 * without names, usernames or anything else of the messenger profile.
 */
import { Hono } from 'hono'
import { NotFoundError } from '../../../storage/repos/common.ts'
import { checkScope, type Guard } from './access.ts'
import { StatusQuery, StatusView } from './auth-schemas.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { defineRoute } from './routes.ts'
import { validQuery } from './validate.ts'

export const statusSpecs = {
  get: defineRoute({
    method: 'GET',
    path: '/status',
    permission: 'status:read',
    scope: 'portal',
    summary:
      "A portal's state and its accounts' health, without profile data (a portal-scoped caller may omit `portal`)",
    tag: 'status',
    query: StatusQuery,
    responses: { 200: { description: 'The status', schema: StatusView } },
  }),
}

export function statusRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  return new Hono<AdminEnv>().get('/status', guard(statusSpecs.get), validQuery(StatusQuery), async (c) => {
    const portalId = c.req.valid('query').portal ?? c.get('principal').portalId
    if (!portalId) throw new ApiError(400, 'portal_required', 'Name the portal: ?portal=<portal id>')
    await checkScope(deps, c, portalId)
    const portal = await deps.repos.portals.get(portalId).catch((error) => {
      if (error instanceof NotFoundError) return undefined
      throw error
    })
    if (!portal) throw notFound('portal')
    const accounts = await deps.repos.accounts.listByPortal(portalId)
    return c.json({
      portal: { id: portal.id, status: portal.status },
      accounts: accounts.map((account) => ({
        id: account.id,
        messenger: account.messenger,
        lineId: account.lineId === null ? null : String(account.lineId),
        health: account.health,
        healthChangedAt: account.healthChangedAt.toISOString(),
      })),
    })
  })
}
