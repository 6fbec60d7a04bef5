import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { PortalInactiveError } from '../../../src/bitrix/api.ts'
import { backoffMs } from '../../../src/bitrix/app/inbox-worker.ts'
import { startInboxWorker } from '../../../src/bitrix/app/index.ts'
import * as samples from './samples.ts'
import { createHarness, type Harness, type InstalledPortal, install, post } from './support.ts'

let h: Harness
let p: InstalledPortal
let auth: samples.Auth
let accountId: string

beforeAll(async () => {
  h = await createHarness({ maxAttempts: 3 })
  p = await install(h)
  auth = { memberId: p.memberId, appToken: p.appToken }
  const line = await h.repos.lines.upsert({ portalId: p.id, connectorId: 'olchat_telegram', lineId: '12' })
  const account = await h.repos.accounts.create({ portalId: p.id, messenger: 'telegram', lineId: line.id })
  accountId = account.id
  await h.repos.chats.upsert({ accountId, remoteChatId: 'tg-chat-77' })
})
afterAll(() => h.close())

async function rows() {
  return h.sql<{ id: string; event: string; status: string; attempts: number; lastError: string | null }[]>`
    select id, event, status, attempts, last_error from inbound_events where portal_id = ${p.id} order by id`
}

/** Makes every pending row due now (the database clock decides; tests do not wait for backoff). */
async function makeDue() {
  await h.sql`update inbound_events set available_at = now() - interval '1 second' where status = 'pending'`
}

describe('inbox worker', () => {
  test('backoff doubles from one second and is capped at five minutes', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([1000, 2000, 4000, 8000])
    expect(backoffMs(30)).toBe(300_000)
  })

  test('a failing action is retried later, then given up, body dropped (bounded retries)', async () => {
    h.portal.failing.add('imconnector.register')
    try {
      expect((await post(h, '/bitrix/events', samples.appUpdate(auth))).status).toBe(200)
      expect(await h.process()).toBe(1)
      let [row] = await rows()
      expect(row).toMatchObject({ status: 'pending', attempts: 1 })
      expect(row!.lastError).toContain('INTERNAL_SERVER_ERROR')
      // Not due yet: backing off.
      expect(await h.process()).toBe(0)
      await makeDue()
      await h.process()
      await makeDue()
      await h.process()
      ;[row] = await rows()
      expect(row).toMatchObject({ status: 'failed', attempts: 3 })
      const [raw] = await h.sql<{ payloadEnc: Buffer | null }[]>`
        select payload_enc from inbound_events where id = ${row!.id}`
      expect(raw!.payloadEnc).toBeNull()
    } finally {
      h.portal.failing.delete('imconnector.register')
    }
  })

  test('an inactive portal fails at once (no retry can help)', async () => {
    const api = h.deps.api
    const refuse = async () => {
      throw new PortalInactiveError(p.id, 'needs_reauth')
    }
    h.deps.api = { call: refuse, batch: refuse }
    try {
      const body = samples.appUpdate(auth).replace('ts=1773760000', 'ts=1773760001')
      expect((await post(h, '/bitrix/events', body)).status).toBe(200)
      await h.process()
      expect((await rows()).at(-1)).toMatchObject({ status: 'failed', attempts: 1 })
    } finally {
      h.deps.api = api
    }
  })

  test("one chat's events keep their order: a later row waits while an earlier one backs off", async () => {
    const original = h.repos.deliveries.enqueueMany.bind(h.repos.deliveries)
    let failNext = true
    h.repos.deliveries.enqueueMany = (async (...args: Parameters<typeof original>) => {
      if (failNext) {
        failNext = false
        throw new Error('database hiccup')
      }
      return original(...args)
    }) as typeof original
    try {
      await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '70001' }))
      await post(h, '/bitrix/events', samples.messageUpdate(auth).replace('86501', '70001'))
      // Another chat is not held up.
      await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '70002', chat: 'tg-chat-88' }))
      await h.process()
      const byEvent = (await rows()).slice(-3)
      expect(byEvent.map((r) => r.status)).toEqual(['pending', 'pending', 'done'])
      expect(byEvent[1]!.attempts).toBe(0)
      // The update stays behind the message until the message went through.
      await h.process()
      expect((await rows()).slice(-3).map((r) => r.status)).toEqual(['pending', 'pending', 'done'])
      await makeDue()
      await h.process()
      expect((await rows()).slice(-3).map((r) => r.status)).toEqual(['done', 'done', 'done'])
      const kinds = await h.sql<{ kind: string }[]>`
        select kind from deliveries where idempotency_key like ${`b24:${p.id}:70001:%`} order by id`
      expect(kinds.map((k) => k.kind)).toEqual(['message', 'edit'])
    } finally {
      h.repos.deliveries.enqueueMany = original
    }
  })

  test('a worker that died mid-way: its lease lapses and another claims the row', async () => {
    await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '70003' }))
    const [claimed] = await h.inbox.claim(10, 60_000)
    expect(claimed).toBeDefined()
    expect(await h.inbox.claim(10, 60_000)).toEqual([])
    await h.sql`
      update inbound_events set locked_until = now() - interval '1 second' where id = ${claimed!.id}`
    expect(await h.process()).toBe(1)
    expect((await h.inbox.get(claimed!.id)).status).toBe('done')
  })

  test('P3: logs carry no message text, no token and no file link', async () => {
    h.logs.length = 0
    h.portal.failing.add('imconnector.register')
    try {
      await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '70004' }))
      await post(h, '/bitrix/events', samples.appUpdate(auth).replace('ts=1773760000', 'ts=1773760009'))
      await post(h, '/bitrix/events', samples.messageAdd({ ...auth, appToken: 'forged-token-for-log-test' }))
      await post(
        h,
        '/bitrix/events',
        samples.messageAdd(auth).replace('data%5BLINE%5D=12', 'data%5BLINE%5D=Guten'),
      )
      await h.process()
    } finally {
      h.portal.failing.delete('imconnector.register')
    }
    const logged = h.logs.join('\n')
    expect(logged).toContain('Bitrix24 event failed')
    expect(logged).toContain('event refused: not authenticated')
    for (const secret of [
      'Guten',
      'Klaus',
      p.appToken,
      'forged-token-for-log-test',
      's6p6eclrvim6',
      '~Ab3dE',
      'photo.jpg',
    ]) {
      expect(logged).not.toContain(secret)
    }
  })

  test('startInboxWorker processes on wake-up and stops cleanly', async () => {
    const worker = startInboxWorker(h.deps, { intervalMs: 60_000 })
    try {
      h.deps.onEventStored = () => worker.wake()
      await post(h, '/bitrix/events', samples.messageAdd(auth, { messageId: '70005' }))
      const deadline = Date.now() + 5000
      let status = 'pending'
      while (status === 'pending' && Date.now() < deadline) {
        await Bun.sleep(20)
        status = (await rows()).at(-1)!.status
      }
      expect(status).toBe('done')
    } finally {
      h.deps.onEventStored = undefined
      await worker.stop()
    }
  })
})
