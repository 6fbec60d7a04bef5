/**
 * End to end over real HTTP: the portal emulator (tests/emulators/bitrix24) installs Olchat, which answers
 * with the real REST client; events travel form-encoded from the emulator's queue to `/bitrix/events`, and the
 * inbox worker acts on them against the emulator.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Server } from 'bun'
import { type InboxWorker, startInboxWorker } from '../../../src/bitrix/app/index.ts'
import { BitrixClient, callWithToken } from '../../../src/bitrix/client/rest-client.ts'
import { connectors } from '../../../src/bitrix/connectors.ts'
import {
  type Bitrix24Emulator,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startBitrix24Emulator,
} from '../../emulators/bitrix24/index.ts'
import { createHarness, type Harness, phpForm } from './support.ts'

let h: Harness
let emu: Bitrix24Emulator
let server: Server<undefined>
let worker: InboxWorker
let base: string

interface Installation {
  clientId: string
  handlers: { event: string; handler: string }[]
}
interface EmulatedConnector {
  id: string
  clientId: string
  [key: string]: unknown
}
interface StatusRow {
  connector: string
  line: number
  ACTIVE: boolean
  CONNECTION: boolean
  REGISTER: boolean
  STATUS: boolean
  DATA?: Record<string, unknown>
}

function state() {
  const s = emu.state() as {
    installations: Installation[]
    connectors: EmulatedConnector[]
    statuses: StatusRow[]
  }
  const inst = s.installations.find((i) => i.clientId === DEFAULT_CLIENT_ID)!
  return {
    handlers: inst.handlers.map((x) => `${x.event}|${x.handler}`).sort(),
    connectors: s.connectors
      .filter((c) => c.clientId === DEFAULT_CLIENT_ID)
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
    statuses: s.statuses,
  }
}

/** Every event the emulator queued reached Olchat and the worker finished with it. */
async function settle() {
  await emu.waitForEvents()
  for (let i = 0; i < 200; i++) {
    const [row] = await h.sql<{ pending: number }[]>`
      select count(*)::int as pending from inbound_events where status = 'pending'`
    if (row!.pending === 0) return
    worker.wake()
    await Bun.sleep(25)
  }
  throw new Error('the inbox did not drain')
}

beforeAll(async () => {
  h = await createHarness()
  emu = await startBitrix24Emulator({ eventDelayMs: 0 })
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => h.app.fetch(req) })
  base = `http://127.0.0.1:${server.port}`
  const client = new BitrixClient({
    portals: h.repos.portals,
    cache: h.cache,
    app: { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
    allowHttp: true,
    logger: h.deps.log,
  })
  h.deps.api = client
  h.deps.callWithToken = callWithToken
  h.deps.config.publicUrl = base
  h.deps.config.allowHttpPortals = true
  h.deps.config.clientId = DEFAULT_CLIENT_ID
  worker = startInboxWorker(h.deps, { intervalMs: 50 })
  h.deps.onEventStored = () => worker.wake()
}, 30_000)

afterAll(async () => {
  await worker?.stop()
  server?.stop(true)
  await emu?.stop()
  await h?.close()
})

describe('Olchat and the portal emulator over HTTP', () => {
  test('install: tokens verified, connectors registered, events bound, installFinish recognised', async () => {
    const result = await emu.install({ appUrl: `${base}/bitrix/install`, eventUrl: `${base}/bitrix/events` })
    expect(result.page?.status).toBe(200)
    expect(result.finished).toBe(true)
    await settle()
    const portal = await h.repos.portals.getByMemberId(emu.info().memberId)
    expect(portal).toMatchObject({ status: 'active', applicationToken: result.applicationToken })
    const { handlers, connectors: registered } = state()
    expect(handlers).toEqual(
      [
        'ONIMCONNECTORMESSAGEADD',
        'ONIMCONNECTORMESSAGEUPDATE',
        'ONIMCONNECTORMESSAGEDELETE',
        'ONIMCONNECTORSTATUSDELETE',
        'ONIMCONNECTORLINEDELETE',
        'ONIMCONNECTORDIALOGSTART',
        'ONIMCONNECTORDIALOGFINISH',
        'ONAPPUNINSTALL',
        'ONAPPUPDATE',
      ]
        .map((event) => `${event}|${base}/bitrix/events`)
        .sort(),
    )
    expect(registered.map((c) => c.id)).toEqual([connectors.max.id, connectors.telegram.id])
    const placements = (emu.state() as { placements: { connector: string; handler: string }[] }).placements
    expect(placements.map((p) => p.handler)).toEqual([`${base}/bitrix/placement`, `${base}/bitrix/placement`])
  }, 30_000)

  test('re-install changes nothing twice', async () => {
    const before = state()
    const rows = await h.sql`select count(*)::int as n from portals`
    const result = await emu.install({ appUrl: `${base}/bitrix/install`, eventUrl: `${base}/bitrix/events` })
    expect(result.page?.status).toBe(200)
    await settle()
    expect(state()).toEqual(before)
    expect(await h.sql`select count(*)::int as n from portals`).toEqual(rows)
  }, 30_000)

  test('placement: an admin binds an account; the line is activated with its channel data', async () => {
    const portal = await h.repos.portals.getByMemberId(emu.info().memberId)
    const account = await h.repos.accounts.create({
      portalId: portal.id,
      messenger: 'telegram',
      displayName: 'Acme Support',
      username: 'acme_support',
    })
    const { id: line } = await emu.addLine({ name: 'Telegram' })
    const page = await emu.openPlacement({ connector: connectors.telegram.id, line })
    expect(page.status).toBe(200)
    const session = /name="session" value="([^"]+)"/.exec(page.body)![1]!
    const res = await fetch(`${base}/bitrix/placement`, {
      method: 'POST',
      body: phpForm([
        ['session', session],
        ['action', 'bind'],
        ['account', account.id],
      ]),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('Аккаунт подключён к линии.')
    const row = state().statuses.find((s) => s.connector === connectors.telegram.id && s.line === line)
    expect(row).toMatchObject({ ACTIVE: true, CONNECTION: true, REGISTER: true, STATUS: true })
    const stored = await h.repos.lines.find(portal.id, connectors.telegram.id, String(line))
    expect((await h.repos.accounts.get(account.id)).lineId).toBe(stored!.id)

    // A non-admin opening the page gets nothing.
    await emu.addUser({ id: 77, name: 'Olga', admin: false })
    const denied = await emu.openPlacement({ connector: connectors.telegram.id, line, userId: 77 })
    expect(denied.status).toBe(403)

    // Disconnecting in the Contact Center (StatusDelete) unbinds the account.
    await emu.disconnectLine({ connector: connectors.telegram.id, line })
    await settle()
    expect(await h.repos.lines.find(portal.id, connectors.telegram.id, String(line))).toBeUndefined()
    expect((await h.repos.accounts.get(account.id)).lineId).toBeNull()
  }, 30_000)

  test('app update: the dropped handlers are bound again', async () => {
    await emu.updateApp()
    expect(state().handlers).toEqual([])
    await settle()
    expect(state().handlers).toHaveLength(9)
  }, 30_000)

  test('uninstall: every row of the portal is gone', async () => {
    const portal = await h.repos.portals.getByMemberId(emu.info().memberId)
    await emu.uninstall({ clean: false })
    await settle()
    expect(await h.repos.portals.findByMemberId(portal.memberId)).toBeUndefined()
    const [left] = await h.sql<{ n: number }[]>`
      select count(*)::int as n from accounts where portal_id = ${portal.id}`
    expect(left!.n).toBe(0)
  }, 30_000)
})

test('no event was refused or failed on the way (only the non-admin placement was)', () => {
  const problems = h.logs.filter((line) => /"level":"(warn|error)"/.test(line))
  expect(problems.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['placement refused'])
})
