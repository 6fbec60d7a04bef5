import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { createHarness, enqueue, type Harness, messagePayload, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 2 })
})
afterAll(() => h.close())
beforeEach(() => h.reset())

test("rows of one kind share a call unless a chat's order forbids it; shaped as documented", async () => {
  const [a, b] = h.chats as [(typeof h.chats)[0], (typeof h.chats)[0]]
  const chat = { id: a.remoteChatId }
  const user = { id: a.remoteChatId }
  await enqueue(h, [
    row(h, a, 'message', messagePayload(a, { id: 'k1' })),
    row(h, b, 'message', messagePayload(b, { id: 'k2' })),
    row(h, a, 'edit', { chat, user, message: { id: 'k1', text: 'edited' } }),
    row(h, a, 'edit', { chat, user, message: { id: 'k0', text: 'older' } }),
    row(h, a, 'delete', { chat, user, message: { id: 'k1' } }),
    row(h, a, 'status', {
      im: { chatId: 1767, messageId: 86497 },
      messageIds: ['tg-5550'],
      chat,
      date: 1773265999,
    }),
    row(h, null, 'read', { chat, messageIds: ['tg-5550'], im: { chatId: '1767', messageId: '86497' } }),
    row(h, b, 'message', messagePayload(b, { id: 'k3' })),
  ])
  const result = await h.sender().drainAccount(h.accountId)
  expect(result).toMatchObject({ status: 'idle', calls: 5, delivered: 8 })
  const calls = h.portal.calls
  // k3 of chat b joins the first call: nothing of chat b stands between k2 and k3. Chat a's edits and delete
  // follow its message in later calls.
  expect(calls.map((call) => [call.method, call.items.length])).toEqual([
    ['imconnector.send.messages', 3],
    ['imconnector.update.messages', 2],
    ['imconnector.delete.messages', 1],
    ['imconnector.send.status.delivery', 1],
    ['imconnector.send.status.reading', 1],
  ])
  for (const call of calls) expect(call.params).toMatchObject({ CONNECTOR: 'olchat_telegram', LINE: 12 })
  expect(calls[0]!.params.MESSAGES).toEqual([
    {
      user: { id: a.remoteChatId, name: 'Ivan', last_name: 'Petrov' },
      message: { id: 'k1', date: 1_773_265_993, text: 'text of k1' },
      chat: { id: a.remoteChatId, name: 'Ivan' },
    },
    {
      user: { id: b.remoteChatId, name: 'Ivan', last_name: 'Petrov' },
      message: { id: 'k2', date: 1_773_265_993, text: 'text of k2' },
      chat: { id: b.remoteChatId, name: 'Ivan' },
    },
    {
      user: { id: b.remoteChatId, name: 'Ivan', last_name: 'Petrov' },
      message: { id: 'k3', date: 1_773_265_993, text: 'text of k3' },
      chat: { id: b.remoteChatId, name: 'Ivan' },
    },
  ])
  expect(calls[1]!.params.MESSAGES).toEqual([
    { user, message: { id: 'k1', text: 'edited' }, chat },
    { user, message: { id: 'k0', text: 'older' }, chat },
  ])
  expect(calls[2]!.params.MESSAGES).toEqual([{ user, message: { id: 'k1' }, chat }])
  // §5.11: im ids are the portal's, message.id the array of messenger ids.
  expect(calls[3]!.params.MESSAGES).toEqual([
    { im: { chat_id: '1767', message_id: '86497' }, message: { id: ['tg-5550'], date: 1773265999 }, chat },
  ])
  expect(calls[4]!.params.MESSAGES).toEqual([
    { im: { chat_id: '1767', message_id: '86497' }, message: { id: ['tg-5550'] }, chat },
  ])
  // Only send.messages is not repeatable; it also waits past the portal's 60 s cut.
  expect(calls.map((call) => call.options?.idempotent)).toEqual([false, true, true, true, true])
  expect(calls[0]!.options?.timeoutMs).toBe(65_000)
  // session.CHAT_ID became each chat's Open Lines id.
  expect((await h.repos.chats.get(a.id)).portalChatId).toBeString()
  expect(await h.repos.deliveries.countByStatus()).toMatchObject({ done: 8, pending: 0, in_flight: 0 })
})

test('a 200 answer with SUCCESS:false (older portals) is read as a refused call', async () => {
  const [a] = h.chats
  const old = h.portal.call.bind(h.portal)
  h.portal.call = (async (...args: Parameters<typeof old>) => {
    await old(...args)
    return { SUCCESS: false, ERRORS: ['NOT_ACTIVE_LINE: The line with this ID is inactive'] }
  }) as typeof h.portal.call
  try {
    const [queued] = await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
    await h.sender().drainAccount(h.accountId)
    const after = await h.repos.deliveries.get(queued!.id)
    expect(after).toMatchObject({ status: 'pending', attempts: 1 })
    expect(after.lastError).toContain('NOT_ACTIVE_LINE')
  } finally {
    h.portal.call = old
  }
})
