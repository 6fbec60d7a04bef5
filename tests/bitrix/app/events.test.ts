import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { OperatorDeliveryPayload } from '../../../src/bitrix/app/index.ts'
import { BOUND_EVENTS } from '../../../src/bitrix/app/index.ts'
import type { Delivery } from '../../../storage/repos/deliveries.ts'
import { rawText } from '../../storage/fixtures.ts'
import * as samples from './samples.ts'
import {
  countAllRows,
  createHarness,
  type Harness,
  type InstalledPortal,
  install,
  phpEncode,
  post,
} from './support.ts'

let h: Harness
let p: InstalledPortal
let auth: samples.Auth
let accountId: string
let chatId: string

async function bindAccount(portalId: string, lineId = '12') {
  const line = await h.repos.lines.upsert({ portalId, connectorId: 'olchat_telegram', lineId })
  const account = await h.repos.accounts.create({ portalId, messenger: 'telegram', lineId: line.id })
  const chat = await h.repos.chats.upsert({ accountId: account.id, remoteChatId: 'tg-chat-77' })
  return { account, chat, line }
}

async function deliveries(): Promise<Delivery[]> {
  const rows = await h.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${accountId} order by id`
  return Promise.all(rows.map((row) => h.repos.deliveries.get(row.id)))
}

async function inboxRows() {
  return h.sql<
    { id: string; event: string; status: string; lastError: string | null; payloadEnc: Buffer | null }[]
  >`
    select id, event, status, last_error, payload_enc from inbound_events
    where portal_id = ${p.id} order by id`
}

beforeAll(async () => {
  h = await createHarness()
  p = await install(h)
  auth = { memberId: p.memberId, appToken: p.appToken }
  const bound = await bindAccount(p.id)
  accountId = bound.account.id
  chatId = bound.chat.id
})
afterAll(() => h.close())

describe('POST /bitrix/events: documented samples', () => {
  test('S4, R8: MessageAdd (§6.4) is stored sealed before the 200, then becomes a delivery', async () => {
    const res = await post(h, '/bitrix/events', samples.messageAdd(auth))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, duplicate: false })
    const [row] = await inboxRows()
    expect(row).toMatchObject({ event: 'ONIMCONNECTORMESSAGEADD', status: 'pending' })
    const raw = await rawText(h.sql, 'inbound_events')
    for (const clear of ['Guten', 'Klaus', 'photo.jpg', p.appToken, 's6p6eclrvim6da22ft9ch94ekreb52lv']) {
      expect(raw).not.toContain(clear)
    }
    const stored = await h.inbox.get(row!.id)
    expect(stored.payload).not.toHaveProperty('auth')

    expect(await h.process()).toBe(1)
    const [done] = await inboxRows()
    expect(done).toMatchObject({ status: 'done', lastError: null, payloadEnc: null })
    const [delivery] = await deliveries()
    expect(delivery).toMatchObject({
      direction: 'to_messenger',
      kind: 'message',
      chatId,
      idempotencyKey: `b24:${p.id}:86497:message`,
    })
    expect(delivery!.payload as OperatorDeliveryPayload).toEqual({
      source: 'bitrix24',
      connector: 'olchat_telegram',
      line: '12',
      im: { chat_id: '1767', message_id: '86497' },
      chat: { id: 'tg-chat-77' },
      user_id: '27',
      text: '<b>Klaus Weber:</b>\nGuten Tag!',
      format: 'html',
      files: [
        {
          name: 'photo.jpg',
          mime: 'image/jpeg',
          link: 'https://acme.bitrix24.ru/~Ab3dE#img.jpg',
          size: 183412,
        },
        { name: 'offer.pdf', mime: 'application/pdf', link: 'https://acme.bitrix24.ru/~Xy9Qw', size: 55012 },
      ],
      remoteIds: [],
    })
    expect((await h.repos.chats.get(chatId)).portalChatId).toBe('1767')
  })

  test('the 2023 capture (literal brackets, empty arrays absent) is accepted', async () => {
    const res = await post(h, '/bitrix/events', samples.messageAddCapture(auth))
    expect(res.status).toBe(200)
    await h.process()
    const last = (await deliveries()).at(-1)!
    expect(last.idempotencyKey).toBe(`b24:${p.id}:86498:message`)
    expect((last.payload as OperatorDeliveryPayload).files).toEqual([])
  })

  test('a repeated event is ignored (same dedup key), a repeated message is one delivery', async () => {
    const before = await countAllRows(h.sql)
    const res = await post(h, '/bitrix/events', samples.messageAdd(auth))
    expect(await res.json()).toEqual({ ok: true, duplicate: true })
    expect(await countAllRows(h.sql)).toEqual(before)
  })

  test('MessageUpdate (§6.5) becomes an edit with the stored messenger ids; edits never clash', async () => {
    expect((await post(h, '/bitrix/events', samples.messageUpdate(auth))).status).toBe(200)
    const second = samples.messageUpdate(auth).replace('ts=1773759200', 'ts=1773759201')
    expect((await post(h, '/bitrix/events', second)).status).toBe(200)
    await h.process()
    const edits = (await deliveries()).filter((d) => d.kind === 'edit')
    expect(edits).toHaveLength(2)
    expect(edits[0]!.payload as OperatorDeliveryPayload).toMatchObject({
      im: { chat_id: '1767', message_id: '86501' },
      text: '<b>Klaus Weber:</b>\ncorrected text',
      remoteIds: ['tg-5551'],
    })
    expect(edits[0]!.idempotencyKey).not.toBe(edits[1]!.idempotencyKey)
  })

  test('MessageDelete (§6.6): one delivery deletes every messenger id of the message', async () => {
    expect((await post(h, '/bitrix/events', samples.messageDelete(auth))).status).toBe(200)
    await h.process()
    const [deletion] = (await deliveries()).filter((d) => d.kind === 'delete')
    expect(deletion!.idempotencyKey).toBe(`b24:${p.id}:86501:delete`)
    expect(deletion!.payload as OperatorDeliveryPayload).toMatchObject({
      text: '',
      remoteIds: ['tg-5551', 'tg-5552'],
    })
  })

  test('25 MESSAGES with files (arrays longer than 20 stay arrays)', async () => {
    const pairs: string[] = [
      'event=ONIMCONNECTORMESSAGEADD',
      'data%5BCONNECTOR%5D=olchat_telegram',
      'data%5BLINE%5D=12',
    ]
    for (let i = 0; i < 25; i++) {
      const m = (key: string) =>
        `data%5BMESSAGES%5D%5B${i}%5D${key.replace(/\[/g, '%5B').replace(/\]/g, '%5D')}`
      pairs.push(
        `${m('[im][chat_id]')}=1767`,
        `${m('[im][message_id]')}=${90000 + i}`,
        `${m('[message][user_id]')}=27`,
        `${m('[message][text]')}=${phpEncode(`[b]Operator:[/b] [br]Reply #${i} & <ok>`)}`,
        ...[0, 1, 2].flatMap((f) => [
          `${m(`[message][files][${f}][name]`)}=${phpEncode(`file ${i}-${f}.txt`)}`,
          `${m(`[message][files][${f}][mime]`)}=text%2Fplain`,
          `${m(`[message][files][${f}][link]`)}=${phpEncode(`https://acme.bitrix24.ru/~f${i}x${f}`)}`,
          `${m(`[message][files][${f}][size]`)}=${100 + f}`,
        ]),
        `${m('[chat][id]')}=tg-chat-77`,
      )
    }
    pairs.push('ts=1773759999', samples.authBlock(auth))
    const res = await post(h, '/bitrix/events', pairs.join('&'))
    expect(res.status).toBe(200)
    await h.process()
    const batch = (await deliveries()).filter((d) => d.idempotencyKey.match(/:9\d{4}:message$/))
    expect(batch).toHaveLength(25)
    batch.forEach((delivery, i) => {
      const payload = delivery.payload as OperatorDeliveryPayload
      expect(payload.im.message_id).toBe(String(90000 + i))
      expect(payload.text).toBe(`<b>Operator:</b>\nReply #${i} &amp; &lt;ok&gt;`)
      expect(payload.files.map((f) => f.name)).toEqual([0, 1, 2].map((f) => `file ${i}-${f}.txt`))
    })
  })

  test('DialogStart / DialogFinish (§6.7) record the session; a token-less finish is accepted', async () => {
    expect((await post(h, '/bitrix/events', samples.dialog(auth, 'START'))).status).toBe(200)
    await h.process()
    expect((await h.repos.chats.get(chatId)).context).toEqual({
      openLinesSession: { id: '3282', closed: false, at: '1773759400' },
    })
    expect((await post(h, '/bitrix/events', samples.dialog(auth, 'FINISH', '1773759450'))).status).toBe(200)
    await h.process()
    expect((await h.repos.chats.get(chatId)).context).toMatchObject({ openLinesSession: { closed: true } })
  })

  test('OnAppUpdate re-registers the connectors and binds the dropped handlers again', async () => {
    h.portal.bound.delete(p.id)
    const registers = h.portal.made('imconnector.register').length
    expect((await post(h, '/bitrix/events', samples.appUpdate(auth))).status).toBe(200)
    await h.process()
    expect(h.portal.made('imconnector.register').length).toBe(registers + 2)
    expect(h.portal.bound.get(p.id)!.size).toBe(BOUND_EVENTS.length)
  })

  test('StatusDelete (§6.8) unbinds the line: later operator messages are not relayed', async () => {
    expect((await post(h, '/bitrix/events', samples.statusDelete(auth))).status).toBe(200)
    await h.process()
    expect(await h.repos.lines.find(p.id, 'olchat_telegram', '12')).toBeUndefined()
    expect((await h.repos.accounts.get(accountId)).lineId).toBeNull()
    const count = (await deliveries()).length
    const later = samples.messageAdd(auth, { messageId: '99999' })
    expect((await post(h, '/bitrix/events', later)).status).toBe(200)
    await h.process()
    expect((await deliveries()).length).toBe(count)
    expect((await inboxRows()).at(-1)).toMatchObject({
      status: 'done',
      lastError: 'no account bound to olchat_telegram line 12',
    })
  })

  test('LineDelete (§6.9, scalar data) unbinds every connector of the line', async () => {
    const other = await bindAccount(p.id, '14')
    await h.repos.lines.upsert({ portalId: p.id, connectorId: 'olchat_max', lineId: '14' })
    expect((await post(h, '/bitrix/events', samples.lineDelete(auth, '14'))).status).toBe(200)
    await h.process()
    expect((await h.repos.lines.listByPortal(p.id)).filter((l) => l.lineId === '14')).toEqual([])
    expect((await h.repos.accounts.get(other.account.id)).lineId).toBeNull()
  })
})

describe('POST /bitrix/events: forged and unauthenticated events', () => {
  test('wrong token, unknown portal, missing token: 401 and zero rows', async () => {
    const before = await countAllRows(h.sql)
    const wrong = samples.messageAdd({ ...auth, appToken: 'not-the-application-token' }, { messageId: '1' })
    const unknown = samples.messageAdd({ memberId: 'unknownportal000000000000000001', appToken: p.appToken })
    const missing = samples.messageAdd(auth).replace(/&auth%5Bapplication_token%5D=[^&]*/, '')
    for (const body of [wrong, unknown, missing, samples.appUninstall({ ...auth, appToken: 'wrong' })]) {
      const res = await post(h, '/bitrix/events', body)
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: 'unauthorized' })
    }
    expect(await countAllRows(h.sql)).toEqual(before)
    expect((await h.repos.portals.get(p.id)).status).toBe('active')
  })

  test('ONAPPINSTALL (§2.3), unknown portal: stored only after app.info confirmed the token', async () => {
    const before = await countAllRows(h.sql)
    const fresh = {
      memberId: 'a223c6b3710f85df22e9377d6c4f7999',
      appToken: '51856fefc120afa4b628cc82d3935cce',
    }
    const refused = await post(
      h,
      '/bitrix/events',
      samples.appInstall(fresh, 'unconfirmed-token-xxxxxxxxxxxx'),
    )
    expect(refused.status).toBe(401)
    expect(await countAllRows(h.sql)).toEqual(before)

    h.portal.tokens.set('s6p6eclrvim6da22ft9ch94ekreb52lv', { admin: true })
    const res = await post(h, '/bitrix/events', samples.appInstall(fresh))
    expect(res.status).toBe(200)
    expect(h.portal.tokenCalls.at(-1)).toMatchObject({
      method: 'app.info',
      clientEndpoint: 'https://some-domain.bitrix24.com/rest/',
      accessToken: 's6p6eclrvim6da22ft9ch94ekreb52lv',
    })
    const portal = await h.repos.portals.getByMemberId(fresh.memberId)
    expect(portal).toMatchObject({
      domain: 'some-domain.bitrix24.com',
      applicationToken: fresh.appToken,
      refreshToken: '4s386p3q0tr8dy89xvmt96234v3dljg8',
      tokenExpiresAt: new Date(1696530600 * 1000),
    })
    await h.process()
    expect(h.portal.bound.get(portal.id)!.size).toBe(BOUND_EVENTS.length)
    expect(h.portal.made('imconnector.register').filter((c) => c.portalId === portal.id)).toHaveLength(2)
  })

  test('ONAPPINSTALL naming another address than its domain is refused', async () => {
    const body = samples
      .appInstall({ memberId: 'm0000000000000000000000000000abc', appToken: 'x'.repeat(32) })
      .replace('some-domain.bitrix24.com%2Frest', 'evil.example.com%2Frest')
    const res = await post(h, '/bitrix/events', body)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { reason: string }).reason).toContain('client_endpoint')
  })

  test('JSON bodies are refused: Bitrix24 posts forms (pitfall 1)', async () => {
    const res = await post(h, '/bitrix/events', JSON.stringify({ event: 'ONAPPUPDATE' }), {
      'content-type': 'application/json',
    })
    expect(res.status).toBe(415)
  })

  test('malformed events answer 400 with a reason that does not echo the values', async () => {
    const cases: [string, string][] = [
      ['event=ONIMCONNECTORMESSAGEADD&ts=1', 'data: missing'],
      ['event=SOMETHINGELSE&ts=1', 'event: missing or unsupported event name'],
      [samples.messageAdd(auth).replace('data%5BLINE%5D=12', 'data%5BLINE%5D=twelve'), 'data.LINE: digits'],
      [
        samples.messageAdd(auth).replace(/data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=1767/, ''),
        'data.MESSAGES.0.im.chat_id: missing',
      ],
      [samples.lineDelete(auth).replace('data=12', 'data%5Bx%5D=12'), 'data: expected string'],
    ]
    for (const [body, reason] of cases) {
      const res = await post(h, '/bitrix/events', body)
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ error: 'malformed_event', reason })
    }
  })
})
