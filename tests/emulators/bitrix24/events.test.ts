import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { clientSays, decodeForm, installedPortal, rest, type Sink, startSink } from './testkit.ts'

let emulator: Bitrix24Emulator
let sink: Sink

beforeEach(async () => {
  sink = startSink()
  emulator = await startBitrix24Emulator({
    rateLimit: { drainPerSecond: 1000, burst: 1000 },
    extraApps: [{ clientId: 'app.other', clientSecret: 'other-secret' }],
  })
})
afterEach(async () => {
  await emulator.stop()
  await sink.stop()
})

const ALL = [
  'OnImConnectorMessageAdd',
  'OnImConnectorMessageUpdate',
  'OnImConnectorMessageDelete',
  'OnImConnectorStatusDelete',
  'OnImConnectorLineDelete',
  'OnImConnectorDialogStart',
  'OnImConnectorDialogFinish',
]

type Form = Record<string, unknown> & { data: Record<string, unknown>; auth: Record<string, string> }
const eventsNamed = (name: string) =>
  sink
    .on('/events')
    .filter((c) => c.form.event === name)
    .map((c) => c.form as Form)

describe('event.bind / get / unbind (§6.1)', () => {
  test('names ignore case; duplicate → ERROR_CORE; unknown → EVENT_NOT_FOUND; unbind counts', async () => {
    const { token } = await installedPortal(emulator, sink)
    const bind = (event: string) =>
      rest(emulator, 'event.bind', { event, handler: `${sink.url}/events` }, token)
    expect((await bind('onimconnectormessageadd')).body.result).toBe(true)
    const dup = await bind('OnImConnectorMessageAdd')
    expect(dup.status).toBe(400)
    expect(dup.body).toMatchObject({ error: 'ERROR_CORE', error_description: 'Handler already binded' })
    const unknown = await bind('OnSomethingElse')
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toBe('ERROR_EVENT_NOT_FOUND')
    const got = await rest(emulator, 'event.get', {}, token)
    expect(got.body.result).toEqual([
      { event: 'ONIMCONNECTORMESSAGEADD', handler: `${sink.url}/events`, auth_type: '0', offline: 0 },
    ])
    const un = await rest(
      emulator,
      'event.unbind',
      { event: 'OnImConnectorMessageAdd', handler: `${sink.url}/events` },
      token,
    )
    expect(un.body.result).toEqual({ count: 1 })
  })
})

describe('ONIMCONNECTORMESSAGEADD (§6.4)', () => {
  test('form body: im ids, signed text, chat.id, auth + application_token; empty arrays absent', async () => {
    const { token, applicationToken } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'Hallo')
    const posted = await emulator.postOperatorMessage({ chatId, text: 'Guten Tag!' })
    expect(posted.deliveries.map((d) => d.event)).toEqual(['ONIMCONNECTORMESSAGEADD'])
    const raw = posted.deliveries[0]!.body
    expect(raw).toContain('data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=')
    expect(raw).not.toContain('files')
    expect(raw).not.toContain('attachments')
    const [event] = eventsNamed('ONIMCONNECTORMESSAGEADD')
    expect(event!.event_handler_id).toMatch(/^\d+$/)
    expect(event!.ts).toMatch(/^\d+$/)
    expect(event!.data).toEqual({
      CONNECTOR: 'acme_tg',
      LINE: '12',
      MESSAGES: {
        '0': {
          im: { chat_id: String(chatId), message_id: String(posted.messageId) },
          message: { user_id: '27', text: '[b]Klaus Weber:[/b] [br]Guten Tag!' },
          chat: { id: 'tg-chat-77' },
        },
      },
    })
    expect(Object.keys(event!.auth)).toEqual([
      'access_token',
      'expires',
      'expires_in',
      'scope',
      'domain',
      'server_endpoint',
      'status',
      'client_endpoint',
      'member_id',
      'user_id',
      'application_token',
    ])
    expect(event!.auth).toMatchObject({
      user_id: '27',
      application_token: applicationToken,
      expires_in: '3600',
    })
    expect(event!.auth.client_endpoint).toBe(`${emulator.portalUrl()}/rest/`)
    expect(event!.auth.server_endpoint).toBe(`${emulator.oauthUrl}/rest/`)
    // The event's token is a real token of the operator.
    expect((await rest(emulator, 'user.admin', {}, event!.auth.access_token!)).body.result).toBe(false)
    const captured = sink.on('/events').at(-1)!
    expect(captured.headers.get('content-type')).toBe('application/x-www-form-urlencoded')
  })

  test('operator files: name/type/mime/link/size/sizef; the link downloads without auth', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'Hallo')
    await emulator.postOperatorMessage({
      chatId,
      text: '',
      files: [
        { name: 'photo.jpg', mime: 'image/jpeg', size: 183412, width: 1280, height: 960 },
        { name: 'offer.pdf', mime: 'application/pdf', text: '%PDF-1.4 offer' },
      ],
    })
    const [event] = eventsNamed('ONIMCONNECTORMESSAGEADD')
    const message = (event!.data.MESSAGES as Record<string, { message: Record<string, unknown> }>)['0']!
      .message
    expect(message.text).toBe('[b]Klaus Weber:[/b] ')
    const files = message.files as Record<string, Record<string, string>>
    expect(files['0']).toMatchObject({
      name: 'photo.jpg',
      type: 'image',
      mime: 'image/jpeg',
      width: '1280',
      height: '960',
    })
    expect(files['0']!.size).toBe('183412')
    expect(files['0']!.sizef).toBe('179.1 KB')
    expect(files['0']!.link).toMatch(/\/~\w+#img\.jpg$/)
    expect(files['1']).toMatchObject({ name: 'offer.pdf', type: 'file', size: '14' })
    const download = await fetch(files['1']!.link!)
    expect(download.status).toBe(200)
    expect(download.redirected).toBe(true)
    expect(await download.text()).toBe('%PDF-1.4 offer')
  })

  test('events go only to the app owning the connector; other apps see LineDelete only', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    await emulator.install({ clientId: 'app.other', restOnly: true })
    const other = (await emulator.issueTokens({ clientId: 'app.other' })).access_token as string
    for (const event of ['OnImConnectorMessageAdd', 'OnImConnectorLineDelete']) {
      await rest(emulator, 'event.bind', { event, handler: `${sink.url}/other` }, other)
    }
    const { chatId } = await clientSays(emulator, token, 'x')
    await emulator.postOperatorMessage({ chatId, text: 'y' })
    await emulator.addLine({ id: 30, name: 'temp' })
    await emulator.deleteLine({ line: 30 })
    expect(sink.on('/other').map((c) => c.form.event)).toEqual(['ONIMCONNECTORLINEDELETE'])
    expect(sink.on('/other')[0]!.body).toContain('&data=30&')
  })

  test('system messages only if important; silent ones never; a broken line refuses', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'x')
    expect((await emulator.postOperatorMessage({ chatId, text: 'sys', system: true })).sent).toBe(false)
    const important = await emulator.postOperatorMessage({
      chatId,
      text: 'sys!',
      system: true,
      important: true,
    })
    expect(important.sent).toBe(true)
    expect(decodeForm(important.deliveries[0]!.body)).toMatchObject({
      data: { MESSAGES: { '0': { message: { user_id: '0', text: 'sys!' } } } },
    })
    expect((await emulator.postOperatorMessage({ chatId, text: 'psst', silent: true })).deliveries).toEqual(
      [],
    )
    await rest(emulator, 'imconnector.set.error', { CONNECTOR: 'acme_tg', LINE: 12 }, token)
    await expect(emulator.postOperatorMessage({ chatId, text: 'no' })).rejects.toThrow(/connector error/)
  })
})

describe('employee echo (§6.4, inferred)', () => {
  test('a message with message.user_id of an employee comes back as MESSAGEADD', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    await rest(
      emulator,
      'imconnector.send.messages',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          {
            user: { id: '42' },
            message: { id: 'e1', text: 'from the desk', user_id: 27 },
            chat: { id: 'c9' },
          },
        ],
      },
      token,
    )
    await emulator.waitForEvents()
    const [echo] = eventsNamed('ONIMCONNECTORMESSAGEADD')
    const m = (echo!.data.MESSAGES as Record<string, { message: Record<string, string> }>)['0']!.message
    expect(m).toEqual({ user_id: '27', text: '[b]Klaus Weber:[/b] [br]from the desk' })
  })
})

describe('Update / Delete follow the delivery status (§5.11, §6.5, §6.6)', () => {
  test('no delivery status → edits and deletes are not sent', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'x')
    const posted = await emulator.postOperatorMessage({ chatId, text: 'first' })
    const edit = await emulator.editOperatorMessage({ messageId: posted.messageId, text: 'second' })
    expect(edit).toMatchObject({ emitted: false, reason: 'no CONNECTOR_MID', deliveries: [] })
    const del = await emulator.deleteOperatorMessage({ messageId: posted.messageId })
    expect(del.emitted).toBe(false)
    expect(eventsNamed('ONIMCONNECTORMESSAGEUPDATE')).toEqual([])
    expect(eventsNamed('ONIMCONNECTORMESSAGEDELETE')).toEqual([])
  })

  test('after the delivery status: Update has the id array, Delete one element per id', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'x')
    const posted = await emulator.postOperatorMessage({ chatId, text: 'Hallo' })
    const mids = Array.from({ length: 22 }, (_, i) => `tg-${5550 + i}`)
    const status = await rest(
      emulator,
      'imconnector.send.status.delivery',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          {
            im: { chat_id: chatId, message_id: posted.messageId },
            message: { id: mids, date: 1773265999 },
            chat: { id: 'tg-chat-77' },
          },
        ],
      },
      token,
    )
    expect(status.body.result).toEqual({ SUCCESS: true, DATA: [] })
    const msg = (emulator.state() as { chats: { messages: Record<string, unknown>[] }[] }).chats[0]!
      .messages[1]!
    expect(msg).toMatchObject({ connectorMid: mids, read: true, sending: false })

    await emulator.editOperatorMessage({ messageId: posted.messageId, text: 'corrected text' })
    const [update] = eventsNamed('ONIMCONNECTORMESSAGEUPDATE')
    const u = (update!.data.MESSAGES as Record<string, Record<string, Record<string, unknown>>>)['0']!
    expect(u.im).toEqual({ chat_id: String(chatId), message_id: String(posted.messageId) })
    expect(Object.values(u.message!.id as Record<string, string>)).toEqual(mids)
    expect(u.message!.text).toBe('[b]Klaus Weber:[/b][br] corrected text')
    expect(u.chat).toEqual({ id: 'tg-chat-77' })

    await emulator.deleteOperatorMessage({ messageId: posted.messageId })
    const [del] = eventsNamed('ONIMCONNECTORMESSAGEDELETE')
    const items = del!.data.MESSAGES as Record<string, Record<string, Record<string, unknown>>>
    expect(Object.keys(items)).toHaveLength(22)
    expect(items['21']).toEqual({
      im: { chat_id: String(chatId), message_id: String(posted.messageId) },
      message: { id: 'tg-5571' },
      chat: { id: 'tg-chat-77' },
    })
  })

  test('EDIT_INTERNAL_MESSAGES:false suppresses Update even with a delivery status', async () => {
    const { token } = await installedPortal(emulator, sink, {
      events: ALL,
      connector: { EDIT_INTERNAL_MESSAGES: false },
    })
    const { chatId } = await clientSays(emulator, token, 'x')
    const posted = await emulator.postOperatorMessage({ chatId, text: 'Hallo' })
    await rest(
      emulator,
      'imconnector.send.status.delivery',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          {
            im: { chat_id: chatId, message_id: posted.messageId },
            message: { id: ['a'] },
            chat: { id: 'tg-chat-77' },
          },
        ],
      },
      token,
    )
    expect((await emulator.editOperatorMessage({ messageId: posted.messageId, text: 'e' })).reason).toBe(
      'not allowed',
    )
  })
})

describe('dialog, status and line events (§6.7–6.9)', () => {
  test('DialogStart on the first message; DialogFinish token-less when an agent closes', async () => {
    const { token, applicationToken } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId, item } = await clientSays(emulator, token, 'x')
    await emulator.waitForEvents()
    const [start] = eventsNamed('ONIMCONNECTORDIALOGSTART')
    const session = item.session as { ID: string }
    expect(start!.data).toEqual({
      CONNECTOR: 'acme_tg',
      LINE: '12',
      DATA: {
        '0': {
          connector: { connector_id: 'acme_tg', line_id: '12', chat_id: 'tg-chat-77', user_id: '585' },
          session: { id: session.ID, closed: 'N', parent_id: '0', close_term: '10' },
          chat: { id: 'tg-chat-77' },
          user: { id: '585' },
        },
      },
    })
    await emulator.closeSession({ chatId, byAgent: true })
    const [finish] = eventsNamed('ONIMCONNECTORDIALOGFINISH')
    expect((finish!.data.DATA as Record<string, { session: { closed: string } }>)['0']!.session.closed).toBe(
      'Y',
    )
    expect(finish!.auth).toEqual({
      domain: emulator.portal.domain,
      server_endpoint: `${emulator.oauthUrl}/rest/`,
      client_endpoint: `${emulator.portalUrl()}/rest/`,
      member_id: emulator.portal.memberId,
      application_token: applicationToken,
    })
    // The next client message opens a new session.
    const next = await clientSays(emulator, token, 'again')
    expect((next.item.session as { ID: string }).ID).not.toBe(session.ID)
  })

  test('Disconnect → StatusDelete {connector, line}; line deletion → StatusDelete, LineDelete', async () => {
    await installedPortal(emulator, sink, { events: ALL })
    const off = await emulator.disconnectLine({ connector: 'acme_tg', line: 12 })
    expect(off.deleted).toBe(true)
    expect(decodeForm(off.deliveries[0]!.body).data).toEqual({ connector: 'acme_tg', line: '12' })
    await emulator.connectLine({ connector: 'acme_tg', line: 12 })
    const gone = await emulator.deleteLine({ line: 12 })
    expect(gone.deliveries.map((d) => d.event)).toEqual([
      'ONIMCONNECTORSTATUSDELETE',
      'ONIMCONNECTORLINEDELETE',
    ])
  })

  test('no retries: a failing handler gets one attempt and the failure is counted', async () => {
    const { token } = await installedPortal(emulator, sink, { events: ALL })
    const { chatId } = await clientSays(emulator, token, 'x')
    await emulator.waitForEvents()
    sink.respond('/events', 500, 'boom')
    await emulator.resetStats()
    const posted = await emulator.postOperatorMessage({ chatId, text: 'y' })
    expect(posted.deliveries).toHaveLength(1)
    expect(posted.deliveries[0]).toMatchObject({ status: 500, ok: false })
    await Bun.sleep(50)
    const stats = emulator.stats() as {
      eventsSent: number
      eventsFailed: number
      deliveries: { latencyMs: number }[]
    }
    expect(stats).toMatchObject({ eventsSent: 1, eventsFailed: 1 })
    expect(typeof stats.deliveries[0]!.latencyMs).toBe('number')
  })
})

describe('installFinish gate (§2.1, pitfall 2)', () => {
  test('bound events are held back until installFinish', async () => {
    await emulator.addLine({ id: 12, name: 'L' })
    sink.respond('/install', 200, '<html>no script</html>')
    const installed = await emulator.install({ appUrl: `${sink.url}/install` })
    expect(installed.finished).toBe(false)
    const token = installed.page!.authId
    expect(
      (
        await rest(
          emulator,
          'event.bind',
          { event: 'OnImConnectorStatusDelete', handler: `${sink.url}/events` },
          token,
        )
      ).body.result,
    ).toBe(true)
    expect((await rest(emulator, 'app.info', {}, token)).body.result).toMatchObject({ INSTALLED: false })
    await rest(
      emulator,
      'imconnector.register',
      { ID: 'acme_tg', NAME: 'T', ICON: { DATA_IMAGE: 'x' }, PLACEMENT_HANDLER: `${sink.url}/p` },
      token,
    )
    await rest(emulator, 'imconnector.activate', { CONNECTOR: 'acme_tg', LINE: 12, ACTIVE: 1 }, token)
    const held = await emulator.disconnectLine({ connector: 'acme_tg', line: 12 })
    expect(held.deliveries).toEqual([])
    expect((emulator.stats() as { eventsSuppressed: number }).eventsSuppressed).toBe(1)
    await emulator.finishInstall()
    await rest(emulator, 'imconnector.activate', { CONNECTOR: 'acme_tg', LINE: 12, ACTIVE: 1 }, token)
    const sent = await emulator.disconnectLine({ connector: 'acme_tg', line: 12 })
    expect(sent.deliveries).toHaveLength(1)
  })
})
