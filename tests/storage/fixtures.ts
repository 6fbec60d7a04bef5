/**
 * Shared set-up for the repository suites: a fixed-per-run key ring and helpers that create the parent rows
 * (portal → account → chat) a test needs.
 */
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import type { Sql } from '../../storage/db.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'

export const secrets = KeyRing.fromText(`k1:${generateKey()}`)

let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`

export function repositories(sql: Sql, options?: Parameters<typeof createRepositories>[2]): Repositories {
  return createRepositories(sql, secrets, options)
}

export async function seedPortal(repos: Repositories) {
  const memberId = unique('member')
  const { portal } = await repos.portals.upsert({ memberId, domain: `${memberId}.bitrix24.ru` })
  return portal
}

export async function seedAccount(repos: Repositories, portalId?: string) {
  const owner = portalId ?? (await seedPortal(repos)).id
  return repos.accounts.create({ portalId: owner, messenger: 'telegram' })
}

export async function seedChat(repos: Repositories, accountId: string) {
  const contact = await repos.contacts.upsert(accountId, { remoteId: unique('user') })
  return repos.chats.upsert({ accountId, remoteChatId: contact.remoteId, contactId: contact.id })
}

/** The rows of a table as raw text (every column), for "is this plaintext anywhere?" checks. */
export async function rawText(sql: Sql, table: string): Promise<string> {
  const rows = await sql<{ row: string }[]>`select t::text as row from ${sql(table)} t`
  return rows.map((r) => r.row).join('\n')
}
