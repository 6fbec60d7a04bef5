/** Conformance: webhook subscriptions and delivery (reference §4.2) and their exclusion with long polling (§4.1). */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { call, type Sink, startSink } from './conformance.ts'
import { type MaxEmulatorServer, startMaxEmulator } from './index.ts'

let emu: MaxEmulatorServer
let sink: Sink

beforeAll(async () => {
  emu = await startMaxEmulator({
    rateLimitPerSecond: null,
    pollRateLimitPerSecond: null,
    // The documented plan (60 s, ×2.5, 10 retries, 8 h) scaled down so a test sees it.
    webhook: { firstRetryMs: 40, retryFactor: 2.5, maxRetries: 3, unsubscribeAfterMs: 60_000 },
  })
})
afterEach(() => sink?.stop())
afterAll(() => emu.close())

async function subscribed(body: Record<string, unknown> = {}) {
  sink = startSink()
  const bot = emu.createBot()
  const user = emu.createUser({ name: 'Web Hook' })
  const res = await call(emu.url, bot.token, 'POST', '/subscriptions', {
    url: sink.url,
    secret: 'my-Secret_123',
    ...body,
  })
  expect(res.body).toEqual({ success: true })
  return { ...bot, userId: user.userId }
}

describe('subscriptions', () => {
  test('GET lists url, time, update_types; DELETE ?url= removes', async () => {
    const { token } = await subscribed({ update_types: ['message_created'] })
    const list = await call(emu.url, token, 'GET', '/subscriptions')
    expect(list.body.subscriptions).toEqual([
      { url: sink.url, time: expect.any(Number), update_types: ['message_created'] },
    ])
    const del = await call(emu.url, token, 'DELETE', `/subscriptions?url=${encodeURIComponent(sink.url)}`)
    expect(del.body).toEqual({ success: true })
    expect((await call(emu.url, token, 'GET', '/subscriptions')).body.subscriptions).toEqual([])
  })

  test('secret must be 5-256 characters of [A-Za-z0-9_-]; https-on-443 is enforced when asked', async () => {
    const { token } = emu.createBot()
    for (const secret of ['abcd', 'has space', 'x'.repeat(257)]) {
      const res = await call(emu.url, token, 'POST', '/subscriptions', {
        url: 'http://127.0.0.1:1/h',
        secret,
      })
      expect([res.status, res.body.code]).toEqual([400, 'proto.payload'])
    }
    emu.configure({ requireHttpsWebhooks: true })
    try {
      for (const url of ['http://example.com/h', 'https://example.com:8443/h']) {
        expect((await call(emu.url, token, 'POST', '/subscriptions', { url })).status).toBe(400)
      }
      expect(
        (await call(emu.url, token, 'POST', '/subscriptions', { url: 'https://example.com/h' })).status,
      ).toBe(200)
    } finally {
      emu.configure({ requireHttpsWebhooks: false })
      await call(
        emu.url,
        token,
        'DELETE',
        `/subscriptions?url=${encodeURIComponent('https://example.com/h')}`,
      )
    }
  })
})

describe('delivery', () => {
  test('each update is POSTed alone with X-Max-Bot-Api-Secret, in order', async () => {
    const { token, userId } = await subscribed()
    const { mid, chatId } = await emu.userSends(token, userId, { text: 'via webhook' })
    await emu.userEdits(token, userId, mid, 'edited via webhook')
    const [created, edited] = await sink.waitFor(2)
    expect(created!.headers.get('x-max-bot-api-secret')).toBe('my-Secret_123')
    expect(created!.headers.get('content-type')).toContain('application/json')
    expect(created!.body).toMatchObject({
      update_type: 'message_created',
      message: { recipient: { chat_id: chatId }, body: { mid } },
    })
    expect(/"seq":\d{17,}/.test(created!.text)).toBe(true)
    expect(edited!.body.update_type).toBe('message_edited')
  })

  test('without a secret there is no secret header; update_types filters', async () => {
    sink = startSink()
    const { token } = emu.createBot()
    const { userId } = emu.createUser()
    await call(emu.url, token, 'POST', '/subscriptions', { url: sink.url, update_types: ['bot_started'] })
    await emu.userSends(token, userId, { text: 'not wanted' })
    await emu.userStartsBot(token, userId, 'p')
    const [only] = await sink.waitFor(1)
    await Bun.sleep(30)
    expect(sink.received.length).toBe(1)
    expect(only!.body.update_type).toBe('bot_started')
    expect(only!.headers.has('x-max-bot-api-secret')).toBe(false)
  })

  test('a non-200 answer is retried at growing intervals until a 200', async () => {
    const { token, userId } = await subscribed()
    const before = emu.stats()
    sink.answers.push(500, 404)
    await emu.userSends(token, userId, { text: 'retry me' })
    const got = await sink.waitFor(3)
    expect(got.map((d) => d.body.message.body.text)).toEqual(['retry me', 'retry me', 'retry me'])
    const gaps = [got[1]!.at - got[0]!.at, got[2]!.at - got[1]!.at]
    expect(gaps[0]).toBeGreaterThanOrEqual(35)
    expect(gaps[1]).toBeGreaterThanOrEqual(90)
    // The sink saw the third request as it arrived; the emulator counts it once it has read the answer.
    let after = emu.stats()
    for (let i = 0; i < 100 && after.webhook_deliveries === before.webhook_deliveries; i++) {
      await Bun.sleep(10)
      after = emu.stats()
    }
    expect(after.webhook_failures! - before.webhook_failures!).toBe(2)
    expect(after.webhook_retries! - before.webhook_retries!).toBe(2)
    expect(after.webhook_deliveries! - before.webhook_deliveries!).toBe(1)
  })

  test('after the retries run out the update is dropped; 8 h (scaled) without a 200 unsubscribes', async () => {
    emu.configure({ webhook: { firstRetryMs: 10, retryFactor: 1, maxRetries: 2, unsubscribeAfterMs: 150 } })
    try {
      const { token, userId } = await subscribed()
      const before = emu.stats()
      sink.answers.push(...Array(100).fill(503))
      await emu.userSends(token, userId, { text: 'nobody home' })
      await sink.waitFor(3)
      await Bun.sleep(250)
      const after = emu.stats()
      expect(after.webhook_dropped! - before.webhook_dropped!).toBe(1)
      expect(after.webhook_unsubscribed! - before.webhook_unsubscribed!).toBe(1)
      expect((await call(emu.url, token, 'GET', '/subscriptions')).body.subscriptions).toEqual([])
      // Long polling works again, and new updates land there.
      await emu.userSends(token, userId, { text: 'after unsubscribe' })
      const polled = await call(emu.url, token, 'GET', '/updates?timeout=0')
      expect(
        polled.body.updates.map((u: { message: { body: { text: string } } }) => u.message.body.text),
      ).toEqual(['after unsubscribe'])
    } finally {
      emu.configure({
        webhook: { firstRetryMs: 40, retryFactor: 2.5, maxRetries: 3, unsubscribeAfterMs: 60_000 },
      })
    }
  })

  test('duplicateDeliveries sends the same update twice', async () => {
    const { token, userId } = await subscribed()
    emu.faults.duplicateDeliveries(1)
    await emu.userSends(token, userId, { text: 'twice' })
    await emu.userSends(token, userId, { text: 'once' })
    const got = await sink.waitFor(3)
    expect(got.map((d) => d.body.message.body.text)).toEqual(['twice', 'twice', 'once'])
    expect(got[0]!.text).toBe(got[1]!.text)
  })

  test('while a webhook is set, GET /updates answers 405 and a pending long poll ends', async () => {
    sink = startSink()
    const { token } = emu.createBot()
    const pending = call(emu.url, token, 'GET', '/updates?timeout=10')
    await Bun.sleep(30)
    await call(emu.url, token, 'POST', '/subscriptions', { url: sink.url })
    expect((await pending).body.updates).toEqual([])
    const res = await call(emu.url, token, 'GET', '/updates?timeout=0')
    expect([res.status, res.body.code]).toEqual([405, 'method.not.allowed'])
    await call(emu.url, token, 'DELETE', `/subscriptions?url=${encodeURIComponent(sink.url)}`)
    expect((await call(emu.url, token, 'GET', '/updates?timeout=0')).status).toBe(200)
  })
})
