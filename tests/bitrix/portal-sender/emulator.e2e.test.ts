/**
 * End to end over real HTTP: the portal sender with the real BitrixClient against the Bitrix24 portal
 * emulator on a 2 req/s, burst 50 bucket. Verdicts come from the emulator's own counters and chats.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BitrixClient } from '../../../src/bitrix/client/index.ts'
import { connectors, iconDataUrl } from '../../../src/bitrix/connectors.ts'
import { PortalSender } from '../../../src/bitrix/portal-sender/portal-sender.ts'
import { createLogger } from '../../../src/log/logger.ts'
import { MemoryCache } from '../../../storage/cache/memory-cache.ts'
import { LocalFileStore } from '../../../storage/files/local-file-store.ts'
import type { Chat } from '../../../storage/repos/chats.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import {
  type Bitrix24Emulator,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startBitrix24Emulator,
} from '../../emulators/bitrix24/index.ts'
import { repositories, seedAccount, seedChat } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { messagePayload } from './harness.ts'

const LINE = 12
const connector = connectors.telegram

let emulator: Bitrix24Emulator
let db: TestDatabase
let repos: Repositories
let cache: MemoryCache
let client: BitrixClient
let portalId: string
let accountId: string
const chats: Chat[] = []

beforeAll(async () => {
  emulator = await startBitrix24Emulator({
    rateLimit: { drainPerSecond: 2, burst: 50 },
    portals: [{ lines: [{ id: LINE, name: 'Sales' }] }],
  })
  await emulator.install({ restOnly: true })
  const tokens = (await emulator.issueTokens()) as Record<string, string | number>
  db = await createTestDatabase()
  repos = repositories(db.sql)
  const { portal } = await repos.portals.upsert({
    memberId: String(tokens.member_id),
    domain: new URL(emulator.portalUrl()).host,
    serverEndpoint: String(tokens.server_endpoint),
    clientEndpoint: String(tokens.client_endpoint),
    accessToken: String(tokens.access_token),
    refreshToken: String(tokens.refresh_token),
    tokenExpiresAt: new Date(Number(tokens.expires) * 1000),
  })
  portalId = portal.id
  cache = new MemoryCache()
  client = new BitrixClient({
    portals: repos.portals,
    cache,
    app: { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
    allowHttp: true,
  })
  // What install and the settings placement do: register the connector, activate it on the line.
  await client.call(
    portalId,
    'imconnector.register',
    {
      ID: connector.id,
      NAME: connector.name,
      ICON: {
        DATA_IMAGE: iconDataUrl(connector.svg),
        COLOR: connector.color,
        SIZE: '90%',
        POSITION: 'center',
      },
      PLACEMENT_HANDLER: 'http://127.0.0.1:9/bitrix/placement',
    },
    { idempotent: true },
  )
  await client.call(
    portalId,
    'imconnector.activate',
    { CONNECTOR: connector.id, LINE, ACTIVE: 1 },
    { idempotent: true },
  )
  const line = await repos.lines.upsert({ portalId, connectorId: connector.id, lineId: String(LINE) })
  const account = await seedAccount(repos, portalId)
  accountId = account.id
  await repos.accounts.bindLine(accountId, line.id)
  for (let i = 0; i < 20; i++) chats.push(await seedChat(repos, accountId))
})

afterAll(async () => {
  await emulator?.stop()
  await db?.drop()
  await cache?.close()
})

test('1,000 messages, 20 chats, one line: no 503, ≤ 100 requests, per-chat order on the portal', async () => {
  const expected = new Map<string, string[]>()
  const inputs = []
  for (let i = 0; i < 1000; i++) {
    const chat = chats[i % 20]!
    const payload = messagePayload(chat, { id: `e2e-${i}`, text: `message ${i}` })
    expected.set(chat.remoteChatId, [...(expected.get(chat.remoteChatId) ?? []), `e2e-${i}`])
    inputs.push({
      accountId,
      chatId: chat.id,
      direction: 'to_portal' as const,
      kind: 'message' as const,
      idempotencyKey: `e2e:${i}`,
      payload,
    })
  }
  await repos.deliveries.enqueueMany(inputs)
  await emulator.resetStats()

  const sender = new PortalSender({
    sql: db.sql,
    repos,
    api: client,
    files: new LocalFileStore({
      dir: join(tmpdir(), 'olchat-e2e-no-files'),
      baseUrl: 'http://127.0.0.1:9',
      signingKey: Buffer.alloc(32, 7),
    }),
    log: createLogger({ level: 'warn' }),
    options: { maxRoundsPerTurn: 1000 },
  })
  const started = performance.now()
  const result = await sender.drainAccount(accountId)
  const drainMs = Math.round(performance.now() - started)
  expect(result).toMatchObject({ status: 'idle', delivered: 1000, failed: 0, released: 0 })

  const stats = emulator.stats() as { requests: number; status503: number; byMethod: Record<string, number> }
  console.log(
    `portal sender e2e: ${stats.requests} REST requests, ${stats.status503} × 503, ` +
      `1,000 messages drained in ${drainMs} ms`,
  )
  expect(stats.status503).toBe(0)
  expect(stats.requests).toBeLessThanOrEqual(100)
  expect(stats.byMethod['imconnector.send.messages']).toBe(Math.ceil(1000 / sender.options.batchSize))

  const state = emulator.state() as {
    chats: { externalChatId: string; messages: { author: string; connectorMid: string[] | null }[] }[]
  }
  const received = new Map<string, string[]>()
  for (const chat of state.chats) {
    const ids = chat.messages.filter((m) => m.author === 'client').map((m) => m.connectorMid?.[0] ?? '')
    received.set(chat.externalChatId, [...(received.get(chat.externalChatId) ?? []), ...ids])
  }
  expect(received).toEqual(expected)
  expect(await repos.deliveries.countByStatus()).toEqual({ pending: 0, in_flight: 0, done: 1000, dead: 0 })
  for (const chat of await repos.chats.listByAccount(accountId)) expect(chat.portalChatId).toBeString()
}, 120_000)

test('access tokens expire in the middle of a 1,000-message burst: one refresh, nothing lost, nothing twice', async () => {
  const inputs = []
  const expected = new Map<string, string[]>()
  for (let i = 0; i < 1000; i++) {
    const chat = chats[i % 20]!
    expected.set(chat.remoteChatId, [...(expected.get(chat.remoteChatId) ?? []), `expiry-${i}`])
    inputs.push({
      accountId,
      chatId: chat.id,
      direction: 'to_portal' as const,
      kind: 'message' as const,
      idempotencyKey: `expiry:${i}`,
      payload: messagePayload(chat, { id: `expiry-${i}`, text: `message ${i}` }),
    })
  }
  await repos.deliveries.enqueueMany(inputs)
  // A fresh bucket on the portal and a fresh client (its mirror of the bucket lives in its own cache): the
  // first test spent part of the burst, and waiting it out would only slow the suite down.
  await emulator.setLimits({ resetBucket: true })
  await emulator.resetStats()
  const freshCache = new MemoryCache()
  const freshClient = new BitrixClient({
    portals: repos.portals,
    cache: freshCache,
    app: { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
    allowHttp: true,
  })
  const sender = new PortalSender({
    sql: db.sql,
    repos,
    api: freshClient,
    files: new LocalFileStore({
      dir: join(tmpdir(), 'olchat-e2e-no-files'),
      baseUrl: 'http://127.0.0.1:9',
      signingKey: Buffer.alloc(32, 7),
    }),
    log: createLogger({ level: 'warn' }),
    options: { maxRoundsPerTurn: 1000 },
  })
  const draining = sender.drainAccount(accountId)
  const stats = () =>
    emulator.stats() as { requests: number; status503: number; status401: number; oauthRefreshes: number }
  while (stats().requests < 10) await Bun.sleep(2)
  await emulator.expireAccessTokens({})
  const result = await draining
  await freshCache.close()
  expect(result).toMatchObject({ status: 'idle', delivered: 1000, failed: 0 })

  const after = stats()
  console.log(
    `token expiry mid-burst: ${after.requests} REST requests, ${after.status401} × 401, ` +
      `${after.oauthRefreshes} refresh, ${after.status503} × 503`,
  )
  expect(after.oauthRefreshes).toBe(1)
  expect(after.status401).toBeGreaterThanOrEqual(1)
  expect(after.status503).toBe(0)
  const state = emulator.state() as {
    chats: { externalChatId: string; messages: { author: string; connectorMid: string[] | null }[] }[]
  }
  const received = new Map<string, string[]>()
  for (const chat of state.chats) {
    const ids = chat.messages
      .filter((m) => m.author === 'client' && m.connectorMid?.[0]?.startsWith('expiry-'))
      .map((m) => m.connectorMid![0]!)
    received.set(chat.externalChatId, [...(received.get(chat.externalChatId) ?? []), ...ids])
  }
  expect(received).toEqual(expected)
}, 120_000)
