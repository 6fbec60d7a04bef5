/**
 * Olchat and the Bitrix24 portal emulator as two separate processes talking real HTTP, wired exactly as
 * `npm start` wires them: install through the install page, connector settings through the placement, customer
 * messages drained by the running portal sender, uninstall through the event. Verdicts come from the emulator's
 * own counters and state (`/_emulator/*`) and from the database.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { type EmulatorProcess, spawnEmulator } from '../support/emulator-process.ts'
import { freePort } from '../support/free-port.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

const _root = resolve(import.meta.dir, '../..')
const real = testBackendSet() === 'real'
const clientId = 'app.olchat.e2e'
const clientSecret = 'e2e-client-secret-123'
const keyRing = `k1:${generateKey()}`

interface EmulatorUrls {
  portal: string
  control: string
  member_id: string
}

let db: TestDatabase
let repos: Repositories
let emulator: EmulatorProcess<EmulatorUrls>
let urls: EmulatorUrls
let olchat: OlchatProcess
let olchatUrl: string

async function control<T = Record<string, unknown>>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${urls.control.replace(/\/$/, '')}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

interface PortalState {
  connectors: Array<{ id: string }>
  installations: Array<{
    clientId: string
    finished: boolean
    handlers: Array<{ event: string; handler: string }>
  }>
  statuses: Array<{ connector: string; line: number; STATUS: boolean }>
  chats: Array<{ externalChatId: string; messages: Array<{ author: string; connectorMid: string[] | null }> }>
}

const portalState = async () => {
  const state = await control<{ portals: PortalState[] } & Partial<PortalState>>('state')
  return (state.portals?.[0] ?? state) as PortalState
}

beforeAll(async () => {
  if (!real) return
  db = await createTestDatabase({ migrated: false })
  repos = createRepositories(db.sql, KeyRing.fromText(keyRing))
  emulator = await spawnEmulator<EmulatorUrls>([
    'tests/emulators/bitrix24/main.ts',
    '--client-id',
    clientId,
    '--client-secret',
    clientSecret,
  ])
  urls = emulator.info

  const port = await freePort()
  olchatUrl = `http://127.0.0.1:${port}`
  olchat = startOlchat({
    PORT: String(port),
    OLCHAT_PUBLIC_URL: olchatUrl,
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl,
    OLCHAT_ENCRYPTION_KEYS: keyRing,
    BITRIX_CLIENT_ID: clientId,
    BITRIX_CLIENT_SECRET: clientSecret,
    OLCHAT_ALLOW_HTTP_PORTALS: 'true',
  })
  await olchat.waitReady(20_000)
}, 30_000)

afterAll(async () => {
  if (!real) return
  expect(await olchat.stop()).toBe(0)
  await emulator.stop()
  await db.drop()
}, 30_000)

describe.skipIf(!real)('Olchat ⇄ Bitrix24 emulator, two processes', () => {
  test('install registers both connectors and binds every event once; re-install changes nothing', async () => {
    const install = await control<{ finished: boolean; page: { status: number } }>('install', {
      appUrl: `${olchatUrl}/bitrix/install`,
    })
    expect(install.page.status).toBe(200)
    expect(install.finished).toBe(true)
    const first = await portalState()
    expect(first.connectors.map((c) => c.id).sort()).toEqual(['olchat_max', 'olchat_telegram'])
    const handlers = first.installations.find((i) => i.clientId === clientId)!.handlers
    expect(handlers.every((h) => h.handler === `${olchatUrl}/bitrix/events`)).toBe(true)
    expect(new Set(handlers.map((h) => h.event.toUpperCase())).size).toBe(handlers.length)
    expect(handlers.map((h) => h.event.toUpperCase())).toEqual(
      expect.arrayContaining(['ONIMCONNECTORMESSAGEADD', 'ONAPPUNINSTALL', 'ONIMCONNECTORSTATUSDELETE']),
    )

    await control('install', { appUrl: `${olchatUrl}/bitrix/install` })
    const again = await portalState()
    expect(again.connectors).toHaveLength(2)
    expect(again.installations.find((i) => i.clientId === clientId)!.handlers).toHaveLength(handlers.length)
    const [portals] = await db.sql<{ n: number }[]>`select count(*)::int as n from portals`
    expect(portals!.n).toBe(1)
  })

  test('the settings placement binds an account to a line and activates the connector', async () => {
    const [portal] = await db.sql<{ id: string }[]>`select id from portals`
    const account = await repos.accounts.create({ portalId: portal!.id, messenger: 'telegram' })
    const page = await control<{ status: number; body: string }>('open-placement', {
      connector: 'olchat_telegram',
      line: 1,
    })
    expect(page.status).toBe(200)
    const session = /name="session" value="([^"]+)"/.exec(page.body)?.[1]
    expect(session).toBeDefined()
    const bound = await fetch(`${olchatUrl}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session: session!, action: 'bind', account: account.id }),
    })
    expect(bound.status).toBe(200)
    const status = (await portalState()).statuses.find(
      (s) => s.connector === 'olchat_telegram' && s.line === 1,
    )
    expect(status?.STATUS).toBe(true)
    expect((await repos.accounts.get(account.id)).lineId).not.toBeNull()
  })

  test('queued customer messages reach the portal through the running sender, in order per chat', async () => {
    const [account] = await db.sql<{ id: string }[]>`select id from accounts`
    const chats = 5
    const perChat = 40
    const jobs = []
    for (let i = 0; i < perChat; i++) {
      for (let c = 0; c < chats; c++) {
        jobs.push({
          accountId: account!.id,
          direction: 'to_portal' as const,
          kind: 'message' as const,
          idempotencyKey: `e2e:${c}:${i}`,
          payload: {
            chat: { id: `chat-${c}` },
            user: { id: `user-${c}`, name: 'Иван' },
            message: { id: `m-${c}-${i}`, date: 1_780_000_000 + i, text: `сообщение ${i}` },
          },
        })
      }
    }
    await repos.deliveries.enqueueMany(jobs)
    await until('every delivery done', async () => {
      const [row] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from deliveries where status <> 'done'`
      return row!.n === 0 ? true : undefined
    })
    const state = await portalState()
    for (let c = 0; c < chats; c++) {
      const chat = state.chats.find((x) => x.externalChatId === `chat-${c}`)!
      const ids = chat.messages.filter((m) => m.author === 'client').map((m) => m.connectorMid?.[0])
      expect(ids).toEqual(Array.from({ length: perChat }, (_, i) => `m-${c}-${i}`))
    }
    const stats = await control<{ status503: number; requests: number; eventsFailed: number }>('stats')
    expect(stats.status503).toBe(0)
    expect(stats.eventsFailed).toBe(0)
    const [bodies] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from deliveries where payload_enc is not null`
    expect(bodies!.n).toBe(0)
  })

  test('uninstall with the portal token deletes everything of the portal', async () => {
    await control('uninstall', { clean: false })
    await until('the portal is gone', async () => {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from portals`
      return row!.n === 0 ? true : undefined
    })
    for (const table of ['accounts', 'lines', 'deliveries', 'chats', 'inbound_events']) {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from ${db.sql(table)}`
      expect({ table, rows: row!.n }).toEqual({ table, rows: 0 })
    }
    expect((await fetch(`${olchatUrl}/readyz`)).status).toBe(200)
  })
})
