/**
 * @module Bearer tokens of `api_tokens`, kept as sha256 hashes only. A token is looked up by its hash, so no
 * secret is ever compared byte by byte (nothing to time). Plain sha256 rather than an HMAC under the key
 * ring: tokens are long random secrets (no dictionary to fear), and a hash that does not depend on the
 * active key survives key rotation.
 */
import { createHash } from 'node:crypto'
import type { Sql } from '../../../storage/db.ts'

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

export interface StoredToken {
  id: string
  role: string
  portalId: string | null
  /** The scoped portal's member id (for its audit reference). */
  memberId: string | null
}

/** The stored token with this value, or undefined. Marks it used (at most once a minute per token). */
export async function findToken(sql: Sql, token: string): Promise<StoredToken | undefined> {
  const [row] = await sql<StoredToken[]>`
    select t.id, t.role, t.portal_id, p.member_id
    from api_tokens t left join portals p on p.id = t.portal_id
    where t.token_hash = ${hashToken(token)}`
  if (!row) return undefined
  await sql`
    update api_tokens set last_used_at = now()
    where id = ${row.id} and (last_used_at is null or last_used_at < now() - interval '1 minute')`
  return row
}
