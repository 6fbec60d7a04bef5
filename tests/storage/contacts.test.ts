import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ContactNotFoundError } from '../../storage/repos/contacts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { rawText, repositories, seedAccount } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let accountId: string
let otherId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  accountId = (await seedAccount(repos)).id
  otherId = (await seedAccount(repos)).id
})
afterAll(() => db.drop())

describe('ContactRepository', () => {
  test('upsert inserts, then replaces the profile on refresh', async () => {
    const first = await repos.contacts.upsert(accountId, {
      remoteId: '100',
      firstName: 'Ivan',
      lastName: 'Petrov',
      username: 'ivan',
      phone: '+79990001122',
      avatarKey: 'avatars/100',
    })
    expect(first).toMatchObject({ accountId, remoteId: '100', firstName: 'Ivan', phone: '+79990001122' })
    const refreshed = await repos.contacts.upsert(accountId, {
      remoteId: '100',
      firstName: 'Ivan',
      username: 'ivan2',
    })
    expect(refreshed.id).toBe(first.id)
    expect(refreshed).toMatchObject({ username: 'ivan2', lastName: null, phone: null })
    expect(refreshed.refreshedAt.getTime()).toBeGreaterThanOrEqual(first.refreshedAt.getTime())
    expect(await repos.contacts.get(first.id)).toEqual(refreshed)
    expect(await repos.contacts.findByRemote(accountId, '100')).toEqual(refreshed)
    expect(await repos.contacts.findByRemote(otherId, '100')).toBeUndefined()
  })

  test('R6: a contact missing from a partial listing is not stale while its chat moved within the message period', async () => {
    const own = (await seedAccount(repos)).id
    const contact = await repos.contacts.upsert(own, { remoteId: '150', firstName: 'Busy' })
    const chat = await repos.chats.upsert({ accountId: own, remoteChatId: '150', contactId: contact.id })
    expect(await repos.contacts.markStale(own, [])).toBe(0)
    // The chat has been quiet for longer than the period: now the listing decides.
    await db.sql`update chats set updated_at = now() - interval '91 days' where id = ${chat.id}`
    expect(await repos.contacts.markStale(own, [])).toBe(1)
    expect((await repos.contacts.findByRemote(own, '150'))!.staleAt).not.toBeNull()
    await repos.contacts.deleteAll(own)
  })

  test('S4: contact phones are sealed', async () => {
    await repos.contacts.upsert(accountId, { remoteId: '101', phone: '+79995554433' })
    const raw = await rawText(db.sql, 'contacts')
    expect(raw).not.toContain('+79995554433')
    expect(raw).not.toContain(Buffer.from('+79995554433').toString('hex'))
    expect((await repos.contacts.findByRemote(accountId, '101'))!.phone).toBe('+79995554433')
  })

  test('R6: markStale marks contacts missing from a refresh; seeing one again lifts the mark', async () => {
    await repos.contacts.upsert(accountId, { remoteId: '102' })
    await repos.contacts.upsert(otherId, { remoteId: '900' })
    expect(await repos.contacts.markStale(accountId, ['100'])).toBe(2)
    // Already stale contacts keep their first mark.
    expect(await repos.contacts.markStale(accountId, ['100'])).toBe(0)
    const fresh = await repos.contacts.list(accountId, { includeStale: false })
    expect(fresh.map((c) => c.remoteId)).toEqual(['100'])
    expect((await repos.contacts.list(accountId)).filter((c) => c.staleAt !== null)).toHaveLength(2)
    expect((await repos.contacts.upsert(accountId, { remoteId: '102' })).staleAt).toBeNull()
    expect((await repos.contacts.list(otherId))[0]!.staleAt).toBeNull()
  })

  test('R6: deleteStaleBefore deletes contacts stale past the period, with their chats', async () => {
    const stale = (await repos.contacts.findByRemote(accountId, '101'))!
    const chat = await repos.chats.upsert({ accountId, remoteChatId: '101', contactId: stale.id })
    expect(await repos.contacts.deleteStaleBefore(new Date(Date.now() - 7 * 86_400_000))).toBe(0)
    expect(await repos.contacts.deleteStaleBefore(new Date(Date.now() + 60_000))).toBe(1)
    expect(await repos.contacts.findByRemote(accountId, '101')).toBeUndefined()
    expect(await repos.chats.getByRemote(accountId, chat.remoteChatId)).toBeUndefined()
  })

  test('delete one contact', async () => {
    const contact = (await repos.contacts.findByRemote(accountId, '102'))!
    expect(await repos.contacts.delete(contact.id)).toBe(true)
    expect(await repos.contacts.delete(contact.id)).toBe(false)
    await expect(repos.contacts.get(contact.id)).rejects.toBeInstanceOf(ContactNotFoundError)
  })

  test('R2: deleteAll clears the contact cache of one account', async () => {
    expect(await repos.contacts.deleteAll(accountId)).toBe(1)
    expect(await repos.contacts.list(accountId)).toEqual([])
    expect(await repos.contacts.list(otherId)).toHaveLength(1)
  })
})
