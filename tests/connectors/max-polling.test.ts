/**
 * The MAX client in long-polling mode against the MAX emulator, beyond the contract: `attachment.not.ready`,
 * 429 storms, `success: false`, long texts, updates we do not handle, the request budget, and a restart that
 * resumes from the marker stored in a real (sealed) session store.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FloodWaitError, PermanentSendError } from '../../src/bridge/errors.ts'
import { toAccountId, toClientMessageId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { SessionStore } from '../../src/bridge/login.ts'
import type { RemoteMessageEvent } from '../../src/bridge/remote-event.ts'
import type { MaxClient } from '../../src/connectors/max/client.ts'
import { SESSION_KEYS } from '../../src/connectors/max/session.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { repositories, seedAccount } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { driveLogin, EventLog, MemorySessionStore } from './contract.ts'
import { type MaxHarness, maxHarness } from './max-harness.ts'

let h: MaxHarness
let skipped: string[] = []
beforeAll(async () => {
  h = await maxHarness({ onSkipped: (reason) => skipped.push(reason) })
})
afterAll(() => h.close())

let ids = 0
const cmid = () => toClientMessageId(`max-polling-${process.pid}-${++ids}`)

async function online(
  session: SessionStore = new MemorySessionStore(),
  accountId: string = crypto.randomUUID(),
  hold = false,
) {
  const account = await h.newAccount()
  const login = h.connector.createLogin(toLoginFlowId('token'), {
    accountId: toAccountId(accountId),
    session,
    signal: new AbortController().signal,
  })
  const done = await driveLogin(login, await login.start(), account)
  const load = () =>
    h.connector.loadAccount({
      id: toAccountId(accountId),
      remoteId: done.account.remoteId,
      credentials: done.account.credentials ?? null,
      session,
    })
  const client = load()
  if (hold) client.holdPositionUntilAck()
  const log = new EventLog(client)
  await client.connect()
  const customer = await account.newCustomer()
  return { account, client, log, customer, load, token: account.token! }
}

describe('sending', () => {
  test('attachment.not.ready twice, then accepted: the file is delivered once', async () => {
    const { client, customer, account } = await online()
    h.emulator.faults.attachmentNotReady(2)
    const before = h.emulator.stats().attachment_not_ready ?? 0
    const sent = await client.send({
      chatId: customer.chatId,
      clientMessageId: cmid(),
      files: [
        {
          name: 'photo.png',
          mimeType: 'image/png',
          size: 3,
          open: async () => new Blob([new Uint8Array([1, 2, 3])]).stream(),
        },
      ],
    })
    expect(sent.messageIds).toHaveLength(1)
    // The emulator's own first-send refusal of a fresh token comes on top of the two faults.
    expect((h.emulator.stats().attachment_not_ready ?? 0) - before).toBeGreaterThanOrEqual(2)
    const remote = await account.outgoing(customer)
    expect(remote).toHaveLength(1)
    expect(remote[0]!.file?.bytes).toEqual(new Uint8Array([1, 2, 3]))
  })

  test('a 429 storm is a FloodWaitError; sent again after it, everything arrives once, in order', async () => {
    const { client, customer, account } = await online()
    h.emulator.faults.rateLimit(3)
    const texts = ['first', 'second', 'third']
    const pending = texts.map((text) => ({ chatId: customer.chatId, clientMessageId: cmid(), text }))
    const floods: number[] = []
    for (const message of pending) {
      for (;;) {
        const outcome = await client.send(message).catch((e) => e)
        if (!(outcome instanceof FloodWaitError)) break
        floods.push(outcome.seconds)
        await Bun.sleep(20)
      }
    }
    expect(floods.length).toBeGreaterThanOrEqual(1)
    expect((await account.outgoing(customer)).map((m) => m.text)).toEqual(texts)
    h.emulator.faults.clear()
  })

  test('success:false is a PermanentSendError carrying MAX’s message', async () => {
    const { client, customer } = await online()
    const sent = await client.send({ chatId: customer.chatId, clientMessageId: cmid(), text: 'to edit' })
    h.emulator.faults.failNext('edit.refused.here')
    const error = await client.edit(customer.chatId, sent.messageIds[0]!, 'edited').catch((e) => e)
    expect(error).toBeInstanceOf(PermanentSendError)
    expect(error.message).toContain('edit.refused.here')
  })

  test('a long text goes as several messages of ≤ 4000 characters, in order', async () => {
    const { client, customer, account } = await online()
    const text = Array.from({ length: 1500 }, (_, i) => `w${i}`).join(' ')
    const sent = await client.send({ chatId: customer.chatId, clientMessageId: cmid(), text })
    const remote = await account.outgoing(customer)
    expect(sent.messageIds.length).toBeGreaterThan(1)
    expect(remote.map((m) => m.id)).toEqual(sent.messageIds)
    expect(remote.map((m) => m.text).join(' ')).toBe(text)
    for (const m of remote) expect(m.text.length).toBeLessThanOrEqual(4000)
  })

  test('a burst of 45 sends stays within 30 requests a second: MAX never answers 429', async () => {
    const { client, customer } = await online()
    const before = h.emulator.stats().rate_limited ?? 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        client.send({ chatId: customer.chatId, clientMessageId: cmid(), text: `burst ${i}` }),
      ),
    )
    const seconds = (performance.now() - started) / 1000
    expect(h.emulator.stats().rate_limited ?? 0).toBe(before)
    // 45 calls at ≤ 30 per second need more than one second.
    expect(seconds).toBeGreaterThan(0.9)
  })
})

describe('receiving', () => {
  test('an update type we do not handle is skipped and counted; later updates still arrive', async () => {
    const { log, customer, token } = await online()
    skipped = []
    h.emulator.injectUpdate(token, { update_type: 'chat_title_changed', chat_id: 1, title: 't', user: {} })
    h.emulator.injectUpdate(token, { update_type: 'future_update_type', whatever: true })
    const after = await customer.send({ text: 'still here' })
    await log.waitFor((e) => e.type === 'message' && e.messageId === after.messageId)
    expect(skipped).toContain('type:chat_title_changed')
    expect(skipped).toContain('type:future_update_type')
  })

  test('bot_started keeps the deep-link payload; the dialog is remembered for contacts', async () => {
    const session = new MemorySessionStore()
    const { log, token, client } = await online(session)
    const user = h.emulator.createUser({ name: 'Deep', lastName: 'Link' })
    const { chatId } = await h.emulator.userStartsBot(token, user.userId, 'crm-lead-42')
    await log.waitFor((e) => e.type === 'contact' && e.contact.userId === String(user.userId))
    await Bun.sleep(50)
    const payload = await session.get(`${SESSION_KEYS.startPayload}${chatId}`)
    expect(new TextDecoder().decode(payload)).toBe('crm-lead-42')
    const contacts = await client.syncContacts()
    expect(contacts).toContainEqual(
      expect.objectContaining({ userId: String(user.userId), firstName: 'Deep', lastName: 'Link' }),
    )
    const avatar = await client.openAvatar(String(user.userId) as never)
    if (avatar) await avatar.stream.cancel()
  })
})

describe('restart in polling mode with a real session store', () => {
  let db: TestDatabase
  let repos: Repositories
  beforeAll(async () => {
    db = await createTestDatabase()
    repos = repositories(db.sql)
  })
  afterAll(() => db.drop())

  test('resumes from the stored marker: nothing lost, nothing acked comes again', async () => {
    const row = await seedAccount(repos)
    const session: SessionStore = {
      get: (key) => repos.accountSessions.get(row.id, key),
      set: (key, value) => repos.accountSessions.set(row.id, key, value),
      delete: async (key) => void (await repos.accountSessions.delete(row.id, key)),
      clear: async () => void (await repos.accountSessions.deleteAll(row.id)),
    }
    const { client, log, customer, load } = await online(session, row.id, true)
    const first = client as MaxClient
    // The customer's bot_started, acked.
    ;(await log.waitFor((e) => e.type === 'contact')).ack?.()
    const a = await customer.send({ text: 'a' })
    const aEvent = (await log.waitFor(
      (e) => e.type === 'message' && e.messageId === a.messageId,
    )) as RemoteMessageEvent
    aEvent.ack?.()
    await Bun.sleep(1200)
    const markerAfterA = await repos.accountSessions.getText(row.id, SESSION_KEYS.marker)
    expect(markerAfterA).toMatch(/^\d+$/)
    // `b` is handed over but not acked when the process stops: its batch is not committed.
    const b = await customer.send({ text: 'b' })
    await log.waitFor((e) => e.type === 'message' && e.messageId === b.messageId)
    await first.disconnect()
    log.unsubscribe()
    expect(await repos.accountSessions.getText(row.id, SESSION_KEYS.marker)).toBe(markerAfterA)
    const c = await customer.send({ text: 'c' })

    const second = load()
    const again = new EventLog(second)
    await second.connect()
    await again.waitFor((e) => e.type === 'message' && e.messageId === c.messageId)
    await Bun.sleep(200)
    expect(again.messages().map((m) => m.text)).toEqual(['b', 'c'])
    await second.disconnect()
    again.unsubscribe()
    expect(Number(await repos.accountSessions.getText(row.id, SESSION_KEYS.marker))).toBeGreaterThan(
      Number(markerAfterA),
    )
  })
})

describe('switching to long polling', () => {
  test("this account's webhook subscriptions are removed, another system's are left alone", async () => {
    const accountId = crypto.randomUUID()
    const account = await h.newAccount()
    const subscribe = (url: string) =>
      fetch(`${h.emulator.url}/subscriptions`, {
        method: 'POST',
        headers: { authorization: account.token!, 'content-type': 'application/json' },
        body: JSON.stringify({ url, update_types: ['message_created'] }),
      })
    await subscribe(`http://127.0.0.1:9/max/webhook/${accountId}`)
    await subscribe('http://127.0.0.1:9/someone-else')
    const session = new MemorySessionStore()
    const login = h.connector.createLogin(toLoginFlowId('token'), {
      accountId: toAccountId(accountId),
      session,
      signal: new AbortController().signal,
    })
    const done = await driveLogin(login, await login.start(), account)
    const client = h.connector.loadAccount({
      id: toAccountId(accountId),
      remoteId: done.account.remoteId,
      credentials: done.account.credentials ?? null,
      session,
    })
    const log = new EventLog(client)
    await client.connect()
    expect(log.events[0]).toMatchObject({ type: 'connection', state: 'connected' })
    const list = (await (
      await fetch(`${h.emulator.url}/subscriptions`, { headers: { authorization: account.token! } })
    ).json()) as { subscriptions: { url: string }[] }
    expect(list.subscriptions.map((s) => s.url)).toEqual(['http://127.0.0.1:9/someone-else'])
    await client.disconnect()
  })
})
