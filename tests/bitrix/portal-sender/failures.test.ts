import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { BitrixError } from '../../../src/bitrix/api.ts'
import { createHarness, enqueue, type Harness, makeDue, messagePayload, metricValue, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 2 })
})
afterAll(() => h.close())
beforeEach(() => h.reset())

const sentIds = () => h.portal.calls.map((call) => call.items.map((item) => String(item.message?.id)))
const get = (id: string) => h.repos.deliveries.get(id)

describe('PortalSender: per-item failures', () => {
  test('a failed item retries alone; later rows of its chat wait behind it, other chats go on', async () => {
    const [a, b] = h.chats as [(typeof h.chats)[0], (typeof h.chats)[0]]
    let failA1 = true
    h.portal.failItem = (item) => {
      if (failA1 && item.message?.id === 'a1') {
        failA1 = false
        return ['IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA']
      }
      return undefined
    }
    const [a1, b1, a2edit] = await enqueue(h, [
      row(h, a, 'message', messagePayload(a, { id: 'a1' })),
      row(h, b, 'message', messagePayload(b, { id: 'b1' })),
      row(h, a, 'edit', {
        chat: { id: a.remoteChatId },
        user: { id: a.remoteChatId },
        message: { id: 'a0', text: 'x' },
      }),
    ])
    const sender = h.sender()
    const first = await sender.drainAccount(h.accountId)
    expect(first).toMatchObject({ delivered: 1, failed: 1, released: 1 })
    // The edit of chat A (a later call of the same round) was not sent: it is held behind a1.
    expect(h.portal.calls.map((c) => c.method)).toEqual(['imconnector.send.messages'])
    expect(await get(a1!.id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      lastError: 'imconnector.send.messages: IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA',
    })
    expect((await get(a1!.id)).availableAt.getTime()).toBeGreaterThan(Date.now() + 30_000)
    expect(await get(b1!.id)).toMatchObject({ status: 'done', payload: null })
    expect(await get(a2edit!.id)).toMatchObject({ status: 'pending', attempts: 0 })

    // While a1 backs off, new rows of chat A wait; chat B's go.
    const [a3, b2] = await enqueue(h, [
      row(h, a, 'message', messagePayload(a, { id: 'a3' })),
      row(h, b, 'message', messagePayload(b, { id: 'b2' })),
    ])
    await sender.drainAccount(h.accountId)
    expect(sentIds().at(-1)).toEqual(['b2'])
    expect(await get(a3!.id)).toMatchObject({ status: 'pending', attempts: 0 })

    // Once due, a1 goes first and alone among chat A's messages: only the failed item is retried.
    await makeDue(h)
    const last = await sender.drainAccount(h.accountId)
    expect(last).toMatchObject({ status: 'idle', failed: 0 })
    expect(h.portal.calls.slice(2).map((c) => [c.method, c.items.map((i) => String(i.message?.id))])).toEqual(
      [
        ['imconnector.send.messages', ['a1']],
        ['imconnector.update.messages', ['a0']],
        ['imconnector.send.messages', ['a3']],
      ],
    )
    // The portal's Open Lines chat holds chat A's messages once, in order.
    expect(h.portal.messagesOf(a.remoteChatId)).toEqual(['a1', 'a3'])
    expect(await get(b2!.id)).toMatchObject({ status: 'done' })
  })

  test('an item that keeps failing is dead-lettered after maxAttempts, its body kept for a retry', async () => {
    const [a] = h.chats
    h.portal.failItem = () => ['IMCONNECTOR_NOT_ALL_THE_REQUIRED_DATA']
    const [only] = await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
    const sender = h.sender()
    for (let i = 0; i < 5; i++) {
      await sender.drainAccount(h.accountId)
      await makeDue(h)
    }
    expect(await get(only!.id)).toMatchObject({ status: 'dead', attempts: 5, payload: only!.payload })
    expect(h.portal.calls).toHaveLength(5)
    expect(h.logs.some((l) => l.msg === 'portal sender: dead-lettered')).toBe(true)
  })
})

describe('PortalSender: whole-call failures', () => {
  test('NOT_ACTIVE_LINE: rows fail with the long retry, the rest waits untried, logged once', async () => {
    const [a, b] = h.chats
    h.portal.deactivate('olchat_telegram', 12)
    const rows = await enqueue(h, [
      row(h, a!, 'message', messagePayload(a!)),
      row(h, b!, 'message', messagePayload(b!)),
      row(h, a!, 'delete', {
        chat: { id: a!.remoteChatId },
        user: { id: a!.remoteChatId },
        message: { id: 'z' },
      }),
    ])
    const sender = h.sender({ inactiveLineRetryMs: 900_000 })
    await sender.drainAccount(h.accountId)
    expect(h.portal.calls).toHaveLength(1)
    for (const sent of rows.slice(0, 2)) {
      const after = await get(sent.id)
      expect(after).toMatchObject({ status: 'pending', attempts: 1 })
      expect(after.lastError).toContain('NOT_ACTIVE_LINE')
      expect(after.availableAt.getTime()).toBeGreaterThan(Date.now() + 800_000)
    }
    const untried = await get(rows[2]!.id)
    expect(untried).toMatchObject({ status: 'pending', attempts: 0 })
    expect(untried.availableAt.getTime()).toBeGreaterThan(Date.now() + 800_000)

    await makeDue(h)
    await sender.drainAccount(h.accountId)
    expect(h.portal.calls).toHaveLength(2)
    const warnings = h.logs.filter((l) => l.msg.includes('the line is not active'))
    expect(warnings).toHaveLength(1)

    // The admin reconnects: everything goes, in order, and the recovery is logged.
    h.portal.activate('olchat_telegram', 12)
    await makeDue(h)
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'idle', delivered: 3 })
    expect(h.logs.some((l) => l.msg === 'portal sender: the line is active again')).toBe(true)
  })

  test('needs re-authorisation: rows go back untouched, the portal is paused, nothing dropped', async () => {
    const [a] = h.chats
    h.portal.needsReauth = true
    const rows = await enqueue(h, [
      row(h, a!, 'message', messagePayload(a!)),
      row(h, a!, 'message', messagePayload(a!)),
    ])
    const sender = h.sender()
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'paused', released: 2 })
    for (const queued of rows) {
      const after = await get(queued.id)
      expect(after).toMatchObject({ status: 'pending', attempts: 0, availableAt: queued.availableAt })
      expect(after.payload).toEqual(queued.payload)
    }
    // Paused: no call at all until the pause ends or the portal is resumed.
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'paused', calls: 0 })
    expect(h.portal.calls).toHaveLength(1)
    h.portal.needsReauth = false
    sender.resumePortal(h.portalId)
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'idle', delivered: 2 })
  })

  test('a call refused before it ran (503 QUERY_LIMIT_EXCEEDED): released without an attempt', async () => {
    const [a] = h.chats
    h.portal.failBefore = () =>
      new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, 'imconnector.send.messages')
    const [queued] = await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
    expect(await h.sender().drainAccount(h.accountId)).toMatchObject({ status: 'paused', released: 1 })
    expect(await get(queued!.id)).toMatchObject({ status: 'pending', attempts: 0 })
  })

  test('in doubt: a lost send.messages answer is resent once due, same ids, and counted', async () => {
    const [a, b] = h.chats
    let lose = true
    h.portal.failAfter = () => {
      if (!lose) return undefined
      lose = false
      return Object.assign(new Error('The operation timed out.'), { name: 'TimeoutError' })
    }
    const before = await metricValue(h, 'olchat_portal_in_doubt_items_total')
    const rows = await enqueue(h, [
      row(h, a!, 'message', messagePayload(a!, { id: 'd1' })),
      row(h, b!, 'message', messagePayload(b!, { id: 'd2' })),
    ])
    const sender = h.sender()
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'paused', failed: 2 })
    for (const queued of rows) {
      const after = await get(queued.id)
      expect(after).toMatchObject({ status: 'pending', attempts: 1 })
      expect(after.lastError).toStartWith('in doubt: imconnector.send.messages: TimeoutError')
    }
    expect(await metricValue(h, 'olchat_portal_in_doubt_items_total')).toBe(before + 2)
    await makeDue(h)
    sender.resumePortal(h.portalId)
    expect(await sender.drainAccount(h.accountId)).toMatchObject({ status: 'idle', delivered: 2 })
    // The documented trade-off: the portal ran the first call too, so it shows each message twice.
    expect(h.portal.messagesOf(a!.remoteChatId)).toEqual(['d1', 'd1'])
    expect(sentIds()).toEqual([
      ['d1', 'd2'],
      ['d1', 'd2'],
    ])
  })

  test('in doubt on a repeatable call (update.messages): released without an attempt', async () => {
    const [a] = h.chats
    h.portal.failAfter = (method) =>
      method === 'imconnector.update.messages' ? new Error('socket hang up') : undefined
    const [edit] = await enqueue(h, [
      row(h, a!, 'edit', {
        chat: { id: a!.remoteChatId },
        user: { id: 1 },
        message: { id: 'e1', text: 'new' },
      }),
    ])
    expect(await h.sender().drainAccount(h.accountId)).toMatchObject({ status: 'paused', released: 1 })
    expect(await get(edit!.id)).toMatchObject({ status: 'pending', attempts: 0 })
  })

  test('a rejected call (400 ERROR_ARGUMENT) fails its rows with backoff; later calls still go', async () => {
    const [a, b] = h.chats
    h.portal.failBefore = (method) =>
      method === 'imconnector.delete.messages'
        ? new BitrixError('ERROR_ARGUMENT', 'The incorrect structure', 400, method)
        : undefined
    const [del, msg] = await enqueue(h, [
      row(h, a!, 'delete', { chat: { id: a!.remoteChatId }, user: { id: 1 }, message: { id: 'x' } }),
      row(h, b!, 'message', messagePayload(b!)),
    ])
    expect(await h.sender().drainAccount(h.accountId)).toMatchObject({ failed: 1, delivered: 1 })
    expect(await get(del!.id)).toMatchObject({ status: 'pending', attempts: 1 })
    expect((await get(del!.id)).lastError).toContain('ERROR_ARGUMENT (HTTP 400)')
    expect(await get(msg!.id)).toMatchObject({ status: 'done' })
  })
})

describe('PortalSender: rows that are never sent', () => {
  test('an account without a line binding leaves its rows pending, attempts untouched', async () => {
    const [a] = h.chats
    const account = await h.repos.accounts.get(h.accountId)
    await h.repos.accounts.bindLine(h.accountId, null)
    try {
      const [queued] = await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
      expect(await h.sender().drainAccount(h.accountId)).toMatchObject({ status: 'unbound', calls: 0 })
      expect(await get(queued!.id)).toMatchObject({ status: 'pending', attempts: 0, lockedUntil: null })
      expect(h.portal.calls).toHaveLength(0)
    } finally {
      await h.repos.accounts.bindLine(h.accountId, account.lineId)
    }
  })

  test('an invalid payload is dead-lettered with a clear reason, without content, never sent', async () => {
    const [a] = h.chats
    const [bad, noContent, good] = await enqueue(h, [
      row(h, a!, 'message', {
        chat: { id: a!.remoteChatId },
        user: {},
        message: { id: 'q', date: 'secret 123' },
      }),
      row(h, a!, 'message', messagePayload(a!, { text: '   ' })),
      row(h, a!, 'message', messagePayload(a!, { id: 'fine' })),
    ])
    expect(await h.sender().drainAccount(h.accountId)).toMatchObject({ invalid: 2, delivered: 1 })
    const dead = await get(bad!.id)
    expect(dead).toMatchObject({ status: 'dead', payload: null })
    expect(dead.lastError).toContain('invalid message payload')
    expect(dead.lastError).toContain('user.id')
    expect(dead.lastError).toContain('message.date')
    expect(dead.lastError).not.toContain('secret')
    expect((await get(noContent!.id)).lastError).toContain('a message needs text or files')
    expect(await get(good!.id)).toMatchObject({ status: 'done' })
    expect(sentIds()).toEqual([['fine']])
  })
})
