/**
 * The life of a Telegram session through a real mtcute client over the stub world, on the detection paths
 * production uses (our call guard and periodic `updates.getState`, behind production's network middlewares):
 * a revocation found within 60 s of simulated time with the session rows deleted, one session on two
 * connections, flood waits and internal errors, network drops, a stuck update loop, a restart that resumes
 * without a login and drops catch-up repeats, the update position held until the core acks, logout, and the
 * device an account keeps.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SimulatedClock } from 'xstate'
import { FloodWaitError, NeedsLoginError } from '../../../src/bridge/errors.ts'
import { toClientMessageId } from '../../../src/bridge/ids.ts'
import type { RemoteMessageEvent } from '../../../src/bridge/remote-event.ts'
import { telegramStorage } from '../../../src/connectors/telegram/storage.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { rpcError } from '../../support/telegram-stub-world.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { customer, load, loggedIn, messageWithId, online } from './accounts.ts'
import { TEST_DEVICE, telegramHarness } from './harness.ts'

let db: TestDatabase
let repos: Repositories
let h: ReturnType<typeof telegramHarness>
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  h = telegramHarness(repos)
})
afterAll(() => db.drop())

let counter = 0
const cmid = () => toClientMessageId(`s-${Date.now()}-${++counter}`)
const settle = () => Bun.sleep(150)

async function sessionRows(accountId: string): Promise<number> {
  const [row] = await db.sql<{ n: number }[]>`
    select ((select count(*) from telegram_auth_keys where account_id = ${accountId})
      + (select count(*) from telegram_kv where account_id = ${accountId})
      + (select count(*) from telegram_peers where account_id = ${accountId})
      + (select count(*) from telegram_message_refs where account_id = ${accountId}))::int as n`
  return row!.n
}

/** Advances simulated time in health-check steps, letting each check finish. */
async function advance(clock: SimulatedClock, ms: number, step = 30_000) {
  for (let passed = 0; passed < ms; passed += step) {
    clock.increment(step)
    await Bun.sleep(40)
  }
}

describe('telegram session: loss and limits', () => {
  test('revoked on another device while idle: bad-credentials within 60 s, session rows gone', async () => {
    const clock = new SimulatedClock()
    const timed = telegramHarness(repos, { clock })
    const { phone, client, log, login } = await online(timed)
    expect(await sessionRows(login.id)).toBeGreaterThan(0)
    const mark = log.events.length
    const revokedAt = clock.now()
    timed.world.revokeSessions(phone)
    let detectedAt: number | undefined
    client.onEvent((e) => {
      if (e.type === 'connection' && e.state === 'bad-credentials') detectedAt ??= clock.now()
    })
    await advance(clock, 60_000)
    await log.connection('bad-credentials', mark)
    expect(detectedAt! - revokedAt).toBeLessThanOrEqual(60_000)
    expect(await sessionRows(login.id)).toBe(0)
    expect(await login.session.get('telegram.user')).toBeUndefined()
    // Detected by our own health call, which went through the production middleware chain.
    expect(timed.stubs.at(-1)!.callNames().at(-1)).toBe('updates.getState')
    const error = await client
      .send({ chatId: '1' as never, clientMessageId: cmid(), text: 'x' })
      .catch((e) => e)
    expect(error).toBeInstanceOf(NeedsLoginError)
    const again = log.events.length
    await client.connect()
    expect(log.events.slice(again)).toMatchObject([{ type: 'connection', state: 'bad-credentials' }])
  })

  test('revoked and found by an action: NeedsLoginError and bad-credentials at once', async () => {
    const { phone, client, log, login } = await online(h)
    const alice = customer(h.world)
    h.world.customerSends(phone, alice.user, 'hi')
    await log.waitFor((e) => e.type === 'message')
    h.world.revokeSessions(phone)
    const error = await client
      .send({ chatId: alice.chatId, clientMessageId: cmid(), text: 'x' })
      .catch((e) => e)
    expect(error).toBeInstanceOf(NeedsLoginError)
    await log.connection('bad-credentials')
    expect(await sessionRows(login.id)).toBe(0)
  })

  test('one session live on two connections: Telegram kills it, both clients report bad-credentials', async () => {
    const clock = new SimulatedClock()
    const timed = telegramHarness(repos, { clock, world: h.world })
    const { phone, log, login } = await online(timed)
    const twin = load(timed, login)
    await twin.client.connect()
    await advance(clock, 30_000)
    await log.connection('bad-credentials')
    await twin.log.connection('bad-credentials')
    expect(h.world.account(phone).duplicatedSessions).toBe(1)
  })

  test('FLOOD_WAIT 120 on send surfaces as FloodWaitError(120); the retry after it sends once', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    h.world.customerSends(phone, alice.user, 'hi')
    await log.waitFor((e) => e.type === 'message')
    const message = { chatId: alice.chatId, clientMessageId: cmid(), text: 'after the wait' }
    h.world.floodNext(120, 'messages.sendMessage')
    const error = await client.send(message).catch((e) => e)
    expect(error).toBeInstanceOf(FloodWaitError)
    expect(error.seconds).toBe(120)
    expect(h.world.chat(phone, alice.user.id).filter((m) => m.out)).toHaveLength(0)
    // The relay waits the 120 s (the account shows flood_wait) and sends the same delivery again.
    await client.send(message)
    await client.send(message)
    expect(
      h.world
        .chat(phone, alice.user.id)
        .filter((m) => m.out)
        .map((m) => m.text),
    ).toEqual(['after the wait'])
    await client.disconnect()
  })

  test('short flood waits and internal errors are absorbed by the middlewares, as in production', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    h.world.customerSends(phone, alice.user, 'hi')
    await log.waitFor((e) => e.type === 'message')
    h.world.floodNext(1, 'messages.sendMessage')
    h.world.failNext(rpcError(500, 'RPC_CALL_FAIL'), 'messages.sendMessage')
    const started = performance.now()
    await client.send({ chatId: alice.chatId, clientMessageId: cmid(), text: 'patient' })
    expect(performance.now() - started).toBeGreaterThan(1900)
    expect(h.world.chat(phone, alice.user.id).filter((m) => m.out)).toHaveLength(1)
    await client.disconnect()
  })
})

describe('telegram session: connection and restarts', () => {
  test('a network drop → transient-disconnect; reconnect delivers what arrived meanwhile, once', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const mark = log.events.length
    h.world.dropConnections(phone)
    await log.connection('transient-disconnect', mark)
    const during = h.world.customerSends(phone, alice.user, 'while down')
    await client.connect()
    await log.connection('connected', mark)
    await messageWithId(log, during.id)
    await settle()
    expect(log.messages().filter((m) => m.messageId === String(during.id))).toHaveLength(1)
    expect(h.world.account(phone).duplicatedSessions).toBe(0)
    await client.disconnect()
  })

  test('a stuck update loop (pushes silently lost) is noticed and a reconnect catches up', async () => {
    const clock = new SimulatedClock()
    const timed = telegramHarness(repos, { clock, world: h.world, tuning: { stuckAfterMs: 90_000 } })
    const { phone, client, log } = await online(timed)
    const alice = customer(h.world)
    h.world.stallConnections(phone)
    const lost = h.world.customerSends(phone, alice.user, 'pushed into the void')
    const mark = log.events.length
    await advance(clock, 150_000)
    await log.connection('transient-disconnect', mark)
    await client.connect()
    await messageWithId(log, lost.id)
    await client.disconnect()
  })

  test('restart with the stored session: no login, missed messages once and in order', async () => {
    const { phone, client, log, login } = await online(h)
    const alice = customer(h.world)
    const before = h.world.customerSends(phone, alice.user, 'before')
    await messageWithId(log, before.id)
    await client.disconnect()
    const missed = ['m1', 'm2', 'm3'].map((text) => h.world.customerSends(phone, alice.user, text))
    h.world.customerEdits(phone, missed[0]!.id, 'm1 edited')
    const restarted = load(h, login)
    await restarted.client.connect()
    await restarted.log.waitFor((e) => e.type === 'edit')
    await settle()
    expect(restarted.log.messages().map((m) => m.text)).toEqual(['m1', 'm2', 'm3'])
    const calls = h.stubs.at(-1)!.callNames()
    expect(calls.filter((c) => c.startsWith('auth.'))).toEqual([])
    expect(calls[0]).toBe('users.getUsers')
    await restarted.client.disconnect()
  })

  test('catch-up repeats after an unclean stop are not emitted twice', async () => {
    const { phone, client, log, login } = await online(h)
    const storage = telegramStorage(repos.telegramSessions, login.id)
    const alice = customer(h.world)
    const position = await storage.kv.get('updates_pts')
    const sent = ['one', 'two'].map((text) => h.world.customerSends(phone, alice.user, text))
    await messageWithId(log, sent[1]!.id)
    await client.disconnect()
    // The process died before mtcute saved its position: storage still has the one from before.
    await storage.kv.set('updates_pts', position!)
    const restarted = load(h, login)
    await restarted.client.connect()
    const live = h.world.customerSends(phone, alice.user, 'three')
    await messageWithId(restarted.log, live.id)
    await settle()
    const diff = h.stubs.at(-1)!.calls.find((c) => c._ === 'updates.getDifference')
    expect(diff && diff._ === 'updates.getDifference' && diff.pts).toBeLessThan(
      h.world.account(phone).pts - 2,
    )
    expect(restarted.log.messages().map((m) => m.text)).toEqual(['three'])
    await restarted.client.disconnect()
  })

  test('holding the position: what the core did not ack comes again after a crash, what it acked does not', async () => {
    const { phone, login } = await loggedIn(h)
    const first = load(h, login)
    first.client.holdPositionUntilAck()
    await first.client.connect()
    const alice = customer(h.world)
    const [m1, m2] = ['acked', 'held'].map((text) => h.world.customerSends(phone, alice.user, text))
    const e1 = await messageWithId(first.log, m1!.id)
    await messageWithId(first.log, m2!.id)
    e1.ack!()
    await settle()
    await first.client.disconnect()
    const second = load(h, login)
    second.client.holdPositionUntilAck()
    await second.client.connect()
    const again = await messageWithId(second.log, m2!.id)
    await settle()
    expect(second.log.messages().map((m) => m.text)).toEqual(['held'])
    again.ack!()
    await settle()
    await second.client.disconnect()
    const third = load(h, login)
    third.client.holdPositionUntilAck()
    await third.client.connect()
    const m3 = h.world.customerSends(phone, alice.user, 'new')
    await messageWithId(third.log, m3.id)
    await settle()
    expect(third.log.messages().map((m: RemoteMessageEvent) => m.text)).toEqual(['new'])
    await third.client.disconnect()
  })

  test('logoutRemote ends the authorization at Telegram and deletes the session rows', async () => {
    const { phone, client, login } = await online(h)
    const before = h.world.authorizations.size
    await client.logoutRemote()
    expect(h.world.authorizations.size).toBe(before - 1)
    expect([...h.world.authorizations.values()].some((a) => a.user.phone === phone)).toBe(false)
    expect(await sessionRows(login.id)).toBe(0)
    const next = load(h, login)
    await next.client.connect()
    expect(next.log.events).toMatchObject([{ type: 'connection', state: 'bad-credentials' }])
  })

  test('an account keeps the device it logged in with when the configured one changes', async () => {
    const { login } = await loggedIn(h)
    const changed = { ...TEST_DEVICE, deviceModel: 'Renamed server', appVersion: 'Olchat 9.9.9' }
    const reconfigured = telegramHarness(repos, { world: h.world, device: changed })
    const { client } = load(reconfigured, login)
    await client.connect()
    expect(reconfigured.devices).toEqual([TEST_DEVICE])
    await client.disconnect()
    // New logins take the new device.
    await loggedIn(reconfigured)
    expect(reconfigured.devices.at(-1)).toEqual(changed)
  })
})
