/**
 * @module `api_tokens`: creating bearer tokens of the admin API (stored as sha256 hashes only, see
 * `src/http/auth/api-tokens.ts`, which also looks them up) and the `OLCHAT_ADMIN_TOKEN` upsert at start.
 */
import { randomBytes } from 'node:crypto'
import type { Sql } from '../../../storage/db.ts'
import type { Queryable } from '../../../storage/repos/common.ts'
import { hashToken } from '../auth/api-tokens.ts'

export { hashToken }

/** The name under which `OLCHAT_ADMIN_TOKEN` is stored. */
export const ADMIN_TOKEN_NAME = 'OLCHAT_ADMIN_TOKEN'

/** A fresh token: 32 random bytes, base64url (43 characters). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url')
}

export interface TokenInput {
  token: string
  role: string
  portalId?: string | null
  name?: string | null
}

/** Stores a token (hash only). @returns its id. */
export async function createToken(db: Queryable, input: TokenInput): Promise<string> {
  const [row] = await db<{ id: string }[]>`
    insert into api_tokens (name, token_hash, role, portal_id)
    values (${input.name ?? null}, ${hashToken(input.token)}, ${input.role}, ${input.portalId ?? null})
    returning id`
  return row!.id
}

/**
 * Called once at start by the composition root with `config.adminToken`: stores it as the unscoped
 * `support` token named `OLCHAT_ADMIN_TOKEN`, replacing the previous value (so changing the variable revokes
 * the old token). With no token configured, a previously stored one is removed: unsetting the variable
 * closes that door. @returns the token's id, or null when none is configured.
 */
export async function ensureAdminToken(sql: Sql, token: string | undefined): Promise<string | null> {
  if (token === undefined || token === '') {
    await sql`delete from api_tokens where name = ${ADMIN_TOKEN_NAME}`
    return null
  }
  const [row] = await sql<{ id: string }[]>`
    insert into api_tokens (name, token_hash, role, portal_id)
    values (${ADMIN_TOKEN_NAME}, ${hashToken(token)}, 'support', null)
    on conflict (name) do update set token_hash = excluded.token_hash, role = 'support', portal_id = null
    returning id`
  return row!.id
}
