import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ChatNotFoundError } from '../../storage/repos/chats.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedAccount } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let accountId: string
let contactId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  accountId = (await seedAccount(repos)).id
  contactId = (await repos.contacts.upsert(accountId, { remoteId: '500' })).id
})
afterAll(() => db.drop())

describe('ChatRepository', () => {
  test('upsert creates a chat; context keys come back unchanged', async () => {
    const context = { CHAT_TYPE: 'private', peer_id: 5 }
    const chat = await repos.chats.upsert({ accountId, remoteChatId: '500', contactId, context })
    expect(chat).toMatchObject({ accountId, contactId, remoteChatId: '500', portalChatId: null, context })
    expect(await repos.chats.get(chat.id)).toEqual(chat)
    expect(await repos.chats.getByRemote(accountId, '500')).toEqual(chat)
  })

  test('upsert keeps omitted fields and lifts a stale mark', async () => {
    const chat = (await repos.chats.getByRemote(accountId, '500'))!
    await repos.chats.setStale(chat.id, new Date())
    const again = await repos.chats.upsert({ accountId, remoteChatId: '500', portalChatId: 'chat42' })
    expect(again).toMatchObject({ id: chat.id, contactId, portalChatId: 'chat42', context: chat.context })
    expect(again.staleAt).toBeNull()
  })

  test('getByPortalChat and setPortalChatId', async () => {
    const chat = (await repos.chats.getByPortalChat(accountId, 'chat42'))!
    await repos.chats.setPortalChatId(chat.id, 'chat43')
    expect(await repos.chats.getByPortalChat(accountId, 'chat42')).toBeUndefined()
    expect((await repos.chats.getByPortalChat(accountId, 'chat43'))!.id).toBe(chat.id)
  })

  test('touch never moves last_message_at backwards', async () => {
    const chat = (await repos.chats.getByRemote(accountId, '500'))!
    const later = new Date('2026-03-03T10:00:00Z')
    await repos.chats.touch(chat.id, later)
    await repos.chats.touch(chat.id, new Date('2026-03-01T10:00:00Z'))
    expect((await repos.chats.get(chat.id)).lastMessageAt).toEqual(later)
  })

  test('R6: deleteStaleBefore deletes unbound mappings stale past the period', async () => {
    const loose = await repos.chats.upsert({ accountId, remoteChatId: '501' })
    await repos.chats.setStale(loose.id, new Date(Date.now() - 8 * 86_400_000))
    expect(await repos.chats.deleteStaleBefore(new Date(Date.now() - 7 * 86_400_000))).toBe(1)
    expect((await repos.chats.listByAccount(accountId)).map((c) => c.remoteChatId)).toEqual(['500'])
  })

  test('delete and unknown ids', async () => {
    const chat = (await repos.chats.getByRemote(accountId, '500'))!
    expect(await repos.chats.delete(chat.id)).toBe(true)
    expect(await repos.chats.delete(chat.id)).toBe(false)
    await expect(repos.chats.get(chat.id)).rejects.toBeInstanceOf(ChatNotFoundError)
    await expect(repos.chats.touch(chat.id, new Date())).rejects.toBeInstanceOf(ChatNotFoundError)
  })
})
