/**
 * Contract of the mtcute storage provider over PostgreSQL (`src/connectors/telegram/storage.ts`), run on the
 * real server and on PGlite (`OLCHAT_TEST_BACKENDS=embedded`): each repository's semantics as mtcute's
 * interfaces state them, isolation between accounts, sealing (S4), and a session that survives a new client.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type ITelegramStorageProvider, MemoryStorage } from '@mtcute/core'
import { TelegramClient } from '@mtcute/core/client.js'
import { telegramStorage } from '../../../src/connectors/telegram/storage.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { rawText, repositories, seedAccount } from '../../storage/fixtures.ts'
import { stubPlatform } from '../../support/telegram-stub.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'

let db: TestDatabase
let repos: Repositories
let a: ITelegramStorageProvider
let b: ITelegramStorageProvider
let accountA: string
let accountB: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  accountA = (await seedAccount(repos)).id
  accountB = (await seedAccount(repos)).id
  a = telegramStorage(repos.telegramSessions, accountA)
  b = telegramStorage(repos.telegramSessions, accountB)
})
afterAll(() => db.drop())

const key = (seed: number) => Uint8Array.from({ length: 256 }, (_, i) => (i * 13 + seed) % 256)
const peer = (
  id: number,
  extra: Partial<Parameters<ITelegramStorageProvider['peers']['store']>[0]> = {},
) => ({
  id,
  accessHash: `${id}0042`,
  isMin: false,
  usernames: [] as string[],
  updated: 1_700_000_000,
  complete: Uint8Array.from([id % 256, 1, 2, 3]),
  ...extra,
})

describe('telegram storage: auth keys', () => {
  test('set, get, replace and delete a permanent key per DC', async () => {
    expect(await a.authKeys.get(2)).toBeNull()
    await a.authKeys.set(2, key(1))
    await a.authKeys.set(4, key(2))
    expect(await a.authKeys.get(2)).toEqual(key(1))
    await a.authKeys.set(2, key(3))
    expect(await a.authKeys.get(2)).toEqual(key(3))
    await a.authKeys.set(2, null)
    expect(await a.authKeys.get(2)).toBeNull()
    expect(await a.authKeys.get(4)).toEqual(key(2))
  })

  test('temporary keys are returned only before they expire', async () => {
    await a.authKeys.setTemp(2, 0, key(4), 1000)
    await a.authKeys.setTemp(2, 1, key(5), 2000)
    expect(await a.authKeys.getTemp(2, 0, 999)).toEqual(key(4))
    expect(await a.authKeys.getTemp(2, 0, 1001)).toBeNull()
    expect(await a.authKeys.getTemp(2, 1, 1001)).toEqual(key(5))
    await a.authKeys.setTemp(2, 1, null, 0)
    expect(await a.authKeys.getTemp(2, 1, 0)).toBeNull()
  })

  test('deleteByDc drops the permanent and temporary keys of that DC only', async () => {
    await a.authKeys.set(2, key(6))
    await a.authKeys.setTemp(2, 0, key(7), 5000)
    await a.authKeys.deleteByDc(2)
    expect(await a.authKeys.get(2)).toBeNull()
    expect(await a.authKeys.getTemp(2, 0, 0)).toBeNull()
    expect(await a.authKeys.get(4)).toEqual(key(2))
  })

  test('accounts are isolated; deleteAll clears one account only', async () => {
    await a.authKeys.set(1, key(8))
    await b.authKeys.set(1, key(9))
    expect(await b.authKeys.get(4)).toBeNull()
    expect(await b.authKeys.get(1)).toEqual(key(9))
    await b.authKeys.deleteAll()
    expect(await b.authKeys.get(1)).toBeNull()
    expect(await a.authKeys.get(1)).toEqual(key(8))
  })

  test('S4: keys are sealed in the table', async () => {
    const raw = await rawText(db.sql, 'telegram_auth_keys')
    expect(raw).not.toContain(Buffer.from(key(8)).subarray(0, 32).toString('hex'))
  })
})

describe('telegram storage: key-value', () => {
  test('set, get, overwrite, delete, isolation, deleteAll', async () => {
    const pts = new TextEncoder().encode('updates_pts=4242')
    await a.kv.set('updates_pts', pts)
    await b.kv.set('updates_pts', Uint8Array.of(1))
    expect(await a.kv.get('updates_pts')).toEqual(pts)
    await a.kv.set('updates_pts', Uint8Array.of(7))
    expect(await a.kv.get('updates_pts')).toEqual(Uint8Array.of(7))
    await a.kv.delete('updates_pts')
    expect(await a.kv.get('updates_pts')).toBeNull()
    expect(await b.kv.get('updates_pts')).toEqual(Uint8Array.of(1))
    await a.kv.set('x', Uint8Array.of(2))
    await b.kv.deleteAll()
    expect(await b.kv.get('updates_pts')).toBeNull()
    expect(await a.kv.get('x')).toEqual(Uint8Array.of(2))
  })
})

describe('telegram storage: peers', () => {
  test('store and get by id, username (case-insensitive) and phone', async () => {
    await a.peers.store(peer(777, { usernames: ['Alice_S'], phone: '79990001122' }))
    expect(await a.peers.getById(777)).toEqual(peer(777, { usernames: ['Alice_S'], phone: '79990001122' }))
    expect((await a.peers.getByUsername('alice_s'))?.id).toBe(777)
    expect((await a.peers.getByPhone('79990001122'))?.id).toBe(777)
    expect(await a.peers.getByUsername('nobody')).toBeNull()
    expect(await a.peers.getById(778)).toBeNull()
  })

  test('a new store replaces the old entry (old username and phone no longer match)', async () => {
    await a.peers.store(peer(777, { usernames: ['alice_new'], updated: 1_700_000_100 }))
    expect(await a.peers.getByUsername('alice_s')).toBeNull()
    expect(await a.peers.getByPhone('79990001122')).toBeNull()
    expect((await a.peers.getById(777))?.updated).toBe(1_700_000_100)
  })

  test('min peers come by id but never by username or phone', async () => {
    await a.peers.store(peer(555, { isMin: true, usernames: ['minny'], phone: '70000000555' }))
    expect((await a.peers.getById(555))?.isMin).toBe(true)
    expect(await a.peers.getByUsername('minny')).toBeNull()
    expect(await a.peers.getByPhone('70000000555')).toBeNull()
  })

  test('marked ids of chats and channels round-trip', async () => {
    await a.peers.store(peer(-1001234567890))
    expect((await a.peers.getById(-1001234567890))?.id).toBe(-1001234567890)
  })

  test('accounts are isolated; deleteAll clears one account only', async () => {
    await b.peers.store(peer(777, { usernames: ['bob'] }))
    expect((await a.peers.getById(777))?.usernames).toEqual(['alice_new'])
    expect(await a.peers.getByUsername('bob')).toBeNull()
    await b.peers.deleteAll()
    expect(await b.peers.getById(777)).toBeNull()
    expect(await a.peers.getById(777)).not.toBeNull()
  })

  test('S4: phones, usernames and access hashes are not in clear', async () => {
    await a.peers.store(peer(901, { usernames: ['secret_username'], phone: '79995554433' }))
    const raw = await rawText(db.sql, 'telegram_peers')
    for (const text of ['secret_username', '79995554433', '9010042']) expect(raw).not.toContain(text)
  })
})

describe('telegram storage: reference messages', () => {
  test('store, get, delete by chat and message, delete by peer, isolation', async () => {
    await a.refMessages.store(555, -100, 10)
    await a.refMessages.store(555, -100, 11)
    await b.refMessages.store(555, -200, 5)
    expect(await a.refMessages.getByPeer(555)).toEqual([-100, expect.any(Number)] as never)
    await a.refMessages.delete(-100, [10])
    expect(await a.refMessages.getByPeer(555)).toEqual([-100, 11])
    await a.refMessages.delete(-100, [11])
    expect(await a.refMessages.getByPeer(555)).toBeNull()
    expect(await b.refMessages.getByPeer(555)).toEqual([-200, 5])
    await a.refMessages.store(556, -100, 12)
    await a.refMessages.deleteByPeer(556)
    expect(await a.refMessages.getByPeer(556)).toBeNull()
    await b.refMessages.deleteAll()
    expect(await b.refMessages.getByPeer(555)).toBeNull()
  })
})

describe('telegram storage: accounts', () => {
  test('R1: deleting the account deletes its session rows (cascade); deleteAccount clears them too', async () => {
    const gone = await seedAccount(repos)
    const s = telegramStorage(repos.telegramSessions, gone.id)
    await s.authKeys.set(2, key(1))
    await s.kv.set('dc_main', Uint8Array.of(2))
    await s.peers.store(peer(1))
    await s.refMessages.store(1, -5, 1)
    await repos.telegramSessions.messageChats.remember(gone.id, 1, 1)
    expect(await repos.accounts.delete(gone.id)).toBe(true)
    const count = async (id: string) => {
      const [row] = await db.sql<{ n: number }[]>`
        select (select count(*) from telegram_auth_keys where account_id = ${id})
          + (select count(*) from telegram_kv where account_id = ${id})
          + (select count(*) from telegram_peers where account_id = ${id})
          + (select count(*) from telegram_message_refs where account_id = ${id})
          + (select count(*) from telegram_message_chats where account_id = ${id}) as n`
      return Number(row!.n)
    }
    expect(await count(gone.id)).toBe(0)

    const kept = await seedAccount(repos)
    const t = telegramStorage(repos.telegramSessions, kept.id)
    await t.authKeys.set(2, key(1))
    await t.peers.store(peer(1))
    await repos.telegramSessions.messageChats.remember(kept.id, 1, 1)
    expect(await repos.telegramSessions.deleteAccount(kept.id)).toBe(3)
    expect(await count(kept.id)).toBe(0)
    expect(await a.peers.getById(777)).not.toBeNull()
  })

  test('a session written by one client is resumed by a new client over the same rows', async () => {
    const account = await seedAccount(repos)
    // The string session of a logged-in account: a DC and a 256-byte auth key (writeStringSession's format,
    // produced here by a throwaway client over memory storage).
    const source = new TelegramClient({
      apiId: 1,
      apiHash: 'x',
      storage: new MemoryStorage(),
      ...stubPlatform(),
    })
    await source.importSession({
      primaryDcs: {
        main: { id: 2, ipAddress: '149.154.167.51', port: 443 },
        media: { id: 2, ipAddress: '149.154.167.51', port: 443 },
      },
      self: { userId: 4242, isBot: false, isPremium: false, usernames: [] },
      authKey: key(42),
    })
    const session = await source.exportSession()
    await source.destroy()

    const first = new TelegramClient({
      apiId: 1,
      apiHash: 'x',
      storage: telegramStorage(repos.telegramSessions, account.id),
      ...stubPlatform(),
    })
    await first.importSession(session)
    await first.destroy()
    const second = new TelegramClient({
      apiId: 1,
      apiHash: 'x',
      storage: telegramStorage(repos.telegramSessions, account.id),
      ...stubPlatform(),
    })
    expect(await second.exportSession()).toBe(session)
    expect((await second.storage.self.fetch())?.userId).toBe(4242)
    await second.destroy()
  })
})
