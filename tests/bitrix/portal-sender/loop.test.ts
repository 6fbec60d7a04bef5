import { afterAll, beforeAll, beforeEach, expect, test } from 'bun:test'
import { createHarness, enqueue, type Harness, messagePayload, row } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness({ chats: 2 })
})
afterAll(() => h.close())
beforeEach(() => h.reset())

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await Bun.sleep(10)
  }
}

const done = async () => (await h.repos.deliveries.countByStatus()).done

test('the loop wakes on notify long before its poll interval, and runOnce covers every account', async () => {
  const [a] = h.chats
  const sender = h.sender({ pollIntervalMs: 60_000 })
  sender.start()
  try {
    await Bun.sleep(50) // the first turn found nothing and sleeps for a minute
    await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
    sender.notify(h.accountId)
    await until(async () => (await done()) === 1, 2_000)
  } finally {
    await sender.stop()
  }
  await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
  expect(await h.sender().runOnce()).toBe(false)
  expect(await done()).toBe(2)
})

test('the loop also finds work by polling, without notify', async () => {
  const [a] = h.chats
  const sender = h.sender({ pollIntervalMs: 20 })
  sender.start()
  try {
    await Bun.sleep(30)
    await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
    await until(async () => (await done()) === 1, 2_000)
  } finally {
    await sender.stop()
  }
})

test('stop waits for the call in flight and settles it; the rest of the claim goes back', async () => {
  const [a, b] = h.chats
  h.portal.delayMs = 300
  await enqueue(h, [
    row(h, a!, 'message', messagePayload(a!)),
    row(h, a!, 'edit', { chat: { id: a!.remoteChatId }, user: { id: 1 }, message: { id: 'x', text: 'y' } }),
    row(h, b!, 'message', messagePayload(b!)),
  ])
  const sender = h.sender()
  sender.start()
  await until(async () => h.portal.calls.length === 1)
  const stopped = Date.now()
  await sender.stop()
  expect(Date.now() - stopped).toBeGreaterThanOrEqual(150)
  // The call in flight (both messages) finished and was settled; the edit was not sent and went back.
  expect(h.portal.calls).toHaveLength(1)
  expect(await h.repos.deliveries.countByStatus()).toEqual({ pending: 1, in_flight: 0, done: 2, dead: 0 })
  const [{ attempts } = { attempts: -1 }] = await h.db.sql<{ attempts: number }[]>`
    select coalesce(sum(attempts), 0)::int as attempts from deliveries`
  expect(attempts).toBe(0)
})

test('rows of a portal in trouble do not spin the loop: one call per pause', async () => {
  const [a] = h.chats
  h.portal.needsReauth = true
  await enqueue(h, [row(h, a!, 'message', messagePayload(a!))])
  const sender = h.sender({ pollIntervalMs: 5, portalPauseMs: 60_000 })
  sender.start()
  await Bun.sleep(200)
  await sender.stop()
  expect(h.portal.calls).toHaveLength(1)
  expect(h.logs.filter((l) => l.msg === 'portal sender: portal paused')).toHaveLength(1)
})
