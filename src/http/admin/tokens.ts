/**
 * @module `api_tokens`: bearer tokens of the admin API, kept as sha256 hashes only. A token is looked up by
 * its hash, so no secret is ever compared byte by byte (nothing to time). Plain sha256 rather than an HMAC
 * under the key ring: tokens are long random secrets (no dictionary to fear), and a hash that does not
 * depend on the active key survives key rotation.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Sql } from '../../../storage/db.ts'
import type { Queryable } from '../../../storage/repos/common.ts'

/** Who is calling: the token's id, role and portal scope (null: every portal). */
export interface Principal {
  tokenId: string
  role: string
  portalId: string | null
}

/** The name under which `OLCHAT_ADMIN_TOKEN` is stored. */
export const ADMIN_TOKEN_NAME = 'OLCHAT_ADMIN_TOKEN'

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

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

/** The principal of a presented token, or undefined. Marks it used (at most once a minute per token). */
export async function findPrincipal(sql: Sql, token: string): Promise<Principal | undefined> {
  const [row] = await sql<{ id: string; role: string; portalId: string | null }[]>`
    select id, role, portal_id from api_tokens where token_hash = ${hashToken(token)}`
  if (!row) return undefined
  await sql`
    update api_tokens set last_used_at = now()
    where id = ${row.id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`
  return { tokenId: row.id, role: row.role, portalId: row.portalId }
}
