/**
 * @module The rows of a deletion subject, table by table, as the policy's ownership entries describe them
 * (`tables` in policy.ts): a portal reaches its own row, rows with its `portal_id`, rows of its accounts and
 * retention deadlines naming any of its ids; one contact reaches its contact rows, rows pointing at them,
 * rows of its chats, rows naming its messenger id and the pending events of its chats.
 */
import type postgres from 'postgres'
import type { Tx } from '../../storage/db.ts'
import type { PrivacyPolicy, TableDeclaration } from './policy-types.ts'

export interface PortalRows {
  kind: 'portal'
  portalId: string
  accountIds: string[]
  /** Every id a retention deadline of the portal can name: portal, accounts, contacts, chats. */
  subjectIds: string[]
}

export interface ContactRows {
  kind: 'contact'
  accountIds: string[]
  contactIds: string[]
  chatIds: string[]
  remoteIds: string[]
  /** Pending Bitrix24 events addressed to the contact's chats (found by opening their sealed bodies). */
  eventIds: string[]
}

export type RowScope = PortalRows | ContactRows

type Fragment = postgres.PendingQuery<postgres.Row[]>

const anyOf = (tx: Tx, values: string[], type: string) => tx`any(${tx.array(values)}::${tx.unsafe(type)}[])`

function portalPredicate(tx: Tx, declaration: TableDeclaration, scope: PortalRows): Fragment | undefined {
  const { owner } = declaration
  switch (owner.kind) {
    case 'portal-row':
      return tx`id = ${scope.portalId}`
    case 'portal':
      return tx`${tx(owner.column)} = ${scope.portalId}`
    case 'account':
      return tx`${tx(owner.column)} = ${anyOf(tx, scope.accountIds, 'uuid')}`
    case 'subject-id':
      return tx`${tx(owner.column)} = ${anyOf(tx, scope.subjectIds, 'text')}`
    case 'none':
      return undefined
  }
}

function contactPredicate(tx: Tx, declaration: TableDeclaration, scope: ContactRows): Fragment | undefined {
  const { contact, owner } = declaration
  switch (contact.kind) {
    case 'contact-row':
      return tx`id = ${anyOf(tx, scope.contactIds, 'bigint')}`
    case 'contact-id':
      return tx`${tx(contact.column)} = ${anyOf(tx, scope.contactIds, 'bigint')}`
    case 'chat-id':
      return tx`${tx(contact.column)} = ${anyOf(tx, scope.chatIds, 'bigint')}`
    case 'subject-id':
      return tx`${tx(contact.column)} = ${anyOf(tx, [...scope.contactIds, ...scope.chatIds], 'text')}`
    case 'sealed-chat-events':
      return tx`id = ${anyOf(tx, scope.eventIds, 'bigint')}`
    case 'remote-id': {
      if (owner.kind !== 'account') throw new Error('a remote-id contact link needs an account-owned table')
      const named = contact.columns.map(
        (column, index) =>
          tx`${index === 0 ? tx`` : tx`or`} ${tx(column)}::text = ${anyOf(tx, scope.remoteIds, 'text')}`,
      )
      return tx`${tx(owner.column)} = ${anyOf(tx, scope.accountIds, 'uuid')} and (${named})`
    }
    case 'none':
      return undefined
  }
}

export interface ScopedTable {
  table: string
  where: Fragment
}

/** The tables holding rows of the subject (declared, and present in this database), with their condition. */
export async function scopedTables(tx: Tx, policy: PrivacyPolicy, scope: RowScope): Promise<ScopedTable[]> {
  const present = new Set(
    (
      await tx<{ name: string }[]>`
        select table_name as name from information_schema.tables where table_schema = current_schema()`
    ).map((row) => row.name),
  )
  const scoped: ScopedTable[] = []
  for (const [table, declaration] of Object.entries(policy.tables)) {
    if (!present.has(table)) continue
    const where =
      scope.kind === 'portal'
        ? portalPredicate(tx, declaration, scope)
        : contactPredicate(tx, declaration, scope)
    if (where) scoped.push({ table, where })
  }
  // The portal row last: until it goes, the rest of the portal is still reachable for a retry.
  return scoped.sort((a, b) => Number(a.table === 'portals') - Number(b.table === 'portals'))
}

export async function countRows(tx: Tx, tables: ScopedTable[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (const { table, where } of tables) {
    const [row] = await tx<{ n: number }[]>`select count(*)::int as n from ${tx(table)} where ${where}`
    counts[table] = row!.n
  }
  return counts
}

/** Deletes, then recounts: anything left (a row a cascade did not reach, a racing insert) aborts the deletion. */
export async function deleteRows(tx: Tx, tables: ScopedTable[]): Promise<void> {
  for (const { table, where } of tables) await tx`delete from ${tx(table)} where ${where}`
  const left = Object.entries(await countRows(tx, tables)).filter(([, n]) => n > 0)
  if (left.length > 0) {
    throw new Error(
      `rows of the subject remain after deletion: ${left.map(([t, n]) => `${t} ${n}`).join(', ')}`,
    )
  }
}
