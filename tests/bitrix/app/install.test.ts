import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { BOUND_EVENTS, CONNECTOR_FLAGS } from '../../../src/bitrix/app/index.ts'
import { INSTALL_FINISH_MARKER } from '../../../src/bitrix/app/pages.ts'
import { connectors } from '../../../src/bitrix/connectors.ts'
import { rawText } from '../../storage/fixtures.ts'
import { countAllRows, createHarness, type Harness, install, PUBLIC_URL, phpForm, post } from './support.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

/** §2.2 sample, as the install wizard posts it (brackets-free keys, PHP encoding). */
const SAMPLE_BODY =
  'AUTH_ID=ahodg4h37n89vo17gbkgq0x1l825nnb5&AUTH_EXPIRES=3600&REFRESH_ID=2lg086mxijlpvwh0h7r4nl19udm4try5' +
  '&SERVER_ENDPOINT=https%3A%2F%2Foauth.bitrix.info%2Frest%2F' +
  '&APPLICATION_TOKEN=ec1b2074a9d3f5c81b6e40d27a95cf38' +
  '&APPLICATION_SCOPE=imopenlines%2Cimconnector%2Cplacement' +
  '&member_id=a223c6b3710f85df22e9377d6c4f7553&status=F' +
  '&PLACEMENT=DEFAULT'
const SAMPLE_QUERY = '?DOMAIN=acme.bitrix24.ru&PROTOCOL=1&LANG=ru&APP_SID=dd8cec11e3'

describe('POST /bitrix/install', () => {
  test('§2.2 sample: verified, stored sealed, connectors registered, events bound, finished', async () => {
    h.portal.tokens.set('ahodg4h37n89vo17gbkgq0x1l825nnb5', { admin: true })
    const res = await post(h, `/bitrix/install${SAMPLE_QUERY}`, SAMPLE_BODY)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(res.headers.get('x-frame-options')).toBeNull()
    const html = await res.text()
    expect(html).toContain(INSTALL_FINISH_MARKER)
    expect(html).toContain('//api.bitrix24.com/api/v1/')
    expect(html).toContain('BX24.installFinish()')
    expect(html).toContain('Olchat установлен')

    const verify = h.portal.tokenCalls.at(-1)!
    expect(verify).toMatchObject({ method: 'app.info', clientEndpoint: 'https://acme.bitrix24.ru/rest/' })

    const portal = await h.repos.portals.getByMemberId('a223c6b3710f85df22e9377d6c4f7553')
    expect(portal).toMatchObject({
      domain: 'acme.bitrix24.ru',
      clientEndpoint: 'https://acme.bitrix24.ru/rest/',
      serverEndpoint: 'https://oauth.bitrix.info/rest/',
      status: 'active',
      applicationToken: 'ec1b2074a9d3f5c81b6e40d27a95cf38',
      accessToken: 'ahodg4h37n89vo17gbkgq0x1l825nnb5',
      refreshToken: '2lg086mxijlpvwh0h7r4nl19udm4try5',
    })
    expect(portal.tokenExpiresAt!.toISOString()).toBe('2026-03-01T11:00:00.000Z')
    // S4: the tokens are nowhere in clear.
    const raw = await rawText(h.sql, 'portals')
    for (const secret of ['ec1b2074a9d3f5c81b6e40d27a95cf38', 'ahodg4h37n89vo17gbkgq0x1l825nnb5']) {
      expect(raw).not.toContain(secret)
    }

    const registered = h.portal.made('imconnector.register').filter((c) => c.portalId === portal.id)
    expect(registered.map((c) => c.params.ID)).toEqual([connectors.telegram.id, connectors.max.id])
    for (const call of registered) {
      expect(call.params).toMatchObject({
        ...CONNECTOR_FLAGS,
        PLACEMENT_HANDLER: `${PUBLIC_URL}/bitrix/placement`,
        ICON: { SIZE: '90%', POSITION: 'center' },
      })
      expect(String((call.params.ICON as { DATA_IMAGE: string }).DATA_IMAGE)).toStartWith(
        'data:image/svg+xml,',
      )
    }
    expect([...h.portal.bound.get(portal.id)!].sort()).toEqual(
      BOUND_EVENTS.map((e) => `${e.toUpperCase()}|${PUBLIC_URL}/bitrix/events`).sort(),
    )
  })

  test('re-install changes nothing twice: no duplicate handler, the same rows', async () => {
    const portal = await h.repos.portals.getByMemberId('a223c6b3710f85df22e9377d6c4f7553')
    const before = await countAllRows(h.sql)
    const bindsBefore = h.portal.made('event.bind').length
    const res = await post(h, `/bitrix/install${SAMPLE_QUERY}`, SAMPLE_BODY)
    expect(res.status).toBe(200)
    expect(h.portal.made('event.bind').length).toBe(bindsBefore)
    expect(h.portal.bound.get(portal.id)!.size).toBe(BOUND_EVENTS.length)
    expect(await countAllRows(h.sql)).toEqual(before)
    expect((await h.repos.portals.getByMemberId(portal.memberId)).id).toBe(portal.id)
  })

  test('a move to a new public address unbinds the handlers left at the old one', async () => {
    const portal = await h.repos.portals.getByMemberId('a223c6b3710f85df22e9377d6c4f7553')
    const bound = h.portal.bound.get(portal.id)!
    // As if an earlier installation had been reachable at another address.
    const old = 'https://old-olchat.example.com/bitrix/events'
    bound.add(`ONIMCONNECTORMESSAGEADD|${old}`)
    bound.add(`ONAPPUNINSTALL|${old}`)
    const res = await post(h, `/bitrix/install${SAMPLE_QUERY}`, SAMPLE_BODY)
    expect(res.status).toBe(200)
    expect([...bound].filter((key) => key.endsWith(old))).toEqual([])
    expect([...bound].sort()).toEqual(
      BOUND_EVENTS.map((e) => `${e.toUpperCase()}|${PUBLIC_URL}/bitrix/events`).sort(),
    )
    expect(h.portal.made('event.unbind').map((c) => c.params.handler)).toEqual([old, old])
  })

  test('"Handler already binded" from a concurrent install counts as bound', async () => {
    const installed = await install(h)
    // The portal has the handlers but event.get does not show them (a race with another install run).
    const get = h.portal.call.bind(h.portal)
    h.portal.call = (async (portalId: string, method: string, params?: Record<string, unknown>) =>
      method === 'event.get' ? [] : get(portalId, method, params)) as typeof h.portal.call
    try {
      const body = phpForm([
        ['AUTH_ID', installed.accessToken],
        ['AUTH_EXPIRES', '3600'],
        ['REFRESH_ID', 'refresh-again-xxxxxxxxxxxxxxxx'],
        ['APPLICATION_TOKEN', installed.appToken],
        ['member_id', installed.memberId],
      ])
      const binds = h.portal.made('event.bind').length
      const res = await post(h, `/bitrix/install?DOMAIN=${installed.domain}&PROTOCOL=1`, body)
      expect(res.status).toBe(200)
      expect(h.portal.made('event.bind').length).toBe(binds + BOUND_EVENTS.length)
      expect(h.portal.bound.get(installed.id)!.size).toBe(BOUND_EVENTS.length)
    } finally {
      h.portal.call = get
    }
  })

  test('English when the portal user reads English', async () => {
    const installed = await install(h)
    const body = phpForm([
      ['AUTH_ID', installed.accessToken],
      ['AUTH_EXPIRES', '3600'],
      ['REFRESH_ID', 'refresh-en-xxxxxxxxxxxxxxxxxxx'],
      ['APPLICATION_TOKEN', installed.appToken],
      ['member_id', installed.memberId],
    ])
    const res = await post(h, `/bitrix/install?DOMAIN=${installed.domain}&PROTOCOL=1&LANG=en`, body)
    expect(await res.text()).toContain('Olchat is installed')
  })

  test('verification failure stores nothing', async () => {
    const before = await countAllRows(h.sql)
    const body = phpForm([
      ['AUTH_ID', 'forged-access-token-xxxxxxxxxx'],
      ['AUTH_EXPIRES', '3600'],
      ['REFRESH_ID', 'forged-refresh-token-xxxxxxxxx'],
      ['APPLICATION_TOKEN', 'forged-app-token-xxxxxxxxxxxxx'],
      ['member_id', 'fakeportal0000000000000000000001'],
    ])
    const calls = h.portal.calls.length
    const res = await post(h, '/bitrix/install?DOMAIN=evil.example.com&PROTOCOL=1', body)
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('Портал не подтвердил')
    expect(await countAllRows(h.sql)).toEqual(before)
    expect(h.portal.calls.length).toBe(calls)
  })

  test("a known portal's tokens cannot be swapped from another address", async () => {
    const installed = await install(h)
    const stored = await h.repos.portals.get(installed.id)
    // The attacker's own "portal" vouches for the attacker's token; the real portal does not know it.
    h.portal.tokens.set('attacker-token-xxxxxxxxxxxxxxx', {
      admin: true,
      endpoint: 'https://evil.example.com/rest/',
    })
    const body = phpForm([
      ['AUTH_ID', 'attacker-token-xxxxxxxxxxxxxxx'],
      ['AUTH_EXPIRES', '3600'],
      ['REFRESH_ID', 'attacker-refresh-xxxxxxxxxxxxx'],
      ['APPLICATION_TOKEN', 'attacker-app-token-xxxxxxxxxxx'],
      ['member_id', installed.memberId],
    ])
    const res = await post(h, '/bitrix/install?DOMAIN=evil.example.com&PROTOCOL=1', body)
    expect(res.status).toBe(403)
    expect(h.portal.tokenCalls.at(-1)!.clientEndpoint).toBe(`https://${installed.domain}/rest/`)
    expect(await h.repos.portals.get(installed.id)).toEqual(stored)
  })

  test('http:// portals and foreign OAuth servers are refused unless allowed', async () => {
    const before = await countAllRows(h.sql)
    h.portal.tokens.set('plain-http-token-xxxxxxxxxxxxx', { admin: true })
    const body = phpForm([
      ['AUTH_ID', 'plain-http-token-xxxxxxxxxxxxx'],
      ['AUTH_EXPIRES', '3600'],
      ['REFRESH_ID', 'plain-http-refresh-xxxxxxxxxxx'],
      ['APPLICATION_TOKEN', 'plain-http-app-xxxxxxxxxxxxxxx'],
      ['member_id', 'httpportal00000000000000000000001'],
    ])
    const http = await post(h, '/bitrix/install?DOMAIN=acme.bitrix24.ru&PROTOCOL=0', body)
    expect(http.status).toBe(400)
    expect(await http.text()).toContain('https://')
    const foreign = `${body}&SERVER_ENDPOINT=${encodeURIComponent('https://oauth.evil.example/rest/')}`
    expect((await post(h, '/bitrix/install?DOMAIN=acme.bitrix24.ru&PROTOCOL=1', foreign)).status).toBe(400)
    expect(await countAllRows(h.sql)).toEqual(before)
  })

  test('bad input answers 400 with the reason and stores nothing', async () => {
    const before = await countAllRows(h.sql)
    const missing = await post(h, '/bitrix/install?DOMAIN=acme.bitrix24.ru', 'AUTH_ID=abc&member_id=m1')
    expect(missing.status).toBe(400)
    expect(await missing.text()).toContain('AUTH_EXPIRES: missing')
    const noDomain = await post(h, '/bitrix/install', `${SAMPLE_BODY}`)
    expect(noDomain.status).toBe(400)
    const json = await post(h, `/bitrix/install${SAMPLE_QUERY}`, '{}', { 'content-type': 'application/json' })
    expect(json.status).toBe(415)
    expect(await countAllRows(h.sql)).toEqual(before)
  })

  test('a set-up the portal refuses does not finish the install', async () => {
    const installed = await install(h)
    h.portal.failing.add('imconnector.register')
    try {
      const body = phpForm([
        ['AUTH_ID', installed.accessToken],
        ['AUTH_EXPIRES', '3600'],
        ['REFRESH_ID', 'refresh-fail-xxxxxxxxxxxxxxxxx'],
        ['APPLICATION_TOKEN', installed.appToken],
        ['member_id', installed.memberId],
      ])
      const res = await post(h, `/bitrix/install?DOMAIN=${installed.domain}&PROTOCOL=1`, body)
      expect(res.status).toBe(502)
      expect(await res.text()).not.toContain('installFinish')
    } finally {
      h.portal.failing.delete('imconnector.register')
    }
  })

  test('the sandbox connector is registered only when enabled', async () => {
    const sandbox = await createHarness({ deps: { options: { sandboxConnector: true } } })
    try {
      const installed = await install(sandbox)
      const ids = sandbox.portal.made('imconnector.register').map((c) => c.params.ID)
      expect(ids).toEqual([connectors.telegram.id, connectors.max.id, connectors.sandbox.id])
      expect(installed.id).toBeString()
    } finally {
      await sandbox.close()
    }
    expect(h.portal.made('imconnector.register').map((c) => c.params.ID)).not.toContain(connectors.sandbox.id)
  })
})
