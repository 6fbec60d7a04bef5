/**
 * @module valibot schemas of the routes about credentials: the Bitrix24 session exchange, who-am-I, API
 * tokens and the viewers' status page. (Kept apart from `schemas.ts`, which describes accounts and logins.)
 */
import * as v from 'valibot'

const Uuid = v.pipe(v.string(), v.uuid('must be a uuid'))
const Timestamp = v.pipe(v.string(), v.isoTimestamp())
/** Bitrix24 tokens and ids as the placement POST carries them (§2.2): short opaque strings. */
const Opaque = (min: number, max: number) =>
  v.pipe(v.string(), v.regex(new RegExp(`^[A-Za-z0-9._~-]{${min},${max}}$`), 'must be an opaque token'))

// Requests

export const BitrixSessionBody = v.strictObject({
  /** `member_id` of the placement/app page POST. */
  memberId: Opaque(1, 64),
  /** `AUTH_ID`: the opening user's access token. */
  authId: Opaque(8, 512),
  /** `APPLICATION_TOKEN`: proves the page was opened for this app on that portal. */
  applicationToken: Opaque(8, 256),
  /** `DOMAIN` (optional): when sent, it must name the portal stored for `memberId`. */
  domain: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$/, 'must be a host name')),
  ),
})

export const TokensQuery = v.object({ portal: v.optional(Uuid) })

export const CreateTokenBody = v.strictObject({
  role: v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be a role name')),
  /** The one portal the token may touch; omitted or null: every portal (support only). */
  portalId: v.optional(v.nullable(Uuid)),
  /** A unique label (e.g. the automation using it). */
  name: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9 _.:-]{1,64}$/, 'must be a short label'))),
})

export const TokenIdParams = v.object({ id: Uuid })

export const StatusQuery = v.object({ portal: v.optional(Uuid) })

// Responses

const Permissions = v.array(v.string())

export const SessionView = v.object({
  /** Send it as `Authorization: Bearer <token>` until `expiresAt`, then exchange again. */
  token: v.string(),
  tokenType: v.literal('Bearer'),
  expiresAt: Timestamp,
  role: v.picklist(['portal-admin', 'portal-viewer']),
  portalId: Uuid,
  userId: v.string(),
  permissions: Permissions,
})

export const WhoAmIView = v.object({
  via: v.picklist(['api-token', 'bitrix-session']),
  role: v.string(),
  portalId: v.nullable(Uuid),
  userId: v.optional(v.string()),
  expiresAt: v.optional(Timestamp),
  permissions: Permissions,
})

export const TokenView = v.object({
  id: Uuid,
  name: v.nullable(v.string()),
  role: v.string(),
  portalId: v.nullable(Uuid),
  createdAt: Timestamp,
  lastUsedAt: v.nullable(Timestamp),
})

export const TokenList = v.object({ tokens: v.array(TokenView) })

/** Only the answer to the creation carries the token itself: it is stored as a hash. */
export const CreatedTokenView = v.object({ ...TokenView.entries, token: v.string() })

export const StatusView = v.object({
  portal: v.object({ id: Uuid, status: v.picklist(['active', 'needs_reauth', 'uninstalled']) }),
  accounts: v.array(
    v.object({
      id: Uuid,
      messenger: v.string(),
      lineId: v.nullable(v.string()),
      health: v.string(),
      healthChangedAt: Timestamp,
    }),
  ),
})

export type TokenViewT = v.InferOutput<typeof TokenView>
