/**
 * @module The access export (D1) as data: every inventory class of the policy, each with the items Olchat
 * holds of the subject and, per item, when it will be deleted. Also the request as it comes in (validated
 * before anything is read) and its errors.
 */
import * as v from 'valibot'
import { ContactSelectorSchema } from './deletion-request.ts'
import type { ClassId, RuleId, Text } from './policy-types.ts'
import type { RetentionPeriods } from './retention-periods.ts'

const Id = v.pipe(v.string(), v.trim(), v.nonEmpty(), v.maxLength(255))

export const AccessRequestSchema = v.pipe(
  v.strictObject({
    /** The portal by its address (`company.bitrix24.ru`), member id or Olchat id. */
    portal: Id,
    /** Only this account (Olchat's account id) of the portal. */
    account: v.optional(v.pipe(v.string(), v.uuid('not an account id'))),
    /** Only this contact across the portal's accounts (messenger id, username or phone). */
    contact: v.optional(ContactSelectorSchema),
    /** Who asked: the support principal (e.g. `api-token:<id>`), never a person's name or address. */
    requestedBy: v.pipe(Id, v.regex(/^[\w.:@-]+$/, 'an identifier such as api-token:<id>')),
    requestedRole: v.optional(v.pipe(v.string(), v.nonEmpty(), v.maxLength(64))),
    via: v.optional(v.pipe(v.string(), v.regex(/^[\w.-]{1,64}$/))),
    sourceIp: v.optional(v.pipe(v.string(), v.maxLength(64))),
  }),
  v.check((r) => !(r.account && r.contact), 'narrow to one account or one contact, not both'),
)

export type AccessRequest = v.InferOutput<typeof AccessRequestSchema>

export class AccessRequestError extends Error {
  override name = 'AccessRequestError'
}

/** The portal named in a request is not installed here (the name stays out of the message: logs). */
export class PortalNotFoundForExportError extends Error {
  override name = 'PortalNotFoundForExportError'
  constructor() {
    super('no installed portal has this address, member id or id')
  }
}

/** @throws AccessRequestError naming the first bad field; nothing has been read. */
export function parseAccessRequest(input: unknown): AccessRequest {
  const result = v.safeParse(AccessRequestSchema, input)
  if (result.success) return result.output
  const issue = result.issues[0]
  const path = issue.path?.map((item) => String(item.key)).join('.') || 'request'
  throw new AccessRequestError(`${path}: ${issue.message}`)
}

/** A value as exported: plain JSON, or a marker for what is held but not shown as text. */
export type ExportedValue =
  | string
  | number
  | boolean
  | null
  | { [key: string]: unknown }
  | unknown[]
  | { withheld: 'authentication-secret'; bytes: number }
  | { binary: string; bytes: number }
  | { unreadable: string; bytes: number }

export interface ItemRetention {
  rules: RuleId[]
  /** The latest time the item will be deleted under a rule with a period; null when none applies yet. */
  deleteBy: string | null
  /** Rules ending with an event (disconnect, uninstall, delivery), or periods not yet counting, in words. */
  until: (Text & { rule: RuleId })[]
}

export type ExportedItem =
  | {
      store: 'postgres'
      table: string
      /** Primary key of the row. */
      key: Record<string, string>
      /** The class's columns of the row (sealed ones opened; `_enc` dropped from their names). */
      data: Record<string, ExportedValue>
      retention: ItemRetention
    }
  | {
      store: 'cache'
      key: string
      /** Null when the entry also holds other people's data (a contact's export). */
      value: string | null
      retention: ItemRetention
    }
  | { store: 'objects'; key: string; size: number; lastModified: string; retention: ItemRetention }

export interface ExportedClass {
  id: ClassId
  title: Text
  source: Text
  items: ExportedItem[]
}

export interface AccessExport {
  format: 'olchat-access-export/1'
  requestId: string
  generatedAt: string
  portal: { id: string; domain: string; memberId: string }
  scope:
    | { kind: 'portal' }
    | { kind: 'account'; accountId: string }
    | { kind: 'contact'; contact: Record<string, string> }
  /** Retention periods in force (days), which the deadlines were computed with. */
  periods: RetentionPeriods
  /** Every class of the policy, in its order, also when nothing of it is held. */
  classes: ExportedClass[]
  counts: Record<ClassId, number>
}
