/**
 * @module `/tokens`: API tokens of the admin API — list, create (the only way a role is granted to a
 * credential), revoke. Support only (`tokens:manage`); a portal-scoped support token manages its portal's
 * tokens only. Creating and revoking are audited in the same transaction as the change (P2: role changes).
 * The token itself is answered once at creation; only its hash is stored.
 */
import { Hono } from 'hono'
import type { Queryable } from '../../../storage/repos/common.ts'
import { checkScope, type Guard } from './access.ts'
import { audit } from './audit.ts'
import {
  CreatedTokenView,
  CreateTokenBody,
  TokenIdParams,
  TokenList,
  TokensQuery,
  type TokenViewT,
} from './auth-schemas.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { PORTAL_ROLES, ROLE_PERMISSIONS } from './permissions.ts'
import { defineRoute } from './routes.ts'
import { ADMIN_TOKEN_NAME, createToken, generateToken } from './tokens.ts'
import { validJson, validParam, validQuery } from './validate.ts'

const tag = 'tokens'

export const tokenSpecs = {
  list: defineRoute({
    method: 'GET',
    path: '/tokens',
    permission: 'tokens:manage',
    scope: 'portal',
    summary: "API tokens (never their values): of one portal, or of the caller's scope",
    tag,
    query: TokensQuery,
    responses: { 200: { description: 'The tokens', schema: TokenList } },
  }),
  create: defineRoute({
    method: 'POST',
    path: '/tokens',
    permission: 'tokens:manage',
    scope: 'portal',
    summary: 'Creates a token with a role, optionally limited to one portal; the answer carries it once',
    tag,
    body: CreateTokenBody,
    responses: {
      201: { description: 'The token (shown only now)', schema: CreatedTokenView },
      404: { description: 'No such portal' },
      409: { description: 'The name is taken' },
      422: { description: 'Unknown role, or a portal role without a portal' },
    },
  }),
  revoke: defineRoute({
    method: 'DELETE',
    path: '/tokens/:id',
    permission: 'tokens:manage',
    scope: 'portal',
    summary: 'Revokes a token (OLCHAT_ADMIN_TOKEN is managed by its variable and cannot be revoked here)',
    tag,
    params: TokenIdParams,
    responses: {
      204: { description: 'Revoked' },
      404: { description: 'No such token' },
      409: { description: 'A token managed by configuration' },
    },
  }),
}

interface TokenRow {
  id: string
  name: string | null
  role: string
  portalId: string | null
  createdAt: Date
  lastUsedAt: Date | null
}

const view = (row: TokenRow): TokenViewT => ({
  id: row.id,
  name: row.name,
  role: row.role,
  portalId: row.portalId,
  createdAt: row.createdAt.toISOString(),
  lastUsedAt: row.lastUsedAt === null ? null : row.lastUsedAt.toISOString(),
})

const COLUMNS = 'id, name, role, portal_id, created_at, last_used_at'

async function findToken(db: Queryable, id: string): Promise<TokenRow | undefined> {
  const [row] = await db<TokenRow[]>`select ${db.unsafe(COLUMNS)} from api_tokens where id = ${id}`
  return row
}

export function tokenRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  const roles = deps.options?.roles ?? ROLE_PERMISSIONS
  const { sql } = deps

  return new Hono<AdminEnv>()
    .get('/tokens', guard(tokenSpecs.list), validQuery(TokensQuery), async (c) => {
      const portalId = c.req.valid('query').portal ?? c.get('principal').portalId
      await checkScope(deps, c, portalId)
      const rows = await sql<TokenRow[]>`
        select ${sql.unsafe(COLUMNS)} from api_tokens
        ${portalId === null ? sql`` : sql`where portal_id = ${portalId}`}
        order by created_at, id`
      return c.json({ tokens: rows.map(view) })
    })
    .post('/tokens', guard(tokenSpecs.create), validJson(CreateTokenBody), async (c) => {
      const { role, name } = c.req.valid('json')
      const portalId = c.req.valid('json').portalId ?? null
      await checkScope(deps, c, portalId)
      if (!Object.hasOwn(roles, role)) {
        throw new ApiError(422, 'unknown_role', `Roles: ${Object.keys(roles).join(', ')}`)
      }
      if (PORTAL_ROLES.has(role) && portalId === null) {
        throw new ApiError(422, 'portal_required', `A ${role} token must name its portal`)
      }
      if (name === ADMIN_TOKEN_NAME)
        throw new ApiError(422, 'reserved_name', `${name} is managed by configuration`)
      if (portalId !== null && !(await deps.repos.portals.get(portalId).catch(() => undefined))) {
        throw notFound('portal')
      }
      const token = generateToken()
      const row = await sql
        .begin(async (tx) => {
          const id = await createToken(tx, { token, role, portalId, name: name ?? null })
          await audit(
            deps,
            c,
            { action: 'token.created', portalId, target: `api-token:${id}`, details: { role } },
            tx,
          )
          return (await findToken(tx, id))!
        })
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === '23505') {
            throw new ApiError(409, 'name_taken', 'Another token has this name')
          }
          throw error
        })
      return c.json({ ...view(row), token }, 201)
    })
    .delete('/tokens/:id', guard(tokenSpecs.revoke), validParam(TokenIdParams), async (c) => {
      const { id } = c.req.valid('param')
      const row = await findToken(sql, id)
      if (!row) throw notFound('token')
      await checkScope(deps, c, row.portalId)
      if (row.name === ADMIN_TOKEN_NAME) {
        throw new ApiError(409, 'managed_token', 'This token follows OLCHAT_ADMIN_TOKEN; change the variable')
      }
      await sql.begin(async (tx) => {
        await tx`delete from api_tokens where id = ${id}`
        const entry = { portalId: row.portalId, target: `api-token:${id}`, details: { role: row.role } }
        await audit(deps, c, { action: 'token.revoked', ...entry }, tx)
      })
      return c.body(null, 204)
    })
}
