/**
 * @module Roles and permissions of the admin API (PRIVACY P1). The table lives in `src/http/auth/roles.ts`;
 * this module keeps the admin API's imports in one place.
 */
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
} from '../auth/roles.ts'
