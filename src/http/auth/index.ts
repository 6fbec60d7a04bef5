/**
 * @module Authentication and roles of the admin API (PRIVACY P1): who a caller is (API token or Bitrix24
 * session), what their role grants, and the Bitrix24 check that turns a placement's `AUTH_ID` into a session.
 */
export { findToken, hashToken, type StoredToken } from './api-tokens.ts'
export { type Authentication, authenticate, type RefusedReason } from './authenticate.ts'
export {
  type BitrixIdentity,
  type BitrixIdentityDeps,
  IdentityRefusedError,
  type PlacementAuth,
  PortalUnavailableError,
  verifyBitrixUser,
} from './bitrix-identity.ts'
export type { Principal } from './principal.ts'
export {
  callerGrants,
  PERMISSIONS,
  type Permission,
  PORTAL_ROLES,
  permissionsOf,
  ROLE_PERMISSIONS,
  ROLES,
  type Role,
  type RoleTable,
  type RoutePermission,
  roleGrants,
} from './roles.ts'
export {
  newSessionId,
  openSessionToken,
  type SessionClaims,
  signSessionToken,
} from './session-token.ts'
