/**
 * `messages.claimEcho`: an operator event is paired with at most one owner's own message, each owner's
 * message with at most one echo — also when two echoes are claimed at the same moment.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Repositories } from '../../storage/repos/index.ts'
import { testBackendSet } from '../support/backends.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { repositories, seedAccount, seedChat } from './fixtures.ts'

let db: TestDatabase
let repos: Repositories
let accountId: string
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  accountId = (await seedAccount(repos)).id
})
afterAll(() => db.drop())

const SINCE = new Date(Date.now() - 60_000)

/** A chat with the owner's messages `ids` (sent as employee 27), oldest first. */
async function chatWithOwnerMessages(ids: string[]) {
  const chat = await seedChat(repos, accountId)
  for (const [i, originId] of ids.entries()) {
    await repos.messages.recordInbound({
      accountId,
      chatId: chat.id,
      originId,
      sentAt: new Date(Date.now() - 10_000 + i),
      employeeId: '27',
    })
  }
  return chat.id
}

describe('MessageRepository.claimEcho', () => {
  test('oldest first; the same echo again finds the same row; another employee finds none', async () => {
    const chatId = await chatWithOwnerMessages(['a1', 'a2'])
    const claim = (echoId: string, employeeId = '27') =>
      repos.messages.claimEcho({ chatId, employeeId, echoId, deliveredSince: SINCE })
    expect((await claim('e1'))?.originId).toBe('a1')
    expect((await claim('e1'))?.originId).toBe('a1')
    expect(await claim('e9', '31')).toBeUndefined()
    expect((await claim('e2'))?.originId).toBe('a2')
    expect(await claim('e3')).toBeUndefined()
    // A customer's message is never an echo's pair.
    await repos.messages.recordInbound({ accountId, chatId, originId: 'c1', sentAt: new Date() })
    expect(await claim('e4')).toBeUndefined()
  })

  test.skipIf(testBackendSet() === 'embedded')(
    'two echoes claimed at once take two different rows; a row held by another transaction is waited for',
    async () => {
      const chatId = await chatWithOwnerMessages(['b1', 'b2'])
      const claims = await Promise.all(
        ['f1', 'f2'].map((echoId) =>
          db.sql.begin((tx) =>
            repos.messages.claimEcho({ chatId, employeeId: '27', echoId, deliveredSince: SINCE }, tx),
          ),
        ),
      )
      expect(claims.map((row) => row?.originId).sort()).toEqual(['b1', 'b2'])
      // The portal sender holds the row while it records the delivery: the echo waits for it, it does not
      // pass it over for a later one (or miss it).
      const held = await chatWithOwnerMessages(['c1', 'c2'])
      let claim: Promise<unknown> = Promise.resolve()
      await db.sql.begin(async (tx) => {
        await tx`update messages set delivered_at = now() where chat_id = ${held} and origin_id = 'c1'`
        claim = repos.messages.claimEcho({
          chatId: held,
          employeeId: '27',
          echoId: 'g1',
          deliveredSince: SINCE,
        })
        await Bun.sleep(200)
      })
      expect(((await claim) as { originId: string } | undefined)?.originId).toBe('c1')
    },
  )
})
