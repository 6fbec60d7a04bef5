/**
 * A MAX send the core marks in doubt (tried before by a process that died before recording it): MAX keeps no
 * client-side ids, so the client looks for the message among the chat's recent ones and posts only if it is
 * not there. Verdicts from the MAX emulator's own records and duplicate counter.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { MessengerClient } from '../../src/bridge/client.ts'
import { toAccountId, toClientMessageId, toLoginFlowId, toRemoteChatId } from '../../src/bridge/ids.ts'
import { MemorySessionStore } from './contract.ts'
import { type MaxHarness, maxHarness } from './max-harness.ts'

let h: MaxHarness
const clients: MessengerClient[] = []
beforeAll(async () => {
  h = await maxHarness()
})
afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect()))
  await h.close()
})

async function botWithCustomer() {
  const bot = h.emulator.createBot({ name: 'Shop' })
  const user = h.emulator.createUser({ name: 'Anna Smirnova' })
  const { chatId } = await h.emulator.userStartsBot(bot.token, user.userId)
  const session = new MemorySessionStore()
  const login = h.connector.createLogin(toLoginFlowId('token'), {
    accountId: toAccountId(crypto.randomUUID()),
    session,
    signal: new AbortController().signal,
  })
  await login.start()
  const done = await login.submit({ token: bot.token })
  if (done.type !== 'complete') throw new Error('login did not complete')
  /** A fresh client, as a restarted process builds it: it remembers no earlier send. */
  const fresh = () => {
    const client = h.connector.loadAccount({
      id: toAccountId(crypto.randomUUID()),
      remoteId: done.account.remoteId,
      credentials: done.account.credentials ?? null,
      session,
    })
    clients.push(client)
    return client
  }
  return { bot, chatId, fresh }
}

describe('MAX: in-doubt resends', () => {
  test('a resend in doubt finds the message the dead process posted and does not post it again', async () => {
    const { bot, chatId, fresh } = await botWithCustomer()
    const since = new Date()
    const message = { chatId: toRemoteChatId(String(chatId)), clientMessageId: toClientMessageId('op-1') }
    const first = await fresh().send({ ...message, text: 'Your order ships today' })
    // The process died before recording the send; the next one tries again, marked in doubt.
    const again = await fresh().send({
      ...message,
      text: 'Your order ships today',
      inDoubt: { since, knownMessageIds: [] },
    })
    expect(again.messageIds).toEqual(first.messageIds)
    expect(h.emulator.botMessages(bot.token, chatId).map((m) => m.text)).toEqual(['Your order ships today'])
    expect(h.emulator.stats().duplicate_messages ?? 0).toBe(0)
  })

  test('a message the core already recorded is never taken for the one in doubt: the resend posts', async () => {
    const { bot, chatId, fresh } = await botWithCustomer()
    const since = new Date()
    const chat = toRemoteChatId(String(chatId))
    // The operator wrote "OK" twice; the first was recorded, the second never reached MAX.
    const recorded = await fresh().send({
      chatId: chat,
      clientMessageId: toClientMessageId('ok-1'),
      text: 'OK',
    })
    const second = await fresh().send({
      chatId: chat,
      clientMessageId: toClientMessageId('ok-2'),
      text: 'OK',
      inDoubt: { since, knownMessageIds: recorded.messageIds },
    })
    expect(second.messageIds).not.toEqual(recorded.messageIds)
    expect(h.emulator.botMessages(bot.token, chatId).map((m) => m.text)).toEqual(['OK', 'OK'])
  })
})
