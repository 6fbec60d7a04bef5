/**
 * @module Who is calling the admin API, however they proved it: a stored API token (support staff,
 * automation) or a session obtained through the Bitrix24 portal (portal admins and viewers).
 */

export interface Principal {
  via: 'api-token' | 'bitrix-session'
  /** How audit entries name the caller: `api-token:<id>` or `bitrix24-user:<id>` (identifiers only). */
  actor: string
  role: string
  /** The one portal this caller may touch; null: every portal (unscoped support tokens only). */
  portalId: string | null
  /** Keyed hash of that portal (`portalRef`), so audit entries say whose user acted without its address. */
  portalRef: string | null
  /** The `api_tokens` row (via api-token). */
  tokenId?: string
  /** The Bitrix24 user id (via bitrix-session). */
  userId?: string
  /** End of the session and its id, which ties its audit entries together (via bitrix-session). */
  expiresAt?: Date
  sessionId?: string
}
