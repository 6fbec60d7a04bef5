/**
 * @module R6: data marked stale is deleted once the mark is older than the period — contacts not seen in a
 * refresh (with their avatar objects and the account's cached contact list) and unbound chat mappings.
 * Deleting a contact or chat takes its chats, message metadata and queued jobs with it (ON DELETE CASCADE);
 * files those jobs referenced are left to the orphaned-files sweep (R8).
 *
 * Objects go before rows: a crash in between leaves rows that the next run finds again, never an object
 * that no row names any more. The row delete re-checks the mark, so a contact seen again meanwhile stays.
 */
import { cutoffFor } from './periods.ts'
import { budgetOf, inBatches, type Sweep, type SweepDeps, tally, withClassLock } from './sweep.ts'

/** The account's cached contact list (policy pattern `p:{portal}:a:{account}:{rest}`). */
export const contactListCacheKey = (portalId: string, accountId: string) =>
  `p:${portalId}:a:${accountId}:contacts`

interface StaleContact {
  id: string
  accountId: string
  portalId: string
  avatarKey: string | null
}

async function deleteStaleContacts(deps: SweepDeps, cutoff: Date, budget: { left: number }) {
  let contacts = 0
  let avatars = 0
  let cacheKeys = 0
  let afterId = '0'
  do {
    const batch = await deps.sql<StaleContact[]>`
      select c.id::text as id, c.account_id, a.portal_id, c.avatar_key
      from contacts c join accounts a on a.id = c.account_id
      where c.stale_at < ${cutoff} and c.id > ${afterId}
      order by c.id
      limit ${deps.batchSize}`
    if (batch.length === 0) return { contacts, avatars, cacheKeys, more: false }
    afterId = batch.at(-1)!.id
    for (const contact of batch) {
      // Only the account's own objects: an avatar key outside its prefix is not ours to delete.
      const prefix = `p/${contact.portalId}/a/${contact.accountId}/`
      if (contact.avatarKey?.startsWith(prefix) && (await deps.files.delete(contact.avatarKey))) avatars++
    }
    const ids = batch.map((contact) => contact.id)
    const removed = await withClassLock(deps, 'R6', async (tx) => {
      const result = await tx`
        delete from contacts where id = any(${tx.array(ids)}::bigint[]) and stale_at < ${cutoff}`
      return result.count
    })
    // Another process holds the class: it is sweeping these very rows.
    if (removed === null) return { contacts, avatars, cacheKeys, more: false }
    contacts += removed
    const accounts = new Map(batch.map((contact) => [contact.accountId, contact.portalId]))
    for (const [accountId, portalId] of accounts) {
      if (await deps.cache.delete(contactListCacheKey(portalId, accountId))) cacheKeys++
    }
    if (batch.length < deps.batchSize) return { contacts, avatars, cacheKeys, more: false }
    budget.left--
  } while (budget.left > 0)
  return { contacts, avatars, cacheKeys, more: true }
}

export const staleSweep: Sweep = {
  rule: 'R6',
  name: 'stale',
  intervalMs: 3600_000,
  async run(deps) {
    const cutoff = cutoffFor(deps.periods, 'R6', deps.now())
    const budget = budgetOf(deps)
    const contacts = await deleteStaleContacts(deps, cutoff, budget)
    const chats = await inBatches(deps, 'R6', budget, async (tx, limit) => {
      const result = await tx`
        delete from chats where id in (select id from chats where stale_at < ${cutoff} limit ${limit})`
      return result.count
    })
    return {
      deleted: tally(
        {},
        {
          contacts: contacts.contacts,
          avatarObjects: contacts.avatars,
          cacheKeys: contacts.cacheKeys,
          chats: chats.count,
        },
      ),
      more: contacts.more || chats.more,
    }
  },
}
