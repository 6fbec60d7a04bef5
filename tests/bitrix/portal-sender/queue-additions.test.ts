/**
 * The two DeliveryRepository methods added for the portal sender: `release` (back to pending, no attempt
 * counted) and `listDueAccounts`.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { seedAccount, seedChat } from '../../storage/fixtures.ts'
import { createHarness, enqueue, type Harness, messagePayload, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 1 })
})
afterAll(() => h.close())
beforeEach(() => h.reset())

test('release: claimed rows back untouched, maybe delayed, holding later rows of their chat', async () => {
  const [a] = h.chats
  const [first, second] = await enqueue(h, [
    row(h, a!, 'message', messagePayload(a!)),
    row(h, a!, 'message', messagePayload(a!)),
  ])
  const claimed = await h.repos.deliveries.claim({ accountId: h.accountId }, 1)
  expect(claimed.map((d) => d.id)).toEqual([first!.id])
  const later = new Date(Date.now() + 60_000)
  expect(
    await h.repos.deliveries.release([first!.id, second!.id], { availableAt: later, error: 'paused' }),
  ).toBe(1)
  const released = await h.repos.deliveries.get(first!.id)
  expect(released).toMatchObject({ status: 'pending', attempts: 0, lockedUntil: null, lastError: 'paused' })
  expect(released.availableAt).toEqual(later)
  expect(released.payload).toEqual(first!.payload)
  // The second row was never claimed: untouched, and held behind the delayed first one.
  expect(await h.repos.deliveries.get(second!.id)).toMatchObject({ availableAt: second!.availableAt })
  expect(await h.repos.deliveries.claim({ accountId: h.accountId })).toEqual([])
  expect(await h.repos.deliveries.release([])).toBe(0)
})

test('listDueAccounts: accounts with due rows in one direction, oldest work first', async () => {
  const other = await seedAccount(h.repos, h.portalId)
  const otherChat = await seedChat(h.repos, other.id)
  const [a] = h.chats
  await enqueue(h, [
    row(h, null, 'read', {}, { accountId: other.id, chatId: otherChat.id }),
    row(h, a!, 'message', {}),
    row(h, a!, 'message', {}, { direction: 'to_messenger' }),
    row(h, null, 'status', {}, { accountId: other.id, availableAt: new Date(Date.now() + 60_000) }),
  ])
  expect(await h.repos.deliveries.listDueAccounts('to_portal')).toEqual([other.id, h.accountId])
  expect(await h.repos.deliveries.listDueAccounts('to_portal', 1)).toEqual([other.id])
  expect(await h.repos.deliveries.listDueAccounts('to_messenger')).toEqual([h.accountId])
  await h.repos.accounts.delete(other.id)
})
