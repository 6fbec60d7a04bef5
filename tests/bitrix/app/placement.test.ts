import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { portalRef } from '../../../src/bitrix/app/security.ts'
import { openSession, signSession } from '../../../src/bitrix/app/session.ts'
import type { Account } from '../../../storage/repos/accounts.ts'
import { secrets } from '../../storage/fixtures.ts'
import {
  countAllRows,
  createHarness,
  type Harness,
  type InstalledPortal,
  install,
  PUBLIC_URL,
  phpForm,
  post,
} from './support.ts'

let h: Harness
let p: InstalledPortal
let tg1: Account
let tg2: Account
let max: Account

const ADMIN = 'admin-access-token-xxxxxxxxxxxx'
const OPERATOR = 'operator-access-token-xxxxxxxxx'

/** §7: the portal's POST when an admin connects the connector to line 3. */
function placementBody({
  authId = ADMIN,
  appToken = p.appToken as string | null,
  connector = 'olchat_telegram',
  line = '3',
} = {}) {
  const options = JSON.stringify({
    CONNECTOR: connector,
    LINE: line,
    STATUS: false,
    ACTIVE_STATUS: true,
    CONNECTION_STATUS: false,
    REGISTER_STATUS: false,
    ERROR_STATUS: false,
    URI: `/contact_center/connector/?ID=${connector}&IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER`,
  })
  return phpForm([
    ['AUTH_ID', authId],
    ['AUTH_EXPIRES', '3600'],
    ['REFRESH_ID', 'placement-refresh-xxxxxxxxxxxxx'],
    ['member_id', p.memberId],
    ...(appToken === null ? [] : ([['APPLICATION_TOKEN', appToken]] as [string, string][])),
    ['status', 'L'],
    ['PLACEMENT', 'SETTING_CONNECTOR'],
    ['PLACEMENT_OPTIONS', options],
  ])
}

function open(body = placementBody(), lang = 'ru') {
  return post(h, `/bitrix/placement?DOMAIN=${p.domain}&PROTOCOL=1&LANG=${lang}&APP_SID=s1`, body)
}

function sessionOf(html: string): string {
  const match = /name="session" value="([^"]+)"/.exec(html)
  if (!match) throw new Error(`no session in page: ${html.slice(0, 400)}`)
  return match[1]!
}

function click(session: string, action: 'bind' | 'unbind', account: string) {
  return post(
    h,
    '/bitrix/placement',
    phpForm([
      ['session', session],
      ['action', action],
      ['account', account],
    ]),
  )
}

beforeAll(async () => {
  h = await createHarness()
  p = await install(h)
  h.portal.tokens.set(ADMIN, { admin: true })
  h.portal.tokens.set(OPERATOR, { admin: false })
  tg1 = await h.repos.accounts.create({
    portalId: p.id,
    messenger: 'telegram',
    displayName: 'Acme <Support>',
    username: 'acme_support',
  })
  tg2 = await h.repos.accounts.create({ portalId: p.id, messenger: 'telegram', displayName: 'Acme Sales' })
  max = await h.repos.accounts.create({ portalId: p.id, messenger: 'max', displayName: 'Acme MAX' })
})
afterAll(() => h.close())
beforeEach(() => {
  h.setNow(new Date('2026-03-01T10:00:00Z'))
})

describe('POST /bitrix/placement (SETTING_CONNECTOR)', () => {
  test('an admin sees the accounts for the connector; a frameable page with a session', async () => {
    const res = await open()
    expect(res.status).toBe(200)
    expect(res.headers.get('x-frame-options')).toBeNull()
    expect(res.headers.get('set-cookie')).toBeNull()
    const html = await res.text()
    expect(html).toContain('Telegram (Olchat): открытая линия 3')
    expect(html).toContain('Acme &lt;Support&gt; (@acme_support)')
    expect(html).toContain('Acme Sales')
    expect(html).not.toContain('Acme MAX')
    expect(html).toContain(`action="${PUBLIC_URL}/bitrix/placement"`)
    // Asked of the portal at its stored address, with the posted token.
    expect(h.portal.tokenCalls.at(-1)).toMatchObject({
      method: 'user.admin',
      accessToken: ADMIN,
      clientEndpoint: `https://${p.domain}/rest/`,
    })
    const session = openSession(secrets, sessionOf(html), new Date('2026-03-01T10:00:00Z'))
    expect(session).toMatchObject({ portalId: p.id, connectorId: 'olchat_telegram', lineId: '3', lang: 'ru' })
  })

  test('English for an English-speaking admin; the MAX connector lists MAX accounts', async () => {
    const html = await (await open(placementBody({ connector: 'OLCHAT_MAX' }), 'en')).text()
    expect(html).toContain('MAX (Olchat): Open Line 3')
    expect(html).toContain('Acme MAX')
    expect(html).not.toContain('Acme Sales')
  })

  test('an account without a session says a new login is needed (needs_login, disconnected)', async () => {
    await h.repos.accounts.setHealth(tg2.id, 'needs_login')
    try {
      const ru = await (await open()).text()
      expect(ru).toContain('нужен повторный вход')
      expect(ru.match(/нужен повторный вход/g)).toHaveLength(1)
      await h.repos.accounts.setHealth(tg2.id, 'disconnected')
      const en = await (await open(placementBody(), 'en')).text()
      expect(en).toContain('disconnected: log the account in again')
      expect(en).not.toContain('needs a new login')
    } finally {
      await h.repos.accounts.setHealth(tg2.id, 'connecting')
    }
  })

  test('forged AUTH_ID, non-admin, wrong APPLICATION_TOKEN, unknown portal: 403, no change', async () => {
    const before = await countAllRows(h.sql)
    const calls = h.portal.calls.length
    const forged = await open(placementBody({ authId: 'forged-token-xxxxxxxxxxxxxxxxxx' }))
    expect(forged.status).toBe(403)
    expect(await forged.text()).not.toContain('name="session"')
    expect((await open(placementBody({ authId: OPERATOR }))).status).toBe(403)
    expect((await open(placementBody({ appToken: 'wrong-app-token-xxxxxxxxxxxxx' }))).status).toBe(403)
    const unknown = placementBody().replace(
      `member_id=${p.memberId}`,
      'member_id=unknownportal00000000000000000',
    )
    expect((await open(unknown)).status).toBe(403)
    expect(await countAllRows(h.sql)).toEqual(before)
    expect(h.portal.calls.length).toBe(calls)
  })

  test('bad posts answer 400 with the reason', async () => {
    const notOurs = await open(placementBody({ connector: 'telegrambot' }))
    expect(notOurs.status).toBe(400)
    expect(await notOurs.text()).toContain('not an Olchat connector')
    const badJson = placementBody().replace(/PLACEMENT_OPTIONS=[^&]*/, 'PLACEMENT_OPTIONS=%7Bbroken')
    const res = await open(badJson)
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('PLACEMENT_OPTIONS: not valid JSON')
  })

  test('bind: line stored, account bound, imconnector.activate and connector.data.set called', async () => {
    const session = sessionOf(await (await open()).text())
    const res = await click(session, 'bind', tg1.id)
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('Аккаунт подключён к линии.')
    const line = await h.repos.lines.find(p.id, 'olchat_telegram', '3')
    expect(line).toBeDefined()
    expect((await h.repos.accounts.get(tg1.id)).lineId).toBe(line!.id)
    expect(h.portal.made('imconnector.activate').at(-1)).toMatchObject({
      portalId: p.id,
      params: { CONNECTOR: 'olchat_telegram', LINE: 3, ACTIVE: 1 },
    })
    expect(h.portal.made('imconnector.connector.data.set').at(-1)!.params).toEqual({
      CONNECTOR: 'olchat_telegram',
      LINE: 3,
      DATA: {
        ID: 'olchat_telegram_line3',
        URL: 'https://t.me/acme_support',
        URL_IM: 'https://t.me/acme_support',
        NAME: 'Acme <Support>',
      },
    })
    // The page offers to unbind the account that now serves the line.
    expect(html).toMatch(new RegExp(`value="unbind">.*value="${tg1.id}"`))
    // P2: the settings change is audited, the admin named by a keyed hash of the token, not the token.
    const [entry] = await h.repos.auditLog.listByPortal(portalRef(secrets, p.memberId))
    expect(entry).toMatchObject({
      action: 'connector.line.bound',
      actorRole: 'portal-admin',
      target: 'olchat_telegram:3',
      details: { accountId: tg1.id },
    })
    expect(JSON.stringify(entry)).not.toContain(ADMIN)
  })

  test('binding another account to the line unbinds the first (one account per line)', async () => {
    const session = sessionOf(await (await open()).text())
    expect((await click(session, 'bind', tg2.id)).status).toBe(200)
    const line = await h.repos.lines.find(p.id, 'olchat_telegram', '3')
    expect((await h.repos.accounts.get(tg2.id)).lineId).toBe(line!.id)
    expect((await h.repos.accounts.get(tg1.id)).lineId).toBeNull()
  })

  test('unbind: the account is unbound and the line deactivated', async () => {
    const session = sessionOf(await (await open()).text())
    const res = await click(session, 'unbind', tg2.id)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Аккаунт отключён от линии.')
    expect((await h.repos.accounts.get(tg2.id)).lineId).toBeNull()
    expect(h.portal.made('imconnector.activate').at(-1)!.params).toEqual({
      CONNECTOR: 'olchat_telegram',
      LINE: 3,
      ACTIVE: 0,
    })
  })

  test('a portal that does not confirm the change is reported; the binding is kept for a retry', async () => {
    const session = sessionOf(await (await open()).text())
    h.portal.failing.add('imconnector.activate')
    try {
      const res = await click(session, 'bind', tg1.id)
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('Битрикс24 не подтвердил')
      expect((await h.repos.accounts.get(tg1.id)).lineId).not.toBeNull()
    } finally {
      h.portal.failing.delete('imconnector.activate')
    }
  })

  test('a tampered, foreign or expired session token: 403 and nothing changes', async () => {
    const token = sessionOf(await (await open()).text())
    const [payload, mac] = token.split('.')
    const decoded = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>
    const otherLine = Buffer.from(JSON.stringify({ ...decoded, lineId: '4' })).toString('base64url')
    const forgedKey = signSession(
      { deriveKey: () => Buffer.alloc(32, 7) },
      { ...(decoded as unknown as Parameters<typeof signSession>[1]) },
    )
    const before = await countAllRows(h.sql)
    const calls = h.portal.calls.length
    for (const bad of [
      `${otherLine}.${mac}`,
      `${payload}.${mac!.slice(0, -2)}AA`,
      forgedKey,
      'garbage',
      '',
    ]) {
      const res = await click(bad, 'bind', tg2.id)
      expect(res.status).toBe(403)
    }
    h.setNow(new Date('2026-03-01T10:31:00Z'))
    expect((await click(token, 'bind', tg2.id)).status).toBe(403)
    expect(await countAllRows(h.sql)).toEqual(before)
    expect(h.portal.calls.length).toBe(calls)
  })

  test("another portal's account or a wrong messenger cannot be bound", async () => {
    const session = sessionOf(await (await open()).text())
    const stranger = await install(h)
    const foreign = await h.repos.accounts.create({ portalId: stranger.id, messenger: 'telegram' })
    expect((await click(session, 'bind', foreign.id)).status).toBe(404)
    expect((await click(session, 'bind', max.id)).status).toBe(404)
    expect((await h.repos.accounts.get(foreign.id)).lineId).toBeNull()
    expect((await h.repos.accounts.get(max.id)).lineId).toBeNull()
  })

  test("the employee field: the owner's own messages are shown as that employee's, empty clears it", async () => {
    const page = await (await open()).text()
    expect(page).toContain('ID сотрудника')
    expect(page).toContain('Поле пустое — такие сообщения в Битрикс24 не передаются')
    const session = sessionOf(page)
    const save = (employee: string, account = tg2.id) =>
      post(
        h,
        '/bitrix/placement',
        phpForm([
          ['session', session],
          ['action', 'employee'],
          ['account', account],
          ['employee', employee],
        ]),
      )
    const saved = await save(' 27 ')
    expect(saved.status).toBe(200)
    const html = await saved.text()
    expect(html).toContain('Сотрудник сохранён.')
    expect(html).toContain('name="employee" value="27"')
    expect((await h.repos.accounts.get(tg2.id)).employeeId).toBe('27')
    const [entry] = await h.sql<{ actorRole: string; details: Record<string, unknown> }[]>`
      select actor_role, details from audit_log
      where action = 'account.employee_set' and target = ${`account:${tg2.id}`}`
    expect(entry).toMatchObject({ actorRole: 'portal-admin', details: { employeeId: '27' } })
    expect((await save('abc')).status).toBe(400)
    expect((await save('')).status).toBe(200)
    expect((await h.repos.accounts.get(tg2.id)).employeeId).toBeNull()
    // A MAX bot has no owner writing from a phone: no field on its page, and a forged click is refused.
    const maxPage = await (await open(placementBody({ connector: 'olchat_max' }), 'en')).text()
    expect(maxPage).not.toContain('Employee ID')
    const maxSession = sessionOf(maxPage)
    const forged = await post(
      h,
      '/bitrix/placement',
      phpForm([
        ['session', maxSession],
        ['action', 'employee'],
        ['account', max.id],
        ['employee', '27'],
      ]),
    )
    expect(forged.status).toBe(400)
    expect((await h.repos.accounts.get(max.id)).employeeId).toBeNull()
  })

  test('no accounts yet: the page says how to connect one', async () => {
    const empty = await install(h)
    const body = placementBody().replace(`member_id=${p.memberId}`, `member_id=${empty.memberId}`)
    const res = await post(
      h,
      `/bitrix/placement?DOMAIN=${empty.domain}&LANG=ru`,
      body.replace(p.appToken, empty.appToken),
    )
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Подключённых аккаунтов пока нет')
  })
})
