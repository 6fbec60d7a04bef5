/**
 * @module A support deletion request (D4) as it comes in — validated, nothing touched before — and the
 * receipt it ends with: counts per data class and per table, times, who asked, and the subject only as a
 * keyed hash (D5). The receipt never holds a name, an address, a phone number or a message.
 */
import * as v from 'valibot'
import type { Holder } from './policy-index.ts'

const Id = v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(255))

/** One contact, by any identifier the data subject gave; every given one must match. */
export const ContactSelectorSchema = v.pipe(
  v.strictObject({
    /** The contact's messenger id. */
    remoteId: v.optional(Id),
    /** Messenger username, with or without `@`; compared case-insensitively. */
    username: v.optional(
      v.pipe(
        Id,
        v.transform((name) => name.replace(/^@/, '').toLowerCase()),
      ),
    ),
    /** Phone number in any notation; compared by its digits. */
    phone: v.optional(
      v.pipe(
        Id,
        v.transform((phone) => phone.replace(/\D/g, '')),
        v.minLength(5, 'a phone number needs at least 5 digits'),
      ),
    ),
  }),
  v.check((selector) => Object.keys(selector).length > 0, 'name the contact by remoteId, username or phone'),
)

export const DeletionRequestSchema = v.strictObject({
  /** The portal, by its Bitrix24 member id. */
  memberId: Id,
  /** Only this contact across the portal's accounts; without it, the whole portal. */
  contact: v.optional(ContactSelectorSchema),
  /** Who asked: the support principal (e.g. `api-token:<id>`), never a person's name or address. */
  requestedBy: v.pipe(Id, v.regex(/^[\w.:@-]+$/, 'an identifier such as api-token:<id>')),
  requestedRole: v.optional(v.pipe(v.string(), v.nonEmpty(), v.maxLength(64))),
  /** Recorded in the audit entry (e.g. `admin-api`, `cli`). */
  via: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/))),
  sourceIp: v.optional(v.pipe(v.string(), v.maxLength(64))),
})

export type ContactSelector = v.InferOutput<typeof ContactSelectorSchema>
export type DeletionRequest = v.InferOutput<typeof DeletionRequestSchema>

export interface ClassCounts {
  /** Rows per table that held this class (a table holding two classes is listed under both). */
  rows: Record<string, number>
  cacheKeys: number
  objects: number
}

export interface DeletionReceipt {
  requestId: string
  scope: 'portal' | 'contact'
  /** Keyed hash of the portal (`portal:…`) — the same reference every audit entry of the portal uses. */
  portal: string
  /** Keyed hash of what was deleted: the portal reference, or `contact:…`. */
  subject: string
  requestedBy: string
  requestedAt: string
  completedAt: string
  classes: Partial<Record<Holder | 'undeclared', ClassCounts>>
  /** Rows per table, each table once. */
  tables: Record<string, number>
  totals: { rows: number; cacheKeys: number; objects: number }
}

export class DeletionRequestError extends Error {
  override name = 'DeletionRequestError'
}

/** @throws DeletionRequestError naming the first bad field; nothing has been touched. */
export function parseDeletionRequest(input: unknown): DeletionRequest {
  const result = v.safeParse(DeletionRequestSchema, input)
  if (result.success) return result.output
  const issue = result.issues[0]
  const path = issue.path?.map((item) => String(item.key)).join('.') || 'request'
  throw new DeletionRequestError(`${path}: ${issue.message}`)
}
