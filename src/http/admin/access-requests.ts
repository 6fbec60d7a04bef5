/**
 * @module `/access-requests` (PRIVACY D1, D5): everything Olchat holds about a portal — or one account of
 * it, or one contact across its accounts — as JSON (`?format=json`, the default) or as a readable Russian
 * report (`?format=html`). Each call is recorded (a `data_requests` row with counts, an audit entry naming
 * the subject by a keyed hash); the export itself is never stored. Answers carry `Cache-Control: no-store`:
 * they are personal data.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { Cache } from '../../../storage/cache/cache.ts'
import type { FileStore } from '../../../storage/files/file-store.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import type { SecretBox } from '../../crypto/secret-box.ts'
import { exportSubjectData, findPortal } from '../../privacy/access-export.ts'
import { renderAccessReport } from '../../privacy/access-export-html.ts'
import { AccountNotInPortalError } from '../../privacy/access-export-scope.ts'
import { AccessRequestError } from '../../privacy/access-export-types.ts'
import type { RetentionPeriods } from '../../privacy/retention-periods.ts'
import { checkScope, type Guard } from './access.ts'
import { sourceIp } from './audit.ts'
import type { AdminDeps, AdminEnv } from './deps.ts'
import { ApiError, notFound } from './errors.ts'
import { defineRoute } from './routes.ts'
import { validJson, validQuery } from './validate.ts'

/** What an access export reads besides the database (the composition root's services). */
export interface AccessExportServices {
  cache: Cache
  files: FileStore
  /** Opens sealed columns and derives the subject references (the key ring). */
  keys: SecretBox & { deriveKey(purpose: string): Buffer }
  repos: Pick<Repositories, 'contacts' | 'deliveries' | 'inboundEvents' | 'dataRequests' | 'auditLog'>
  /** Retention periods in force: the deadlines of the items. */
  periods: RetentionPeriods
}

const Text = v.pipe(v.string(), v.nonEmpty(), v.maxLength(255))

export const AccessRequestBody = v.strictObject({
  /** Address (`company.bitrix24.ru`), member id or id of the portal; a portal's own caller may omit it. */
  portal: v.optional(Text),
  /** Only this account of the portal. */
  account: v.optional(v.pipe(v.string(), v.uuid('must be a uuid'))),
  /** Only this contact across the portal's accounts, by any identifier the person gave. */
  contact: v.optional(
    v.strictObject({ remoteId: v.optional(Text), username: v.optional(Text), phone: v.optional(Text) }),
  ),
})

export const AccessFormatQuery = v.object({ format: v.optional(v.picklist(['json', 'html'])) })

const ExportView = v.object({
  format: v.literal('olchat-access-export/1'),
  requestId: v.string(),
  generatedAt: v.string(),
  portal: v.object({ id: v.string(), domain: v.string(), memberId: v.string() }),
  scope: v.object({ kind: v.picklist(['portal', 'account', 'contact']) }),
  periods: v.record(v.string(), v.number()),
  classes: v.array(
    v.object({
      id: v.string(),
      title: v.object({ en: v.string(), ru: v.string() }),
      source: v.object({ en: v.string(), ru: v.string() }),
      items: v.array(v.object({ store: v.picklist(['postgres', 'cache', 'objects']) })),
    }),
  ),
  counts: v.record(v.string(), v.number()),
})

export const accessRequestSpecs = {
  create: defineRoute({
    method: 'POST',
    path: '/access-requests',
    permission: 'requests:export',
    scope: 'portal',
    summary:
      'D1: everything Olchat holds about a portal, one account or one contact, with the deletion deadline ' +
      'of every item — JSON, or a Russian HTML report with ?format=html',
    tag: 'data-requests',
    body: AccessRequestBody,
    query: AccessFormatQuery,
    responses: {
      200: { description: 'The export (recorded as an access request)', schema: ExportView },
      404: { description: 'No such portal, or no such account in it' },
      503: { description: 'This process was started without the services an export reads' },
    },
  }),
}

export function accessRequestRoutes(deps: AdminDeps, guard: Guard): Hono<AdminEnv> {
  return new Hono<AdminEnv>().post(
    '/access-requests',
    guard(accessRequestSpecs.create),
    validQuery(AccessFormatQuery),
    validJson(AccessRequestBody),
    async (c) => {
      const body = c.req.valid('json')
      const principal = c.get('principal')
      const name = body.portal ?? principal.portalId
      if (!name) throw new ApiError(400, 'portal_required', 'Name the portal: "portal": "<address>"')
      const portal = await findPortal(deps, name)
      // Another portal's caller learns nothing, not even whether the portal exists.
      await checkScope(deps, c, portal?.id ?? null)
      if (!portal) throw notFound('portal')
      const services = deps.privacy
      if (!services) throw new ApiError(503, 'unavailable', 'Access exports are not configured here')
      const report = await exportSubjectData(
        { ...services, sql: deps.sql, log: deps.log },
        {
          portal: portal.id,
          ...(body.account ? { account: body.account } : {}),
          ...(body.contact ? { contact: body.contact } : {}),
          requestedBy: principal.actor,
          requestedRole: principal.role,
          via: 'admin-api',
          ...(sourceIp(c) ? { sourceIp: sourceIp(c)! } : {}),
        },
      ).catch((error) => {
        if (error instanceof AccessRequestError) throw new ApiError(400, 'invalid_request', error.message)
        if (error instanceof AccountNotInPortalError) throw notFound('account')
        throw error
      })
      c.header('Cache-Control', 'no-store')
      if (c.req.valid('query').format !== 'html') return c.json(report)
      c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
      c.header('X-Content-Type-Options', 'nosniff')
      return c.html(renderAccessReport(report))
    },
  )
}
