import { afterAll, beforeAll, expect, test } from 'bun:test'
import { defaultPortalSenderOptions } from '../../../src/bitrix/portal-sender/options.ts'
import { rawText } from '../../storage/fixtures.ts'
import { createHarness, enqueue, type Harness, messagePayload, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 20 })
})
afterAll(() => h.close())

test('1,000 messages over 20 chats: ceil(1000/batchSize) calls, per-chat order, bodies dropped', async () => {
  const { batchSize } = defaultPortalSenderOptions
  const expected = new Map<string, string[]>()
  const inputs = []
  for (let i = 0; i < 1000; i++) {
    const chat = h.chats[i % 20]!
    const payload = messagePayload(chat, { id: `burst-${i}`, text: `secret burst text ${i}` })
    const id = String(payload.message.id)
    expected.set(chat.remoteChatId, [...(expected.get(chat.remoteChatId) ?? []), id])
    inputs.push(row(h, chat, 'message', payload))
  }
  await enqueue(h, inputs)
  // The relay core records the metadata at ingest; the sender marks it delivered.
  for (const [i, input] of inputs.entries()) {
    await h.repos.messages.recordInbound({
      accountId: h.accountId,
      chatId: input.chatId!,
      originId: `burst-${i}`,
      sentAt: new Date(1_773_265_993_000),
    })
  }

  const sender = h.sender({ maxRoundsPerTurn: 1000 })
  const result = await sender.drainAccount(h.accountId)
  expect(result).toMatchObject({ status: 'idle', delivered: 1000, failed: 0, released: 0, invalid: 0 })

  const calls = h.portal.calls
  expect(calls).toHaveLength(Math.ceil(1000 / batchSize))
  for (const call of calls) {
    expect(call.method).toBe('imconnector.send.messages')
    expect(call.params).toMatchObject({ CONNECTOR: 'olchat_telegram', LINE: 12 })
    expect(call.items.length).toBeLessThanOrEqual(batchSize)
    expect(call.options).toMatchObject({ idempotent: false })
  }
  expect(h.portal.sentByChat()).toEqual(expected)
  // The portal's own chats hold every message once, in order.
  for (const chat of h.portal.chats.values()) {
    const externalId = [...expected.keys()].find((id) => expected.get(id)![0] === chat.messages[0]!.id)!
    expect(chat.messages.map((m) => m.id)).toEqual(expected.get(externalId)!)
  }

  expect(await h.repos.deliveries.countByStatus()).toEqual({ pending: 0, in_flight: 0, done: 1000, dead: 0 })
  const [{ bodies } = { bodies: -1 }] = await h.db.sql<{ bodies: number }[]>`
    select count(*)::int as bodies from deliveries where payload_enc is not null`
  expect(bodies).toBe(0)
  expect(await rawText(h.db.sql, 'deliveries')).not.toContain('secret burst text')
  const [{ delivered } = { delivered: -1 }] = await h.db.sql<{ delivered: number }[]>`
    select count(*)::int as delivered from messages where status = 'delivered' and delivered_at is not null`
  expect(delivered).toBe(1000)
  // session.CHAT_ID of each chat's answers became the chat's Open Lines id.
  for (const chat of await h.repos.chats.listByAccount(h.accountId)) {
    const portalChat = [...h.portal.chats.values()].find(
      (c) => c.messages.length > 0 && chat.portalChatId === c.id,
    )
    expect(portalChat).toBeDefined()
  }
})
