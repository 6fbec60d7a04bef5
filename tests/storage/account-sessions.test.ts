import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
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

const authKey = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

describe('AccountSessionRepository', () => {
  test('set and get binary and text values', async () => {
    await repos.accountSessions.set(accountId, 'auth_key', authKey)
    await repos.accountSessions.set(accountId, 'dc', '{"id":2}')
    expect(await repos.accountSessions.get(accountId, 'auth_key')).toEqual(authKey)
    expect(await repos.accountSessions.getText(accountId, 'dc')).toBe('{"id":2}')
    expect(await repos.accountSessions.get(accountId, 'missing')).toBeUndefined()
    expect(await repos.accountSessions.get(otherId, 'auth_key')).toBeUndefined()
  })

  test('set overwrites and moves updated_at', async () => {
    const [before] = await repos.accountSessions.list(accountId)
    await Bun.sleep(5)
    await repos.accountSessions.set(accountId, 'auth_key', 'replaced')
    expect(await repos.accountSessions.getText(accountId, 'auth_key')).toBe('replaced')
    const entries = await repos.accountSessions.list(accountId)
    expect(entries.map((e) => e.key)).toEqual(['auth_key', 'dc'])
    expect(entries[0]!.updatedAt.getTime()).toBeGreaterThan(before!.updatedAt.getTime())
    expect(entries[1]!.value.toString()).toBe('{"id":2}')
  })

  test('S4: session values are sealed in the table', async () => {
    await repos.accountSessions.set(otherId, 'session', 'telegram-session-string-abcdef')
    const raw = await rawText(db.sql, 'account_sessions')
    expect(raw).not.toContain('telegram-session-string-abcdef')
    expect(raw).not.toContain(Buffer.from('telegram-session-string-abcdef').toString('hex'))
    expect(raw).not.toContain(authKey.subarray(0, 32).toString('hex'))
  })

  test('delete one key', async () => {
    expect(await repos.accountSessions.delete(accountId, 'dc')).toBe(true)
    expect(await repos.accountSessions.delete(accountId, 'dc')).toBe(false)
    expect((await repos.accountSessions.list(accountId)).map((e) => e.key)).toEqual(['auth_key'])
  })

  test('R1: deleteAll drops the whole session of one account only', async () => {
    await repos.accountSessions.set(accountId, 'state', 'x')
    expect(await repos.accountSessions.deleteAll(accountId)).toBe(2)
    expect(await repos.accountSessions.list(accountId)).toEqual([])
    expect(await repos.accountSessions.list(otherId)).toHaveLength(1)
  })
})
