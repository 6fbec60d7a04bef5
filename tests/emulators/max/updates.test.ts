/** Conformance: update shapes (reference §4.3, the Go fixtures) and long polling with markers (§4.1). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { call } from './conformance.ts'
import { type MaxEmulatorServer, startMaxEmulator } from './index.ts'

let emu: MaxEmulatorServer

beforeAll(async () => {
  emu = await startMaxEmulator({ rateLimitPerSecond: null, pollRateLimitPerSecond: null })
})
afterAll(() => emu.close())

function fresh() {
  const bot = emu.createBot({ name: 'Shop' })
  const user = emu.createUser({ name: 'John Doe', username: 'jdoe' })
  return { ...bot, userId: user.userId }
}

const poll = (token: string, query = 'timeout=0') => call(emu.url, token, 'GET', `/updates?${query}`)

describe('update shapes (§4.3)', () => {
  test('message_created: sender, recipient.chat_id, body.mid, body.seq above 2^53 as a number literal', async () => {
    const { token, botUserId, userId } = fresh()
    const { mid, chatId } = await emu.userSends(token, userId, { text: 'Здравствуйте' })
    const res = await poll(token)
    const [u] = res.body.updates
    expect(u).toMatchObject({
      update_type: 'message_created',
      user_locale: 'ru',
      message: {
        sender: { user_id: userId, first_name: 'John', last_name: 'Doe', username: 'jdoe', is_bot: false },
        recipient: { chat_id: chatId, chat_type: 'dialog', user_id: botUserId },
        body: { mid, text: 'Здравствуйте', attachments: [] },
      },
    })
    expect(typeof u.timestamp).toBe('number')
    expect(typeof u.message.timestamp).toBe('number')
    // The raw JSON carries seq as a bare int64 literal that JSON.parse cannot hold exactly (§2.6 ⚠).
    const literal = /"seq":(\d+)/.exec(res.text)![1]!
    expect(BigInt(literal) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true)
    expect(String(u.message.body.seq)).not.toBe(literal)
  })

  test('message_edited, message_removed, bot_started with payload, bot_stopped, dialog_removed', async () => {
    const { token, userId } = fresh()
    const { chatId } = await emu.userStartsBot(token, userId, 'crm-lead-42')
    const { mid } = await emu.userSends(token, userId, { text: 'typo' })
    await emu.userEdits(token, userId, mid, 'fixed')
    await emu.userDeletes(token, userId, mid)
    await emu.userStopsBot(token, userId)
    await emu.userRemovesDialog(token, userId)
    const { updates } = (await poll(token)).body
    expect(updates.map((u: { update_type: string }) => u.update_type)).toEqual([
      'bot_started',
      'message_created',
      'message_edited',
      'message_removed',
      'bot_stopped',
      'dialog_removed',
    ])
    const [started, , edited, removed, stopped, dialogRemoved] = updates
    expect(started).toMatchObject({
      chat_id: chatId,
      payload: 'crm-lead-42',
      user: { user_id: userId, is_bot: false },
    })
    expect(typeof started.user.avatar_url).toBe('string')
    expect(edited.message.body).toMatchObject({ mid, text: 'fixed' })
    expect(removed).toEqual({
      update_type: 'message_removed',
      timestamp: removed.timestamp,
      message_id: mid,
      chat_id: chatId,
      user_id: userId,
    })
    expect(stopped).toMatchObject({ chat_id: chatId, user: { user_id: userId } })
    expect(dialogRemoved).toMatchObject({ chat_id: chatId, user: { user_id: userId } })
  })

  test('a deep-link payload over 512 characters is not passed on (§5.6)', async () => {
    const { token, userId } = fresh()
    await emu.userStartsBot(token, userId, 'x'.repeat(513))
    const [u] = (await poll(token)).body.updates
    expect(u.update_type).toBe('bot_started')
    expect('payload' in u).toBe(false)
  })

  test('injected updates pass as given, unknown types are counted', async () => {
    const { token } = fresh()
    const before = emu.stats().unknown_updates_injected!
    emu.injectUpdate(token, { update_type: 'message_reaction_added', chat_id: 1, reaction: '👍' })
    emu.injectUpdate(token, { update_type: 'dialog_muted', timestamp: 5, chat_id: 1, muted_until: 9 })
    const { updates } = (await poll(token)).body
    expect(updates[0]).toMatchObject({ update_type: 'message_reaction_added', reaction: '👍' })
    expect(typeof updates[0].timestamp).toBe('number')
    expect(updates[1]).toEqual({ update_type: 'dialog_muted', timestamp: 5, chat_id: 1, muted_until: 9 })
    expect(emu.stats().unknown_updates_injected! - before).toBe(1)
  })

  test('a callback press is message_callback; POST /answers answers it', async () => {
    const { token, userId } = fresh()
    const { chatId } = await emu.userStartsBot(token, userId)
    const sent = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: 'Pick',
      attachments: [
        { type: 'inline_keyboard', payload: { buttons: [[{ type: 'callback', text: 'A', payload: 'a' }]] } },
      ],
    })
    const { callbackId } = await emu.userPressesButton(token, userId, sent.body.message.body.mid, 'a')
    const updates = (await poll(token)).body.updates
    const cb = updates.at(-1)
    expect(cb).toMatchObject({
      update_type: 'message_callback',
      callback: { callback_id: callbackId, payload: 'a', user: { user_id: userId } },
    })
    const answer = await call(emu.url, token, 'POST', `/answers?callback_id=${callbackId}`, {
      notification: 'Done',
    })
    expect(answer.body).toEqual({ success: true })
    expect(
      (await call(emu.url, token, 'POST', '/answers?callback_id=nope', { notification: 'x' })).status,
    ).toBe(404)
  })
})

describe('long polling (§4.1)', () => {
  test('an update comes back until a later marker commits it', async () => {
    const { token, userId } = fresh()
    await emu.userSends(token, userId, { text: 'one' })
    await emu.userSends(token, userId, { text: 'two' })
    const first = (await poll(token, 'timeout=0&limit=1')).body
    expect(first.updates.map((u: { message: { body: { text: string } } }) => u.message.body.text)).toEqual([
      'one',
    ])
    // Without a marker nothing was committed: the same update again.
    const again = (await poll(token, 'timeout=0&limit=1')).body
    expect(again.updates[0].message.body.text).toBe('one')
    expect(again.marker).toBe(first.marker)
    const next = (await poll(token, `timeout=0&marker=${first.marker}`)).body
    expect(next.updates.map((u: { message: { body: { text: string } } }) => u.message.body.text)).toEqual([
      'two',
    ])
    const empty = (await poll(token, `timeout=0&marker=${next.marker}`)).body
    expect(empty).toEqual({ updates: [], marker: next.marker })
    // Committed for good: a call without marker now starts after "two".
    expect((await poll(token)).body.updates).toEqual([])
  })

  test('types filters; a batch holds at most 100', async () => {
    const { token, userId } = fresh()
    await emu.userStartsBot(token, userId)
    for (let i = 0; i < 120; i++) await emu.userSends(token, userId, { text: `m${i}` })
    const started = (await poll(token, 'timeout=0&types=bot_started')).body
    expect(started.updates.map((u: { update_type: string }) => u.update_type)).toEqual(['bot_started'])
    const batch = (await poll(token, 'timeout=0&limit=1000&types=message_created')).body
    expect(batch.updates.length).toBe(100)
    const rest = (await poll(token, `timeout=0&marker=${batch.marker}`)).body
    expect(rest.updates.length).toBe(20)
  })

  test('a long poll waits for the next update and ends at timeout', async () => {
    const { token, userId } = fresh()
    const waiting = poll(token, 'timeout=5')
    await Bun.sleep(50)
    await emu.userSends(token, userId, { text: 'wake up' })
    const res = await waiting
    expect(res.body.updates[0].message.body.text).toBe('wake up')
    const started = performance.now()
    expect((await poll(token, `timeout=1&marker=${res.body.marker}`)).body.updates).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(950)
  })

  test('limit and timeout ranges are enforced', async () => {
    const { token } = fresh()
    expect((await poll(token, 'timeout=91')).status).toBe(400)
    expect((await poll(token, 'timeout=0&limit=0')).status).toBe(400)
    expect((await poll(token, 'timeout=0&limit=1001')).status).toBe(400)
    expect((await poll(token, 'timeout=0&marker=abc')).status).toBe(400)
  })

  test("noMarker 'latest' returns only the newest update without a marker", async () => {
    const other = await startMaxEmulator({ noMarker: 'latest', pollRateLimitPerSecond: null })
    try {
      const bot = other.createBot()
      const user = other.createUser()
      await other.userSends(bot.token, user.userId, { text: 'a' })
      await other.userSends(bot.token, user.userId, { text: 'b' })
      const res = await call(other.url, bot.token, 'GET', '/updates?timeout=0')
      expect(
        res.body.updates.map((u: { message: { body: { text: string } } }) => u.message.body.text),
      ).toEqual(['b'])
    } finally {
      await other.close()
    }
  })

  test('polling is limited to 2 requests per second per token by default', async () => {
    const limited = await startMaxEmulator()
    try {
      const bot = limited.createBot()
      const statuses = []
      for (let i = 0; i < 3; i++)
        statuses.push((await call(limited.url, bot.token, 'GET', '/updates?timeout=0')).status)
      expect(statuses).toEqual([200, 200, 429])
      expect((await call(limited.url, bot.token, 'GET', '/me')).status).toBe(200)
    } finally {
      await limited.close()
    }
  })
})
