/**
 * The MAX connector in webhook mode, wired as `src/main.ts` wires it: the MAX emulator delivers updates
 * over HTTP to the webhook endpoint on a real listener, the endpoint stores them in `max_updates`, and the
 * account's client drains them (woken by LISTEN/NOTIFY on the real server, in-process when embedded).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Registry } from 'prom-client'
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { RemoteMessageEvent } from '../../src/bridge/remote-event.ts'
import type { MaxClient } from '../../src/connectors/max/client.ts'
import type { MaxConnector } from '../../src/connectors/max/connector.ts'
import { createMaxConnector, createMaxWebhook, type MaxServices } from '../../src/connectors/max/wiring.ts'
import { createLogger } from '../../src/log/logger.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import type { MaxEmulator } from '../emulators/max/testkit.ts'
import { startMaxEmulator } from '../emulators/max/testkit.ts'
import { repositories, seedPortal } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { driveLogin, EventLog } from './contract.ts'

let db: TestDatabase
let repos: Repositories
let emulator: MaxEmulator
let server: ReturnType<typeof Bun.serve>
let connector: MaxConnector
let services: MaxServices

beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  emulator = await startMaxEmulator()
  const log = createLogger({ level: 'silent' })
  // The listener comes first: the public URL names its port.
  let handler: (req: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 })
  server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (req) => handler(req) })
  services = {
    db: { sql: db.sql, kind: db.backend === 'embedded' ? 'embedded' : 'postgres' },
    repos,
    registry: new Registry(),
    log,
    publicUrl: server.url.toString(),
  }
  handler = createMaxWebhook(services).fetch
  connector = createMaxConnector(
    { max: { apiUrl: emulator.url, caFile: undefined, mode: 'webhook' } },
    services,
  )
})
afterAll(async () => {
  await server?.stop(true)
  await emulator?.close()
  await db?.drop()
})

async function connectedBot() {
  const portal = await seedPortal(repos)
  const row = await repos.accounts.create({ portalId: portal.id, messenger: 'max' })
  const session = accountSessionStore(repos.accountSessions, row.id)
  const bot = emulator.createBot({ name: 'Webhook bot' })
  const account = { phone: '', token: bot.token } as Parameters<typeof driveLogin>[2]
  const login = connector.createLogin(toLoginFlowId('token'), {
    accountId: toAccountId(row.id),
    session,
    signal: new AbortController().signal,
  })
  const done = await driveLogin(login, await login.start(), account)
  const load = () =>
    connector.loadAccount({
      id: toAccountId(row.id),
      remoteId: done.account.remoteId,
      credentials: done.account.credentials ?? null,
      session,
    }) as MaxClient
  const client = load()
  const log = new EventLog(client)
  await client.connect()
  const user = emulator.createUser({ name: 'Вера' })
  await emulator.userStartsBot(bot.token, user.userId)
  return { row, bot, user, client, log, load }
}

const isMessage = (mid: string) => (e: { type: string }) =>
  e.type === 'message' && (e as RemoteMessageEvent).messageId === mid

describe('MAX webhook mode', () => {
  test('subscribes with a secret; message, edit and delete reach the owner through the database', async () => {
    const { row, bot, user, client, log } = await connectedBot()
    expect(log.events[0]).toMatchObject({ type: 'connection', state: 'connected' })
    const started = performance.now()
    const sent = await emulator.userSends(bot.token, user.userId, { text: 'через вебхук' })
    const event = (await log.waitFor(isMessage(sent.mid))) as RemoteMessageEvent
    const latencyMs = performance.now() - started
    expect(event).toMatchObject({ text: 'через вебхук', chat: { chatId: String(sent.chatId) } })
    // Woken by the notification, not by the 5 s timer.
    expect(latencyMs).toBeLessThan(2000)
    await emulator.userEdits(bot.token, user.userId, sent.mid, 'исправлено')
    await log.waitFor((e) => e.type === 'edit' && e.text === 'исправлено')
    await emulator.userDeletes(bot.token, user.userId, sent.mid)
    await log.waitFor((e) => e.type === 'delete')
    expect(emulator.stats().webhook_failures ?? 0).toBe(0)
    await Bun.sleep(100)
    // Handed over: bodies dropped, keys kept for dedup.
    expect(await repos.maxUpdates.countPending(row.id)).toBe(0)
    await client.disconnect()
    console.log(`max webhook: customer message → event in ${latencyMs.toFixed(0)} ms`)
  })

  test('a delivery MAX sends twice is stored once and handed over once', async () => {
    const { bot, user, client, log } = await connectedBot()
    emulator.faults.duplicateDeliveries(1)
    const sent = await emulator.userSends(bot.token, user.userId, { text: 'twice' })
    const after = await emulator.userSends(bot.token, user.userId, { text: 'after' })
    await log.waitFor(isMessage(after.mid))
    await Bun.sleep(200)
    expect(emulator.stats().webhook_duplicates_sent ?? 0).toBeGreaterThanOrEqual(1)
    expect(log.messages().filter((m) => m.messageId === sent.mid)).toHaveLength(1)
    await client.disconnect()
  })

  test('updates stored while the owner is down come after its restart, in order, once', async () => {
    const { row, bot, user, client, log, load } = await connectedBot()
    client.holdPositionUntilAck()
    const a = await emulator.userSends(bot.token, user.userId, { text: 'a' })
    ;(await log.waitFor(isMessage(a.mid))).ack?.()
    for (const e of log.events) e.ack?.()
    const b = await emulator.userSends(bot.token, user.userId, { text: 'b' })
    await log.waitFor(isMessage(b.mid))
    // `b` was handed over but never acked when the process stopped.
    await client.disconnect()
    const c = await emulator.userSends(bot.token, user.userId, { text: 'c' })
    const d = await emulator.userSends(bot.token, user.userId, { text: 'd' })
    // Delivered and stored although nobody runs the account now.
    for (let i = 0; i < 50 && (await repos.maxUpdates.countPending(row.id)) < 3; i++) await Bun.sleep(20)
    expect(await repos.maxUpdates.countPending(row.id)).toBe(3)
    const restarted = load()
    const again = new EventLog(restarted)
    await restarted.connect()
    await again.waitFor(isMessage(d.mid))
    await Bun.sleep(100)
    expect(again.messages().map((m) => m.text)).toEqual(['b', 'c', 'd'])
    expect(again.messages().map((m) => String(m.messageId))).toEqual([b.mid, c.mid, d.mid])
    await restarted.disconnect()
  })

  test('logoutRemote removes our subscription at MAX and every stored row of the account', async () => {
    const { row, bot, client } = await connectedBot()
    const subscribed = async () =>
      (await (
        await fetch(`${emulator.url}/subscriptions`, { headers: { authorization: bot.token } })
      ).json()) as {
        subscriptions: { url: string }[]
      }
    expect((await subscribed()).subscriptions.map((s) => s.url)).toEqual([
      `${services.publicUrl.replace(/\/$/, '')}/max/webhook/${row.id}`,
    ])
    await client.logoutRemote()
    expect((await subscribed()).subscriptions).toEqual([])
    const [left] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from max_updates where account_id = ${row.id}`
    expect(left!.n).toBe(0)
  })
})
