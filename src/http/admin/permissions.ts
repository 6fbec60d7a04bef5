/**
 * @module Roles and permissions of the admin API (PRIVACY P1). Every route names one permission (or
 * `public`); a role grants a fixed set. Only `support` exists until the roles issue (7) brings portal admins;
 * a role not in the table grants nothing, so an unknown role stored in `api_tokens` fails closed.
 */

export const PERMISSIONS = ['accounts:read', 'accounts:write', 'deliveries:read', 'deliveries:write'] as const

export type Permission = (typeof PERMISSIONS)[number]

/** What a route asks for: a permission, or nothing at all (the OpenAPI document). */
export type RoutePermission = Permission | 'public'

export type RoleTable = Readonly<Record<string, readonly Permission[]>>

/** Role → permissions. Scope (all portals or one) is a property of the token, not of the role. */
export const ROLE_PERMISSIONS: RoleTable = {
  support: PERMISSIONS,
}

export function roleGrants(table: RoleTable, role: string, permission: Permission): boolean {
  return Object.hasOwn(table, role) && (table[role] ?? []).includes(permission)
}
