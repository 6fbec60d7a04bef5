/**
 * @module Roles and permissions (PRIVACY P1), one table in code. A role grants a fixed set of permissions;
 * the portal a caller may touch is a property of its credential (a token's `portal_id`, a session's portal),
 * not of the role. Portal roles without a portal grant nothing, and a role missing from the table grants
 * nothing, so a stray value in `api_tokens.role` fails closed.
 */

export const PERMISSIONS = [
  /** Health of a portal's accounts, without names (what a portal viewer sees). */
  'status:read',
  /** Accounts with their profile (name, username), health and line. */
  'accounts:read',
  /** Connect (login flows), bind to an Open Line, disconnect. */
  'accounts:write',
  'deliveries:read',
  'deliveries:write',
  /** D1: access requests (export of what is held about a portal, an account or a contact). */
  'requests:export',
  /** D4: full-deletion requests (support only). */
  'requests:delete',
  /** API tokens: list, create (grants a role), revoke. */
  'tokens:manage',
  /** Who am I: the caller's own role, portal and permissions. */
  'session:read',
] as const

export type Permission = (typeof PERMISSIONS)[number]

/** What a route asks for: a permission, or nothing at all (the OpenAPI document, the session exchange). */
export type RoutePermission = Permission | 'public'

export const ROLES = ['support', 'portal-admin', 'portal-viewer'] as const

export type Role = (typeof ROLES)[number]

export type RoleTable = Readonly<Record<string, readonly Permission[]>>

export const ROLE_PERMISSIONS: RoleTable = {
  /** The operator of this Olchat installation: every portal (unless its token is scoped), data requests. */
  support: PERMISSIONS,
  /** A Bitrix24 administrator of one portal: its accounts, lines, dead letters and access requests. */
  'portal-admin': [
    'status:read',
    'accounts:read',
    'accounts:write',
    'deliveries:read',
    'deliveries:write',
    'requests:export',
    'session:read',
  ],
  /** Any other Bitrix24 user of the portal: status only. */
  'portal-viewer': ['status:read', 'session:read'],
}

/** Roles that only make sense inside one portal: a credential with such a role and no portal grants nothing. */
export const PORTAL_ROLES: ReadonlySet<string> = new Set<Role>(['portal-admin', 'portal-viewer'])

export function roleGrants(table: RoleTable, role: string, permission: Permission): boolean {
  return Object.hasOwn(table, role) && (table[role] ?? []).includes(permission)
}

/** The permissions a caller holds: its role's, or none when a portal role lacks its portal. */
export function permissionsOf(
  table: RoleTable,
  caller: { role: string; portalId: string | null },
): readonly Permission[] {
  if (!Object.hasOwn(table, caller.role)) return []
  if (PORTAL_ROLES.has(caller.role) && caller.portalId === null) return []
  return table[caller.role] ?? []
}

export function callerGrants(
  table: RoleTable,
  caller: { role: string; portalId: string | null },
  permission: Permission,
): boolean {
  return permissionsOf(table, caller).includes(permission)
}
