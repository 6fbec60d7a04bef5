import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { contactListCacheKey, staleSweep } from '../../src/retention/stale-sweep.ts'
import { seedAccount, seedPortal } from '../storage/fixtures.ts'
import {
  column,
  DAY,
  objectKeys,
  openRetentionStores,
  putText,
  type RetentionStores,
  sweepDeps,
} from './support.ts'

let stores: RetentionStores
beforeAll(async () => {
  stores = await openRetentionStores({ files: true })
})
afterAll(() => stores.close())

const now = new Date()

/** A contact with an avatar object, a chat, one message and one queued job; stale `staleDaysAgo` ago. */
async function contactWithData(
  portalId: string,
  accountId: string,
  name: string,
  staleDaysAgo: number | null,
) {
  const avatarKey = `p/${portalId}/a/${accountId}/avatars/${name}`
  await putText(stores.files, avatarKey, `avatar of ${name}`)
  const contact = await stores.repos.contacts.upsert(accountId, {
    remoteId: name,
    firstName: name,
    avatarKey,
  })
  const chat = await stores.repos.chats.upsert({
    accountId,
    remoteChatId: `chat-${name}`,
    contactId: contact.id,
  })
  await stores.repos.messages.recordInbound({
    accountId,
    chatId: chat.id,
    originId: `m-${name}`,
    sentAt: now,
  })
  await stores.repos.deliveries.enqueue({
    accountId,
    chatId: chat.id,
    direction: 'to_portal',
    kind: 'message',
    idempotencyKey: `job-${name}`,
    payload: { text: `hello from ${name}` },
  })
  if (staleDaysAgo !== null) {
    await stores.db.sql`
      update contacts set stale_at = ${new Date(now.getTime() - staleDaysAgo * DAY)} where id = ${contact.id}`
  }
  return { contact, chat, avatarKey }
}

describe('R6 sweep: stale data', () => {
  test('R6: a contact stale longer than 7 days goes with its avatar, chats, metadata, jobs and cached list — nothing else', async () => {
    const portal = await seedPortal(stores.repos)
    const account = await seedAccount(stores.repos, portal.id)
    const quiet = await seedAccount(stores.repos, portal.id)
    const gone = await contactWithData(portal.id, account.id, 'gone', 8)
    const recent = await contactWithData(portal.id, account.id, 'recent', 6)
    const fresh = await contactWithData(portal.id, account.id, 'fresh', null)
    const other = await contactWithData(portal.id, quiet.id, 'other', null)
    await stores.cache.set(contactListCacheKey(portal.id, account.id), '["gone","recent","fresh"]')
    await stores.cache.set(contactListCacheKey(portal.id, quiet.id), '["other"]')
    await stores.cache.set(`p:${portal.id}:a:${account.id}:unrelated`, 'kept')
    const objectsBefore = await objectKeys(stores.files)

    const outcome = await staleSweep.run(sweepDeps(stores, now))

    expect(outcome.deleted).toMatchObject({ contacts: 1, cacheKeys: 1 })
    expect(await column(stores.db, 'contacts', 'remote_id')).toEqual(['fresh', 'other', 'recent'])
    expect(await column(stores.db, 'chats', 'remote_chat_id')).toEqual([
      'chat-fresh',
      'chat-other',
      'chat-recent',
    ])
    expect(await column(stores.db, 'messages', 'origin_id')).toEqual(['m-fresh', 'm-other', 'm-recent'])
    expect(await column(stores.db, 'deliveries', 'idempotency_key')).toEqual([
      'job-fresh',
      'job-other',
      'job-recent',
    ])
    expect(await objectKeys(stores.files)).toEqual(objectsBefore.filter((key) => key !== gone.avatarKey))
    expect(objectsBefore).toContain(recent.avatarKey)
    expect(objectsBefore).toContain(fresh.avatarKey)
    expect(objectsBefore).toContain(other.avatarKey)
    expect(await stores.cache.get(contactListCacheKey(portal.id, account.id))).toBeUndefined()
    expect(await stores.cache.get(contactListCacheKey(portal.id, quiet.id))).toBe('["other"]')
    expect(await stores.cache.get(`p:${portal.id}:a:${account.id}:unrelated`)).toBe('kept')

    // 7 days later (the clock moved on): the one marked 6 days ago is due as well.
    const later = await staleSweep.run(sweepDeps(stores, new Date(now.getTime() + 2 * DAY)))
    expect(later.deleted).toMatchObject({ contacts: 1 })
    expect(await column(stores.db, 'contacts', 'remote_id')).toEqual(['fresh', 'other'])
    expect(await objectKeys(stores.files)).not.toContain(recent.avatarKey)
  })

  test('R6: an unbound chat mapping stale longer than 7 days is deleted; one stale for less, or seen again, stays', async () => {
    const account = await seedAccount(stores.repos)
    const unbound = await stores.repos.chats.upsert({ accountId: account.id, remoteChatId: 'unbound-old' })
    const young = await stores.repos.chats.upsert({ accountId: account.id, remoteChatId: 'unbound-young' })
    const seenAgain = await stores.repos.chats.upsert({ accountId: account.id, remoteChatId: 'seen-again' })
    await stores.repos.chats.setStale(unbound.id, new Date(now.getTime() - 8 * DAY))
    await stores.repos.chats.setStale(young.id, new Date(now.getTime() - 6 * DAY))
    await stores.repos.chats.setStale(seenAgain.id, new Date(now.getTime() - 8 * DAY))
    await stores.repos.chats.touch(seenAgain.id, now)

    const outcome = await staleSweep.run(sweepDeps(stores, now))

    expect(outcome.deleted.chats).toBe(1)
    const left = await stores.db.sql<{ remoteChatId: string }[]>`
      select remote_chat_id from chats where account_id = ${account.id} order by 1`
    expect(left.map((row) => row.remoteChatId)).toEqual(['seen-again', 'unbound-young'])
  })

  test('R6: many stale contacts go in batches; an avatar outside the account prefix is never touched', async () => {
    const portal = await seedPortal(stores.repos)
    const account = await seedAccount(stores.repos, portal.id)
    const foreignKey = `p/${portal.id}/shared/logo.png`
    await putText(stores.files, foreignKey)
    for (let i = 0; i < 7; i++) {
      await stores.repos.contacts.upsert(account.id, {
        remoteId: `batch-${i}`,
        avatarKey: i === 0 ? foreignKey : null,
      })
    }
    await stores.db.sql`
      update contacts set stale_at = ${new Date(now.getTime() - 30 * DAY)} where account_id = ${account.id}`
    const deps = sweepDeps(stores, now, { batchSize: 2, maxBatches: 2 })
    const first = await staleSweep.run(deps)
    expect(first.more).toBe(true)
    while ((await staleSweep.run(deps)).more) {}
    const left = await stores.db.sql`select 1 from contacts where account_id = ${account.id}`
    expect(left.length).toBe(0)
    expect(await objectKeys(stores.files)).toContain(foreignKey)
  })
})
