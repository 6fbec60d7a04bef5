/**
 * @module Route declarations: every admin route states its method, path, permission, portal scope, schemas
 * and answers in one `RouteSpec`. The guard enforces the permission and the scope, the OpenAPI document is
 * written from the specs, and `createAdminRoutes` refuses to build when a mounted route has no spec (P1: no
 * undeclared route).
 */
import type * as v from 'valibot'
import type { RoutePermission } from './permissions.ts'

export type Method = 'GET' | 'POST' | 'DELETE'

/**
 * Which portal a route touches:
 * - `public` — nothing of any portal (the OpenAPI document; the session exchange, whose body is the credential);
 * - `caller` — only the caller's own identity (who am I);
 * - `portal` — resources of one portal: the handler must call `checkScope` with the resource's portal (or null
 *   for installation-wide data) before answering; the guard refuses to send a success it did not check.
 */
export type RouteScope = 'public' | 'caller' | 'portal'

export interface RouteSpec {
  method: Method
  /** hono syntax (`/accounts/:id/line`), below `/api/v1`. */
  path: string
  permission: RoutePermission
  scope: RouteScope
  summary: string
  tag: string
  params?: v.GenericSchema
  query?: v.GenericSchema
  body?: v.GenericSchema
  /** Status → description and body schema (the error format is added to every route). */
  responses: Record<number, { description: string; schema?: v.GenericSchema }>
}

export const API_PREFIX = '/api/v1'

export function defineRoute<const S extends RouteSpec>(spec: S): S {
  return spec
}

/** `/accounts/:id` → `/accounts/{id}` (OpenAPI path templates). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}
