/**
 * @module Which rows, keys and objects an access request (D1) covers: a whole portal, one account of it, or
 * one contact across the portal's accounts. Portal and contact use the very rows a support deletion (D4)
 * would remove (`deletion-rows.ts`), so the export shows what a deletion would take; one account reaches
 * its own row, the rows it owns, portal rows naming it, and deadlines naming it or its contacts and chats.
 */
import type postgres from 'postgres'
import type { Tx } from '../../storage/db.ts'
import { contactScope, type DeletionDeps, portalScope } from './deletion.ts'
import type { ContactSelector } from './deletion-request.ts'
import { type ContactRows, type PortalRows, scopedTables } from './deletion-rows.ts'
import type { Bindings } from './key-pattern.ts'
import type { PrivacyPolicy } from './policy-types.ts'

type Fragment = postgres.PendingQuery<postgres.Row[]>

export type ScopeRequest =
  | { kind: 'portal' }
  | { kind: 'account'; accountId: string }
  | { kind: 'contact'; contact: ContactSelector }

export interface AccountRows {
  kind: 'account'
  portalId: string
  accountId: string
  /** The account, its contacts and chats: what retention deadlines of the account name. */
  subjectIds: string[]
}

export interface ExportScope {
  request: ScopeRequest
  portalId: string
  rows: PortalRows | AccountRows | ContactRows
  /**
   * Owners whose cache keys and objects are listed by prefix. A contact has none: its objects are the ones
   * its rows reference, and its accounts' cache entries are shared with other people.
   */
  keyOwners: Bindings[]
}

/** The table of accounts: in an account's export it contributes that account's own row. */
const ACCOUNTS_TABLE = 'accounts'

export class AccountNotInPortalError extends Error {
  override name = 'AccountNotInPortalError'
  constructor() {
    super('no such account in this portal')
  }
}

/** Resolves the subject's ids; runs outside any transaction (PGlite has one connection). */
export async function resolveScope(
  deps: DeletionDeps,
  portalId: string,
  request: ScopeRequest,
): Promise<ExportScope> {
  if (request.kind === 'portal') {
    return {
      request,
      portalId,
      rows: await portalScope(deps.sql, portalId),
      keyOwners: [{ portal: portalId }],
    }
  }
  if (request.kind === 'contact') {
    return { request, portalId, rows: await contactScope(deps, portalId, request.contact), keyOwners: [] }
  }
  const [ids] = await deps.sql<{ found: boolean; others: string[] }[]>`
    select
      exists (select 1 from accounts where id = ${request.accountId} and portal_id = ${portalId}) as found,
      coalesce((select array_agg(id::text) from contacts where account_id = ${request.accountId}), '{}')
        || coalesce((select array_agg(id::text) from chats where account_id = ${request.accountId}), '{}')
        as others`
  if (!ids?.found) throw new AccountNotInPortalError()
  return {
    request,
    portalId,
    rows: {
      kind: 'account',
      portalId,
      accountId: request.accountId,
      subjectIds: [request.accountId, ...ids.others],
    },
    keyOwners: [{ portal: portalId, account: request.accountId }],
  }
}

/** table → condition selecting the subject's rows, for every declared table that holds some. */
export async function scopeConditions(
  tx: Tx,
  policy: PrivacyPolicy,
  scope: ExportScope,
): Promise<Map<string, Fragment>> {
  const { rows } = scope
  if (rows.kind !== 'account') {
    return new Map((await scopedTables(tx, policy, rows)).map(({ table, where }) => [table, where]))
  }
  const withAccountColumn = new Set(
    (
      await tx<{ name: string }[]>`
        select table_name as name from information_schema.columns
        where table_schema = current_schema() and column_name = 'account_id'`
    ).map((row) => row.name),
  )
  const conditions = new Map<string, Fragment>()
  for (const [table, { owner }] of Object.entries(policy.tables)) {
    if (table === ACCOUNTS_TABLE) conditions.set(table, tx`id = ${rows.accountId}`)
    else if (owner.kind === 'account') conditions.set(table, tx`${tx(owner.column)} = ${rows.accountId}`)
    else if (owner.kind === 'portal' && withAccountColumn.has(table))
      conditions.set(table, tx`account_id = ${rows.accountId}`)
    else if (owner.kind === 'subject-id')
      conditions.set(table, tx`${tx(owner.column)} = any(${tx.array(rows.subjectIds)}::text[])`)
  }
  return conditions
}
