/** Conformance: the Bot API's answers (reference §2–§6) — auth, bot and chat info, sending, editing, deleting, errors. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { call } from './conformance.ts'
import { type MaxEmulatorServer, startMaxEmulator } from './index.ts'

let emu: MaxEmulatorServer
let token: string
let botUserId: number
let userId: number
let chatId: number

beforeAll(async () => {
  emu = await startMaxEmulator({ rateLimitPerSecond: null })
  ;({ token, botUserId } = emu.createBot({ name: 'Support', username: 'acme_support_bot' }))
  ;({ userId } = emu.createUser({ name: 'John Doe' }))
  ;({ chatId } = await emu.userStartsBot(token, userId))
})
afterAll(() => emu.close())

describe('authentication (§2.2)', () => {
  const invalid = { code: 'verify.token', message: 'Invalid access_token' }

  test('the token goes as is in Authorization; anything else is 401 verify.token', async () => {
    expect((await call(emu.url, token, 'GET', '/me')).status).toBe(200)
    for (const [auth, path] of [
      [null, '/me'],
      ['wrong', '/me'],
      [`Bearer ${token}`, '/me'],
      [null, `/me?access_token=${token}`],
    ] as const) {
      const res = await call(emu.url, auth, 'GET', path)
      expect(res.status).toBe(401)
      expect(res.body).toEqual(invalid)
    }
  })

  test('a revoked token answers 401 from then on', async () => {
    const other = emu.createBot()
    expect((await call(emu.url, other.token, 'GET', '/me')).status).toBe(200)
    emu.faults.revokeToken(other.token)
    const res = await call(emu.url, other.token, 'GET', '/me')
    expect([res.status, res.body]).toEqual([401, invalid])
  })
})

describe('bot and chat info (§3)', () => {
  test('GET /me is BotInfo', async () => {
    const { body } = await call(emu.url, token, 'GET', '/me')
    expect(body).toMatchObject({
      user_id: botUserId,
      first_name: 'Support',
      username: 'acme_support_bot',
      is_bot: true,
    })
    expect(typeof body.avatar_url).toBe('string')
    expect(body.commands).toEqual([])
  })

  test('GET /me after the owner edits the bot: new name, a new photo URL, then no photo', async () => {
    const bot = emu.createBot({ name: 'Before', username: 'before_bot' })
    const first = (await call(emu.url, bot.token, 'GET', '/me')).body
    const photo = await fetch(first.avatar_url)
    expect(photo.headers.get('content-type')).toBe('image/png')
    const res = await fetch(`${emu.url}/_emulator/bots/edit`, {
      method: 'POST',
      body: JSON.stringify({ token: bot.token, name: 'After', photo: 'new' }),
    })
    expect(await res.json()).toEqual({ botUserId: bot.botUserId, name: 'After', username: 'before_bot' })
    const edited = (await call(emu.url, bot.token, 'GET', '/me')).body
    expect(edited).toMatchObject({ user_id: bot.botUserId, first_name: 'After', username: 'before_bot' })
    expect(edited.avatar_url).not.toBe(first.avatar_url)
    expect(edited.full_avatar_url).not.toBe(first.full_avatar_url)
    emu.ownerEditsBot(bot.token, { photo: 'none' })
    const bare = (await call(emu.url, bot.token, 'GET', '/me')).body
    expect(bare.avatar_url).toBeUndefined()
    expect(bare.full_avatar_url).toBeUndefined()
    // A bad body changes nothing.
    const bad = await fetch(`${emu.url}/_emulator/bots/edit`, {
      method: 'POST',
      body: JSON.stringify({ token: bot.token, name: 'Lost', photo: 'maybe' }),
    })
    expect(bad.status).toBe(400)
    expect((await call(emu.url, bot.token, 'GET', '/me')).body.first_name).toBe('After')
  })

  test('GET /chats/{dialog} carries dialog_with_user; GET /chats is gone', async () => {
    const { status, body } = await call(emu.url, token, 'GET', `/chats/${chatId}`)
    expect(status).toBe(200)
    expect(body).toMatchObject({
      chat_id: chatId,
      type: 'dialog',
      status: 'active',
      participants_count: 2,
      is_public: false,
    })
    expect(body.dialog_with_user).toMatchObject({
      user_id: userId,
      first_name: 'John',
      last_name: 'Doe',
      is_bot: false,
    })
    const avatar = await fetch(body.dialog_with_user.avatar_url)
    expect(avatar.headers.get('content-type')).toBe('image/png')
    expect((await call(emu.url, token, 'GET', '/chats')).status).toBe(404)
    expect((await call(emu.url, token, 'GET', '/chats/999')).body.code).toBe('not.found')
  })

  test('typing goes to POST /chats/{id}/actions', async () => {
    const res = await call(emu.url, token, 'POST', `/chats/${chatId}/actions`, { action: 'typing_on' })
    expect(res.body).toEqual({ success: true })
    expect(emu.dialogs(token)[0]!.actions).toContain('typing_on')
    expect(
      (await call(emu.url, token, 'POST', `/chats/${chatId}/actions`, { action: 'dancing' })).status,
    ).toBe(400)
  })
})

describe('sending (§5.1)', () => {
  test('POST /messages?chat_id= returns the Message with a string mid', async () => {
    const res = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: '**Hello**',
      format: 'markdown',
    })
    expect(res.status).toBe(200)
    const m = res.body.message
    expect(m.sender).toMatchObject({ user_id: botUserId, is_bot: true })
    expect(m.recipient).toEqual({ chat_id: chatId, chat_type: 'dialog', user_id: userId })
    expect(m.body.mid).toMatch(/^mid\.[0-9a-f]{32}$/)
    expect(m.body.text).toBe('**Hello**')
    const sent = emu.botMessages(token, chatId).find((b) => b.mid === m.body.mid)!
    expect(sent).toMatchObject({
      text: '**Hello**',
      format: 'markdown',
      edited: false,
      deleted: false,
      notify: true,
    })
  })

  test('POST /messages?user_id= reaches the dialog; unknown chats and users are chat.denied', async () => {
    const res = await call(emu.url, token, 'POST', `/messages?user_id=${userId}`, { text: 'by user id' })
    expect(res.body.message.recipient.chat_id).toBe(chatId)
    for (const q of ['chat_id=0', 'user_id=42']) {
      const denied = await call(emu.url, token, 'POST', `/messages?${q}`, { text: 'x' })
      expect([denied.status, denied.body.code]).toEqual([403, 'chat.denied'])
    }
    expect((await call(emu.url, token, 'POST', '/messages', { text: 'x' })).status).toBe(400)
  })

  test('text is capped at 4000 characters and format is markdown|html', async () => {
    const ok = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'a'.repeat(4000) })
    expect(ok.status).toBe(200)
    const long = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'a'.repeat(4001) })
    expect([long.status, long.body.code]).toEqual([400, 'proto.payload'])
    const bad = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: 'x',
      format: 'bbcode',
    })
    expect(bad.status).toBe(400)
    expect((await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {})).status).toBe(400)
  })

  test('a reply links a message of the chat', async () => {
    const { mid } = await emu.userSends(token, userId, { text: 'question' })
    const res = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: 'answer',
      link: { type: 'reply', mid },
    })
    expect(res.body.message.link).toMatchObject({
      type: 'reply',
      chat_id: chatId,
      message: { mid, text: 'question' },
    })
    const bad = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: 'x',
      link: { type: 'reply', mid: 'mid.nope' },
    })
    expect(bad.status).toBe(400)
  })

  test('a user who stopped the bot cannot be written to (403 chat.denied), until they start it again', async () => {
    const user = emu.createUser({ name: 'Stopper' })
    const started = await emu.userStartsBot(token, user.userId)
    await emu.userStopsBot(token, user.userId)
    const chat = await call(emu.url, token, 'GET', `/chats/${started.chatId}`)
    expect(chat.body.status).toBe('suspended')
    const res = await call(emu.url, token, 'POST', `/messages?chat_id=${started.chatId}`, {
      text: 'still there?',
    })
    expect([res.status, res.body.code]).toEqual([403, 'chat.denied'])
    await emu.userStartsBot(token, user.userId)
    expect(
      (await call(emu.url, token, 'POST', `/messages?chat_id=${started.chatId}`, { text: 'welcome back' }))
        .status,
    ).toBe(200)
  })
})

describe('editing, deleting, reading back (§5.2)', () => {
  test('PUT edits own messages; attachments null keeps them, [] removes them', async () => {
    const sent = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, {
      text: 'where',
      attachments: [{ type: 'location', latitude: 55.75, longitude: 37.61 }],
    })
    const mid = sent.body.message.body.mid
    const kept = await call(emu.url, token, 'PUT', `/messages?message_id=${mid}`, {
      text: 'here',
      attachments: null,
    })
    expect(kept.body).toEqual({ success: true })
    let m = emu.botMessages(token, chatId).find((b) => b.mid === mid)!
    expect([m.text, m.edited, m.attachments.length]).toEqual(['here', true, 1])
    await call(emu.url, token, 'PUT', `/messages?message_id=${mid}`, { text: 'gone', attachments: [] })
    m = emu.botMessages(token, chatId).find((b) => b.mid === mid)!
    expect(m.attachments).toEqual([])
  })

  test("the bot cannot edit or delete the user's messages; unknown mids are 404", async () => {
    const { mid } = await emu.userSends(token, userId, { text: 'mine' })
    expect((await call(emu.url, token, 'PUT', `/messages?message_id=${mid}`, { text: 'x' })).status).toBe(403)
    expect((await call(emu.url, token, 'DELETE', `/messages?message_id=${mid}`)).status).toBe(403)
    expect((await call(emu.url, token, 'DELETE', '/messages?message_id=mid.0')).body.code).toBe('not.found')
  })

  test('past the edit window the answer is success:false', async () => {
    const sent = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'old' })
    emu.configure({ editWindowMs: 0 })
    await Bun.sleep(2)
    const res = await call(emu.url, token, 'PUT', `/messages?message_id=${sent.body.message.body.mid}`, {
      text: 'new',
    })
    emu.configure({ editWindowMs: 7 * 24 * 3_600_000 })
    expect(res.body.success).toBe(false)
  })

  test('DELETE marks deleted; GET /messages lists newest first without it', async () => {
    const a = (await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'first' })).body
      .message.body.mid
    const b = (await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'second' })).body
      .message.body.mid
    expect((await call(emu.url, token, 'DELETE', `/messages?message_id=${a}`)).body).toEqual({
      success: true,
    })
    expect(emu.botMessages(token, chatId).find((m) => m.mid === a)!.deleted).toBe(true)
    const list = await call(emu.url, token, 'GET', `/messages?chat_id=${chatId}&count=5`)
    const mids = list.body.messages.map((m: { body: { mid: string } }) => m.body.mid)
    expect(mids[0]).toBe(b)
    expect(mids).not.toContain(a)
    expect(mids.length).toBe(5)
    expect((await call(emu.url, token, 'GET', `/messages/${b}`)).body.body.text).toBe('second')
    expect((await call(emu.url, token, 'GET', `/messages/${a}`)).status).toBe(404)
    const byIds = await call(emu.url, token, 'GET', `/messages?message_ids=${a},${b}`)
    expect(byIds.body.messages.length).toBe(1)
  })
})

describe('injected faults and limits (§2.4, §2.5)', () => {
  test('failNext answers 200 success:false once and does nothing', async () => {
    emu.faults.failNext('chat.send.failed')
    const before = emu.botMessages(token, chatId).length
    const res = await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'lost' })
    expect([res.status, res.body]).toEqual([200, { success: false, message: 'chat.send.failed' }])
    expect(emu.botMessages(token, chatId).length).toBe(before)
    expect((await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'kept' })).status).toBe(
      200,
    )
  })

  test('serverError answers the status for N calls', async () => {
    emu.faults.serverError(2, 503)
    expect((await call(emu.url, token, 'GET', '/me')).status).toBe(503)
    expect((await call(emu.url, token, 'GET', '/me')).status).toBe(503)
    expect((await call(emu.url, token, 'GET', '/me')).status).toBe(200)
  })

  test('a 429 storm hits the next N calls', async () => {
    const before = emu.stats().rate_limited!
    emu.faults.rateLimit(3)
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await call(emu.url, token, 'GET', '/me')).status)
    expect(statuses).toEqual([429, 429, 429, 200])
    expect(emu.stats().rate_limited! - before).toBe(3)
  })

  test('the default budget is 30 requests per second per token', async () => {
    const limited = await startMaxEmulator()
    try {
      const bot = limited.createBot()
      const other = limited.createBot()
      const started = performance.now()
      const statuses = await Promise.all(
        Array.from({ length: 40 }, () => call(limited.url, bot.token, 'GET', '/me')),
      )
      const elapsed = performance.now() - started
      const ok = statuses.filter((s) => s.status === 200).length
      // A full bucket of 30, plus what refills at 30/s while the 40 requests land.
      expect(ok).toBeGreaterThanOrEqual(30)
      expect(ok).toBeLessThanOrEqual(30 + Math.ceil((elapsed / 1000) * 30))
      expect(statuses.filter((s) => s.status === 429).length).toBe(40 - ok)
      expect(limited.stats().rate_limited).toBe(40 - ok)
      expect((await call(limited.url, other.token, 'GET', '/me')).status).toBe(200)
      expect(limited.stats()['requests:GET /me']).toBe(41)
    } finally {
      await limited.close()
    }
  })
})

test('counters: messages from bots and exact-repeat duplicates per chat', async () => {
  const other = emu.createUser({ name: 'Other' })
  const otherChat = (await emu.userStartsBot(token, other.userId)).chatId
  emu.resetStats()
  await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'same words' })
  await call(emu.url, token, 'POST', `/messages?chat_id=${otherChat}`, { text: 'same words' })
  expect(emu.stats().duplicate_messages).toBe(0)
  await call(emu.url, token, 'POST', `/messages?chat_id=${chatId}`, { text: 'same words' })
  const stats = emu.stats()
  expect([stats.messages_from_bots, stats.duplicate_messages]).toEqual([3, 1])
  expect(stats['requests:POST /messages']).toBe(3)
})
