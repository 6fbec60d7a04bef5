/**
 * @module The shape of the privacy policy (`policy.ts`): what Olchat may hold (inventory I1–I6 of
 * PRIVACY.md), where, for how long (R1–R8) and what deletes it. The policy is hand-written data; the
 * inventory check compares the live stores against it, so it is the allow-list of the schema, the cache
 * keys and the object store.
 */

export type ClassId = 'I1' | 'I2' | 'I3' | 'I4' | 'I5' | 'I6'
export type RuleId = 'R1' | 'R2' | 'R3' | 'R4' | 'R5' | 'R6' | 'R7' | 'R8'
/** Rules with a period (days); the others end with an event (disconnect, uninstall, delivery). */
export type PeriodRuleId = 'R3' | 'R5' | 'R6' | 'R7' | 'R8'

/**
 * What deletes the data: `disconnect` (D2), `uninstall` (D3), `support-deletion` (D4), `retention` (the
 * retention sweep under the location's rule).
 */
export type DeletionTrigger = 'disconnect' | 'uninstall' | 'support-deletion' | 'retention'

export interface Text {
  en: string
  ru: string
}

export interface RetentionRule {
  id: RuleId
  /** The data class as PRIVACY.md names it. */
  covers: Text
  kept: Text
  afterwards: Text
  /** Default period in days where the rule has one (configurable per deployment). */
  defaultDays: number | null
}

export interface InventoryClass {
  id: ClassId
  title: Text
  /** Where it comes from. */
  source: Text
  locations: readonly Location[]
}

/**
 * "Held past its rule", checkable in the database: a hand-written SQL condition over the table's own
 * columns, `$1` being the rule's cutoff (now − period − grace) and `$2` now − grace.
 */
export interface OverdueCheck {
  rule: RuleId
  /** What the condition finds, in words (the check's report). */
  finds: string
  where: string
}

export interface TableLocation {
  store: 'postgres'
  table: string
  columns: readonly string[]
  rules: readonly RuleId[]
  triggers: readonly DeletionTrigger[]
  overdue?: readonly OverdueCheck[]
}

/**
 * Key patterns of the cache and the object store: literal text with placeholders `{portal}` and
 * `{account}` (uuids), `{id}` (one segment: letters, digits, `.`, `_`, `-`) and `{rest}` (anything
 * non-empty, at the end only).
 */
export interface CacheLocation {
  store: 'cache'
  pattern: string
  rules: readonly RuleId[]
  triggers: readonly DeletionTrigger[]
  /** Whether a key outliving its account or portal (or the account's disconnect) counts as overdue. */
  boundTo: 'portal' | 'account'
}

export interface ObjectLocation {
  store: 'objects'
  pattern: string
  rules: readonly RuleId[]
  triggers: readonly DeletionTrigger[]
  boundTo: 'portal' | 'account'
  /** Objects older than this rule's period are overdue (files live only for the transfer). */
  maxAge?: PeriodRuleId
}

export type Location = TableLocation | CacheLocation | ObjectLocation

/** Columns that carry no personal data: identifiers, states, times, counters, hashes. */
export interface TechnicalColumns {
  table: string
  columns: readonly string[]
  why: string
  rules?: readonly RuleId[]
  overdue?: readonly OverdueCheck[]
}

export interface TechnicalKeys {
  pattern: string
  why: string
  /** Keys naming a portal are deleted with it (uninstall, support deletion). */
  boundTo?: 'portal'
}

/**
 * How the rows of a table belong to a portal, for deletion (D3, D4) and export (D1): the table is the
 * portal itself, carries `portal_id`, carries `account_id`, names subjects by id (retention deadlines), or
 * belongs to no portal (instance-wide, or records that outlive the portal by design: audit, receipts).
 */
export type TableOwner =
  | { kind: 'portal-row' }
  | { kind: 'portal'; column: string }
  | { kind: 'account'; column: string }
  | { kind: 'subject-id'; column: string }
  | { kind: 'none'; why: string }

/**
 * How one contact's rows are found in a table (support deletion of one contact, D4): the contact row
 * itself, rows pointing at it, rows of its chats, rows naming its messenger id, deadlines naming it,
 * pending Bitrix24 events of its chats (sealed: opened to match), or none.
 */
export type ContactLink =
  | { kind: 'contact-row' }
  | { kind: 'contact-id'; column: string }
  | { kind: 'chat-id'; column: string }
  | { kind: 'remote-id'; columns: readonly string[] }
  | { kind: 'subject-id'; column: string }
  | { kind: 'sealed-chat-events' }
  | { kind: 'none' }

export interface TableDeclaration {
  owner: TableOwner
  contact: ContactLink
}

export interface PrivacyPolicy {
  rules: Readonly<Record<RuleId, RetentionRule>>
  classes: Readonly<Record<ClassId, InventoryClass>>
  technical: {
    columns: readonly TechnicalColumns[]
    cacheKeys: readonly TechnicalKeys[]
    objects: readonly TechnicalKeys[]
  }
  /** Every table of the schema; partitions are covered by their parent. */
  tables: Readonly<Record<string, TableDeclaration>>
}
