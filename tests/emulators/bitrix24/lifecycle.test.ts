import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { FINISHING_PAGE, installedPortal, rest, type Sink, startSink } from './testkit.ts'

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

describe('install (§2.2, §2.3)', () => {
  test('install page: DOMAIN/PROTOCOL/LANG/APP_SID in the query, the token form in the body', async () => {
    sink.respond('/install', 200, FINISHING_PAGE)
    const result = await emulator.install({
      appUrl: `${sink.url}/install?x=1`,
      eventUrl: `${sink.url}/installed`,
    })
    expect(result.finished).toBe(true) // the page "ran" BX24.installFinish()
    const [page] = sink.on('/install')
    expect(page!.method).toBe('POST')
    expect(page!.query.get('x')).toBe('1')
    expect(page!.query.get('DOMAIN')).toBe(emulator.portal.domain)
    expect(page!.query.get('PROTOCOL')).toBe('0')
    expect(page!.query.get('LANG')).toBe('ru')
    expect(page!.query.get('APP_SID')).toMatch(/^[0-9a-f]{32}$/)
    expect(page!.headers.get('content-type')).toBe('application/x-www-form-urlencoded')
    expect(Object.keys(page!.form)).toEqual([
      'AUTH_ID',
      'AUTH_EXPIRES',
      'REFRESH_ID',
      'SERVER_ENDPOINT',
      'APPLICATION_TOKEN',
      'APPLICATION_SCOPE',
      'member_id',
      'status',
      'PLACEMENT',
    ])
    expect(page!.form).toMatchObject({
      AUTH_EXPIRES: '3600',
      SERVER_ENDPOINT: `${emulator.oauthUrl}/rest/`,
      APPLICATION_TOKEN: result.applicationToken,
      APPLICATION_SCOPE: 'imopenlines,imconnector,im,placement',
      member_id: emulator.portal.memberId,
      PLACEMENT: 'DEFAULT',
    })
    // ONAPPINSTALL (§2.3): after the page, with refresh_token.
    const [event] = sink.on('/installed')
    expect(event!.form.event).toBe('ONAPPINSTALL')
    expect(event!.form.data).toEqual({ VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'ru' })
    const auth = event!.form.auth as Record<string, string>
    expect(Object.keys(auth)).toEqual([
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
      'refresh_token',
      'application_token',
    ])
    expect(auth.application_token).toBe(result.applicationToken)
    expect(event!.form).not.toHaveProperty('event_handler_id')
    // The AUTH_ID is a working token of the installing admin.
    expect((await rest(emulator, 'user.admin', {}, page!.form.AUTH_ID as string)).body.result).toBe(true)
  })

  test('no marker → unfinished until finishInstall or a page that calls installFinish', async () => {
    const installed = await emulator.install({ appUrl: `${sink.url}/install` })
    expect(installed.finished).toBe(false)
    expect(installed.page!.body).toBe('OK')
    sink.respond('/app', 200, FINISHING_PAGE)
    const opened = await emulator.openApp({ url: `${sink.url}/app` })
    expect(opened.finished).toBe(true)
  })

  test('only admins install; a re-install keeps the application token', async () => {
    await expect(emulator.install({ userId: 27, restOnly: true })).rejects.toThrow(/administrator/)
    const a = await emulator.install({ restOnly: true })
    const b = await emulator.install({ restOnly: true })
    expect(b.applicationToken).toBe(a.applicationToken)
  })
})

describe('SETTING_CONNECTOR placement (§7)', () => {
  test('PLACEMENT_OPTIONS JSON (LINE string, flags from the row); AUTH_ID of the opener', async () => {
    await installedPortal(emulator, sink)
    await emulator.addLine({ id: 3, name: 'Sales' })
    sink.respond('/placement', 200, '<html>settings</html>')
    const page = await emulator.openPlacement({ connector: 'ACME_TG', line: 3 })
    expect(page.status).toBe(200)
    expect(page.body).toBe('<html>settings</html>')
    const [posted] = sink.on('/placement')
    expect(posted!.form.PLACEMENT).toBe('SETTING_CONNECTOR')
    expect(JSON.parse(posted!.form.PLACEMENT_OPTIONS as string)).toEqual({
      CONNECTOR: 'acme_tg',
      LINE: '3',
      STATUS: false,
      ACTIVE_STATUS: true,
      CONNECTION_STATUS: false,
      REGISTER_STATUS: false,
      ERROR_STATUS: false,
      URI: '/contact_center/connector/?ID=acme_tg&IFRAME=Y&IFRAME_TYPE=SIDE_SLIDER',
    })
    expect((await rest(emulator, 'user.admin', {}, posted!.form.AUTH_ID as string)).body.result).toBe(true)
    await emulator.openPlacement({ connector: 'acme_tg', line: 12, userId: 27 })
    const asOperator = sink.on('/placement')[1]!
    expect((await rest(emulator, 'user.admin', {}, asOperator.form.AUTH_ID as string)).body.result).toBe(
      false,
    )
    expect(JSON.parse(asOperator.form.PLACEMENT_OPTIONS as string)).toMatchObject({
      LINE: '12',
      STATUS: true,
    })
  })
})

describe('update and uninstall (§2.5)', () => {
  test('update: ONAPPUPDATE (refresh_token) reaches the old handler; handlers are gone', async () => {
    const { token } = await installedPortal(emulator, sink, {
      events: ['OnAppUpdate', 'OnImConnectorMessageAdd'],
    })
    const updated = await emulator.updateApp()
    expect(updated).toMatchObject({ version: 2, previousVersion: 1 })
    expect(updated.deliveries).toHaveLength(1)
    const [event] = sink.on('/events').filter((c) => c.form.event === 'ONAPPUPDATE')
    expect(event!.form.data).toEqual({ VERSION: '2', PREVIOUS_VERSION: '1', LANGUAGE_ID: 'ru' })
    expect((event!.form.auth as Record<string, string>).refresh_token).toMatch(/^\w{32}$/)
    expect((await rest(emulator, 'event.get', {}, token)).body.result).toEqual([])
    // Connectors survive an update.
    expect((emulator.state() as { connectors: unknown[] }).connectors).toHaveLength(1)
  })

  test('uninstall: token-less ONAPPUNINSTALL with CLEAN; app data removed; tokens revoked', async () => {
    const { token, applicationToken } = await installedPortal(emulator, sink, {
      events: ['OnAppUninstall', 'OnImConnectorStatusDelete'],
    })
    const gone = await emulator.uninstall({ clean: false })
    expect(gone.removedConnectors).toEqual(['acme_tg'])
    expect(gone.deliveries.map((d) => d.event)).toEqual(['ONAPPUNINSTALL'])
    const [event] = sink.on('/events')
    expect(event!.form.data).toEqual({ LANGUAGE_ID: 'ru', CLEAN: '0' })
    expect(event!.form.auth).toEqual({
      domain: emulator.portal.domain,
      server_endpoint: `${emulator.oauthUrl}/rest/`,
      client_endpoint: `${emulator.portalUrl()}/rest/`,
      member_id: emulator.portal.memberId,
      application_token: applicationToken,
    })
    const state = emulator.state() as Record<string, unknown[]>
    expect(state.connectors).toEqual([])
    expect(state.statuses).toEqual([])
    expect(state.placements).toEqual([])
    expect((await rest(emulator, 'app.info', {}, token)).status).toBe(401)
    // A new install gets a new application token.
    const again = await emulator.install({ restOnly: true })
    expect(again.applicationToken).not.toBe(applicationToken)
    await emulator.uninstall()
    expect(sink.on('/events')).toHaveLength(1) // handlers were deleted with the first uninstall
  })
})

describe('control HTTP API', () => {
  test('POST actions with JSON bodies, GET stats/state; bad bodies are 400', async () => {
    const control = emulator.info().controlUrl
    const post = (name: string, body: unknown) =>
      fetch(`${control}/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    sink.respond('/install', 200, FINISHING_PAGE)
    const install = await post('install', { appUrl: `${sink.url}/install` })
    expect(install.status).toBe(200)
    const installed = (await install.json()) as { finished: boolean; page: { authId: string } }
    expect(installed.finished).toBe(true)
    expect((await post('add-line', { id: 12, name: 'x' })).status).toBe(200)
    expect((await post('expire-access-tokens', {})).status).toBe(200)
    expect((await rest(emulator, 'user.admin', {}, installed.page.authId)).body.error).toBe('expired_token')
    const bad = await post('post-operator-message', { chatId: 'nope' })
    expect(bad.status).toBe(400)
    const missing = await post('post-operator-message', { chatId: 999, text: 'x' })
    expect(missing.status).toBe(404)
    const stats = (await (await fetch(`${control}/stats`)).json()) as Record<string, unknown>
    for (const key of [
      'requests',
      'byMethod',
      'status503',
      'status429',
      'status401',
      'oauthRefreshes',
      'eventsSent',
    ]) {
      expect(stats).toHaveProperty(key)
    }
    expect(stats.status401).toBe(1)
    const state = (await (await fetch(`${control}/state`)).json()) as { lines: { id: number }[] }
    expect(state.lines.map((l) => l.id)).toEqual([1, 12])
    expect((await fetch(`${control}/nope`, { method: 'POST' })).status).toBe(404)
  })

  test('several portals: each has its own listener, control and member_id; tokens do not cross', async () => {
    const second = await emulator.addPortal({ memberId: 'b'.repeat(32) })
    expect(second.portal.url).not.toBe(emulator.portalUrl())
    expect(emulator.portalUrl('b'.repeat(32))).toBe(second.portal.url)
    await emulator.install({ restOnly: true })
    await second.install({ restOnly: true })
    const token = (await emulator.issueTokens()).access_token as string
    const res = await fetch(`${second.portal.url}/rest/user.admin?auth=${token}`)
    expect(res.status).toBe(401)
  })
})

describe('standalone process (main.ts)', () => {
  test('prints its URLs as one JSON line and stops on SIGTERM', async () => {
    const child = Bun.spawn([process.execPath, 'tests/emulators/bitrix24/main.ts', '--drain', '5'], {
      stdout: 'pipe',
      stderr: 'inherit',
    })
    const reader = child.stdout.getReader()
    let text = ''
    while (!text.includes('\n')) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    const urls = JSON.parse(text.trim()) as {
      oauth: string
      portal: string
      control: string
      member_id: string
    }
    expect(urls.oauth).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(urls.control).toBe(`${urls.portal}/_emulator`)
    const limits = (await (
      await fetch(`${urls.control}/set-limits`, { method: 'POST', body: '{}' })
    ).json()) as { drainPerSecond: number }
    expect(limits.drainPerSecond).toBe(5)
    child.kill('SIGTERM')
    expect(await child.exited).toBe(0)
  })
})
