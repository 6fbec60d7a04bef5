import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { clientSays, ICON, installedPortal, rest, type Sink, startSink } from './testkit.ts'

let emulator: Bitrix24Emulator
let sink: Sink

beforeEach(async () => {
  sink = startSink()
  emulator = await startBitrix24Emulator({ rateLimit: { drainPerSecond: 1000, burst: 1000 } })
})
afterEach(async () => {
  await emulator.stop()
  await sink.stop()
})

async function tokenOnly(): Promise<string> {
  await emulator.addLine({ id: 12, name: 'Support' })
  await emulator.install({ restOnly: true })
  return (await emulator.issueTokens()).access_token as string
}

describe('imconnector.register / unregister (§5.2, §5.3)', () => {
  test('nested result.result; validation errors are HTTP 200 with result.error', async () => {
    const token = await tokenOnly()
    const ok = await rest(
      emulator,
      'imconnector.register',
      {
        ID: 'acme_tg',
        NAME: 'Telegram (Acme)',
        ICON,
        PLACEMENT_HANDLER: 'https://bridge.example.com/b24/placement',
        CHAT_GROUP: false,
      },
      token,
    )
    expect(ok.status).toBe(200)
    expect(ok.body.result).toEqual({ result: true })
    const cases: [Record<string, unknown>, string][] = [
      [{ NAME: 'x', ICON, PLACEMENT_HANDLER: 'https://h' }, 'CONNECTOR_ID_REQUIRED'],
      [
        { ID: 'acme.tg', NAME: 'x', ICON, PLACEMENT_HANDLER: 'https://h' },
        'APPLICATION_REGISTRATION_ERROR_POINT',
      ],
      [{ ID: 'a', ICON, PLACEMENT_HANDLER: 'https://h' }, 'NAME_REQUIRED'],
      [{ ID: 'a', NAME: 'x', ICON: {}, PLACEMENT_HANDLER: 'https://h' }, 'ICON_REQUIRED'],
      [{ ID: 'a', NAME: 'x', ICON }, 'NO_PLACEMENT_HANDLER'],
      [
        { ID: 'telegrambot', NAME: 'x', ICON, PLACEMENT_HANDLER: 'https://h' },
        'APPLICATION_REGISTRATION_ERROR',
      ],
    ]
    for (const [params, code] of cases) {
      const bad = await rest(emulator, 'imconnector.register', params, token)
      expect(bad.status).toBe(200)
      expect(bad.body.result).toMatchObject({ result: false, error: code })
    }
  })

  test('register keys ignore case (recursive); only real booleans change flags (§4.2)', async () => {
    const token = await tokenOnly()
    await rest(
      emulator,
      'imconnector.register',
      {
        id: 'acme_tg',
        name: 'T',
        icon: { data_image: 'data:x' },
        placement_handler: 'https://h',
        need_signature: 'N',
        chat_group: true,
      },
      token,
    )
    const state = emulator.state() as { connectors: { flags: Record<string, boolean> }[] }
    expect(state.connectors[0]!.flags.NEED_SIGNATURE).toBe(true)
    expect(state.connectors[0]!.flags.CHAT_GROUP).toBe(true)
  })

  test('unregister deletes statuses (StatusDelete each), connector and placement', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ['OnImConnectorStatusDelete'] })
    const answer = await rest(emulator, 'imconnector.unregister', { ID: 'ACME_TG' }, token)
    expect(answer.body.result).toEqual({ result: true })
    await emulator.waitForEvents()
    expect(sink.on('/events')[0]!.form.data).toEqual({ connector: 'acme_tg', line: '12' })
    const state = emulator.state() as { connectors: unknown[]; statuses: unknown[]; placements: unknown[] }
    expect(state.connectors).toEqual([])
    expect(state.statuses).toEqual([])
    expect(state.placements).toEqual([])
    const again = await rest(emulator, 'imconnector.unregister', { ID: 'acme_tg' }, token)
    expect(again.body.result).toMatchObject({ result: false, error: 'APPLICATION_UNREGISTRATION_ERROR' })
  })
})

describe('status model (§5.1, §5.4, §5.5, §5.14)', () => {
  test('status creates an all-N row; activate sets A/C/R; ACTIVE:0 deletes; set.error', async () => {
    const token = await tokenOnly()
    const st = (line?: number) =>
      rest(
        emulator,
        'imconnector.status',
        line === undefined ? { CONNECTOR: 'acme_tg' } : { CONNECTOR: 'acme_tg', LINE: line },
        token,
      )
    expect((await st()).body.result).toEqual({
      LINE: 0,
      CONNECTOR: 'acme_tg',
      ERROR: false,
      CONFIGURED: false,
      STATUS: false,
    })
    expect((await st(12)).body.result).toMatchObject({ CONFIGURED: false, STATUS: false })
    const act = await rest(
      emulator,
      'imconnector.activate',
      { CONNECTOR: 'ACME_TG', LINE: 12, ACTIVE: 'N' },
      token,
    )
    expect(act.body.result).toBe(true) // any non-empty ACTIVE activates, even "N"
    expect((await st(12)).body.result).toEqual({
      LINE: 12,
      CONNECTOR: 'acme_tg',
      ERROR: false,
      CONFIGURED: true,
      STATUS: true,
    })
    await rest(emulator, 'imconnector.set.error', { CONNECTOR: 'acme_tg', LINE: 12 }, token)
    expect((await st(12)).body.result).toMatchObject({ ERROR: true, CONFIGURED: true, STATUS: false })
    const off = await rest(
      emulator,
      'imconnector.activate',
      { CONNECTOR: 'acme_tg', LINE: 12, ACTIVE: 0 },
      token,
    )
    expect(off.body.result).toBe(true)
    const offAgain = await rest(
      emulator,
      'imconnector.activate',
      { CONNECTOR: 'acme_tg', LINE: 12, ACTIVE: '0' },
      token,
    )
    expect(offAgain.body.result).toBe(false)
  })

  test('data.set merges, skips empty values, lower-cases keys, leaves flags (§5.6)', async () => {
    const token = await tokenOnly()
    const set = (DATA: Record<string, string>) =>
      rest(emulator, 'imconnector.connector.data.set', { CONNECTOR: 'acme_tg', LINE: 12, DATA }, token)
    await set({ id: 'acme_tg_line12', URL: 'https://t.me/acme_bot', NAME: 'Acme bot' })
    await set({ NAME: 'Acme', url_im: 'https://t.me/acme_bot', URL: '' })
    const state = emulator.state() as { statuses: { data: Record<string, string>; ACTIVE: boolean }[] }
    expect(state.statuses[0]!.data).toEqual({
      id: 'acme_tg_line12',
      url: 'https://t.me/acme_bot',
      name: 'Acme',
      url_im: 'https://t.me/acme_bot',
      connector_id: 'acme_tg',
    })
    expect(state.statuses[0]!.ACTIVE).toBe(false)
  })

  test('imconnector.list lists built-ins and registered connectors for admins only (§5.7)', async () => {
    const { token } = await installedPortal(emulator, sink)
    const list = await rest(emulator, 'imconnector.list', {}, token)
    expect(list.body.result).toMatchObject({ livechat: 'Live Chat', acme_tg: 'Telegram (Acme)' })
    const operatorToken = (await emulator.issueTokens({ userId: 27 })).access_token as string
    const denied = await rest(emulator, 'imconnector.list', {}, operatorToken)
    expect(denied.status).toBe(400)
    expect(denied.body.error).toBe('ACCESS_DENIED')
  })
})

describe('imconnector.send.messages (§5.8)', () => {
  test('per-item result with user, message.date {}, chat description, extra and session', async () => {
    const { token } = await installedPortal(emulator, sink)
    const { body } = await rest(
      emulator,
      'imconnector.send.messages',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          {
            USER: { ID: 'u42', NAME: 'Ivan Petrov', SKIP_PHONE_VALIDATE: 'Y' },
            MESSAGE: { ID: 'tg-1001', DATE: 1773265993, TEXT: 'Hello', DISABLE_CRM: 'Y' },
            CHAT: { ID: 'tg-chat-77', NAME: 'Ivan', URL: 'https://t.me/ivan' },
          },
        ],
      },
      token,
    )
    const result = body.result as { SUCCESS: boolean; DATA: { RESULT: Record<string, unknown>[] } }
    expect(result.SUCCESS).toBe(true)
    const item = result.DATA.RESULT[0]!
    expect(item).toEqual({
      user: '585',
      message: { id: 'tg-1001', date: {}, text: 'Hello', files: [] },
      chat: { id: 'tg-chat-77', name: 'Ivan', description: 'Link to the original post: https://t.me/ivan' },
      extra: { disable_tracker: 'Y', skip_phone_validate: 'Y' },
      SUCCESS: true,
      session: { ID: '323', CHAT_ID: '1767' },
    })
    const state = emulator.state() as {
      externalUsers: { key: string; name: string; lastName: string }[]
      chats: { userCode: string; messages: { text: string; connectorMid: string[] }[] }[]
    }
    expect(state.externalUsers[0]).toMatchObject({ key: 'acme_tg|u42', name: 'Ivan', lastName: 'Petrov' })
    expect(state.chats[0]!.userCode).toBe('acme_tg|12|tg-chat-77|585')
    expect(state.chats[0]!.messages[0]).toMatchObject({ text: 'Hello', connectorMid: ['tg-1001'] })
  })

  test('NOT_ACTIVE_LINE (400) before activate, after set.error, on a missing line', async () => {
    const { token } = await installedPortal(emulator, sink)
    const send = (line: number) =>
      rest(
        emulator,
        'imconnector.send.messages',
        {
          CONNECTOR: 'acme_tg',
          LINE: line,
          MESSAGES: [{ user: { id: '1' }, message: { text: 'x' }, chat: { id: 'c' } }],
        },
        token,
      )
    await emulator.addLine({ id: 13, name: 'Sales' })
    expect((await send(13)).body).toMatchObject({ error: 'NOT_ACTIVE_LINE' })
    expect((await send(99)).status).toBe(400)
    await rest(emulator, 'imconnector.set.error', { CONNECTOR: 'acme_tg', LINE: 12 }, token)
    const broken = await send(12)
    expect(broken.status).toBe(400)
    expect(broken.body.error).toBe('NOT_ACTIVE_LINE')
    await emulator.connectLine({ connector: 'acme_tg', line: 13 }) // UI "Connect": ACTIVE only
    expect((await send(13)).status).toBe(400)
  })

  test('bad structure → 400 ERROR_ARGUMENT; unknown connector → NO_CORRECT_PROVIDER', async () => {
    const { token } = await installedPortal(emulator, sink)
    const bad = await rest(
      emulator,
      'imconnector.send.messages',
      { CONNECTOR: 'acme_tg', LINE: 12, MESSAGES: [{ user: { id: '1' }, message: { text: 'x' } }] },
      token,
    )
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('ERROR_ARGUMENT')
    const unknown = await rest(
      emulator,
      'imconnector.send.messages',
      { CONNECTOR: 'nope', LINE: 12, MESSAGES: [] },
      token,
    )
    expect(unknown.body.error).toBe('IMCONNECTOR_NO_CORRECT_PROVIDER')
  })

  test('an item can fail (SUCCESS:false, ERRORS) while the call succeeds', async () => {
    const { token } = await installedPortal(emulator, sink)
    const { status, body } = await rest(
      emulator,
      'imconnector.send.messages',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          { user: { id: '1' }, message: { id: 'm1', text: '' }, chat: { id: 'c1' } },
          { user: { id: '1' }, message: { id: 'm2', text: 'fine' }, chat: { id: 'c1' } },
        ],
      },
      token,
    )
    expect(status).toBe(200)
    const result = body.result as { SUCCESS: boolean; DATA: { RESULT: Record<string, unknown>[] } }
    expect(result.SUCCESS).toBe(true)
    expect(result.DATA.RESULT[0]).toEqual({
      SUCCESS: false,
      ERRORS: ['Not all required data has been provided'],
    })
    expect(result.DATA.RESULT[1]!.SUCCESS).toBe(true)
  })

  test('keys inside MESSAGES are lower-cased; form-encoded MESSAGES work too', async () => {
    const { token } = await installedPortal(emulator, sink)
    const res = await fetch(`${emulator.portalUrl()}/rest/imconnector.send.messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body:
        `auth=${token}&CONNECTOR=acme_tg&LINE=12&MESSAGES[0][USER][Id]=42&MESSAGES[0][CHAT][ID]=42` +
        '&MESSAGES[0][Message][ID]=1001&MESSAGES[0][Message][date]=1773265993&MESSAGES[0][Message][TEXT]=Hi',
    })
    const body = (await res.json()) as {
      result: { DATA: { RESULT: { message: unknown; SUCCESS: boolean }[] } }
    }
    expect(body.result.DATA.RESULT[0]!.SUCCESS).toBe(true)
    expect(body.result.DATA.RESULT[0]!.message).toEqual({ id: '1001', date: {}, text: 'Hi', files: [] })
  })

  test('chats are per chat.id + user, or per chat.id with CHAT_GROUP (user part 0)', async () => {
    const { token } = await installedPortal(emulator, sink)
    const a = await clientSays(emulator, token, 'one', { user: 'a', chat: 'g1' })
    const b = await clientSays(emulator, token, 'two', { user: 'b', chat: 'g1' })
    expect(a.chatId).not.toBe(b.chatId)
    await rest(
      emulator,
      'imconnector.register',
      { ID: 'acme_tg', NAME: 'T', ICON, PLACEMENT_HANDLER: `${sink.url}/placement`, CHAT_GROUP: true },
      token,
    )
    const c = await clientSays(emulator, token, 'three', { user: 'a', chat: 'g2' })
    const d = await clientSays(emulator, token, 'four', { user: 'b', chat: 'g2' })
    expect(c.chatId).toBe(d.chatId)
    const state = emulator.state() as { chats: { id: number; userCode: string }[] }
    expect(state.chats.find((x) => x.id === c.chatId)!.userCode).toBe('acme_tg|12|g2|0')
    expect(c.item.extra).toEqual({ disable_tracker: 'Y' })
  })

  test('no de-duplication by message.id; a vote during a rating wait is recorded as a vote', async () => {
    const { token } = await installedPortal(emulator, sink)
    const first = await clientSays(emulator, token, 'same')
    await clientSays(emulator, token, 'same')
    await emulator.requestRating({ chatId: first.chatId })
    await clientSays(emulator, token, '1', { message: 'tg-vote' })
    const chat = (emulator.state() as { chats: { messages: { text: string; vote: string | null }[] }[] })
      .chats[0]!
    expect(chat.messages.map((m) => m.text)).toEqual(['same', 'same', '1'])
    expect(chat.messages[2]!.vote).toBe('like')
  })
})

describe('update / delete / chat.name.set (§5.9, §5.10, §5.13)', () => {
  test('client edit and delete match CONNECTOR_MID', async () => {
    const { token } = await installedPortal(emulator, sink)
    await clientSays(emulator, token, 'typo')
    const envelope = (message: Record<string, unknown>) => ({
      CONNECTOR: 'acme_tg',
      LINE: 12,
      MESSAGES: [{ user: { id: '42' }, message, chat: { id: 'tg-chat-77' } }],
    })
    const upd = await rest(
      emulator,
      'imconnector.update.messages',
      envelope({ id: 'tg-1001', text: 'fixed' }),
      token,
    )
    const updItem = (upd.body.result as { DATA: { RESULT: Record<string, unknown>[] } }).DATA.RESULT[0]!
    expect(updItem).toMatchObject({ user: '585', SUCCESS: true })
    expect(updItem).not.toHaveProperty('session')
    const del = await rest(emulator, 'imconnector.delete.messages', envelope({ id: 'tg-1001' }), token)
    expect(del.body.result).toEqual({
      SUCCESS: true,
      DATA: {
        RESULT: [{ user: '585', message: { id: 'tg-1001' }, chat: { id: 'tg-chat-77' }, SUCCESS: true }],
      },
    })
    const m = (emulator.state() as { chats: { messages: Record<string, unknown>[] }[] }).chats[0]!
      .messages[0]!
    expect(m).toMatchObject({ text: 'fixed', edited: true, deleted: true })
  })

  test('chat.name.set renames a chat with a session; USER_ID needed unless CHAT_GROUP', async () => {
    const { token } = await installedPortal(emulator, sink)
    await clientSays(emulator, token, 'hi')
    const base = { CONNECTOR: 'acme_tg', LINE: 12, CHAT_ID: 'tg-chat-77', NAME: 'Ivan Petrov (Telegram)' }
    const missing = await rest(emulator, 'imconnector.chat.name.set', base, token)
    expect(missing.body).toMatchObject({ error: 'ERROR_ARGUMENT' })
    const ok = await rest(emulator, 'imconnector.chat.name.set', { ...base, USER_ID: '42' }, token)
    expect(ok.body.result).toEqual({ SUCCESS: true, DATA: { RESULT: {} } })
    const nope = await rest(
      emulator,
      'imconnector.chat.name.set',
      { ...base, CHAT_ID: 'other', USER_ID: '42' },
      token,
    )
    expect(nope.body).toMatchObject({ error: 'CHAT_RENAMING_FAILED' })
  })
})

describe('Open Lines config (§5.15)', () => {
  test('config.add returns the new id; config.list.get selects and filters', async () => {
    const token = await tokenOnly()
    const add = await rest(
      emulator,
      'imopenlines.config.add',
      { PARAMS: { LINE_NAME: 'Telegram', ACTIVE: 'Y' } },
      token,
    )
    expect(typeof add.body.result).toBe('number')
    const list = await rest(
      emulator,
      'imopenlines.config.list.get',
      {
        PARAMS: {
          select: ['ID', 'LINE_NAME', 'ACTIVE'],
          filter: { ACTIVE: 'Y' },
          order: { ID: 'DESC' },
          limit: 2,
        },
      },
      token,
    )
    expect(list.body.result).toEqual([
      { ID: String(add.body.result), LINE_NAME: 'Telegram', ACTIVE: 'Y' },
      { ID: '12', LINE_NAME: 'Support', ACTIVE: 'Y' },
    ])
  })
})
