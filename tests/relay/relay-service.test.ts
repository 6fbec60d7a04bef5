import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { toRemoteChatId, toRemoteMessageId } from '../../src/bridge/ids.ts'
import { RelayService } from '../../src/relay/relay-service.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import { createWorld, messageEvent, type RelayWorld, remoteFile, TestMessengerClient } from './support.ts'

let world: RelayWorld
beforeAll(async () => {
  world = await createWorld()
})
afterAll(() => world.close())

function service(account: Account, client: TestMessengerClient, notified: string[] = []) {
  return new RelayService({
    sql: world.db.sql,
    repos: world.repos,
    files: world.files,
    client,
    account,
    notifySender: (id) => notified.push(id),
    options: { pollIntervalMs: 50, retry: { baseMs: 5, capMs: 20 } },
    outbound: { retry: { baseMs: 5, capMs: 20 } },
  })
}

async function count(account: Account, where: 'to_portal' | 'to_messenger') {
  const [row] = await world.db.sql<{ n: number }[]>`
    select count(*)::int as n from deliveries where account_id = ${account.id} and direction = ${where}`
  return row!.n
}

describe('RelayService', () => {
  test('events from the client are relayed in order; a failing event is retried, not lost', async () => {
    const account = await world.newAccount()
    const client = new TestMessengerClient(account.id)
    const notified: string[] = []
    const relay = service(account, client, notified)
    relay.start()
    const flaky = remoteFile('body', { name: 'f.txt' })
    const open = flaky.open.bind(flaky)
    let failures = 2
    flaky.open = async (signal) => {
      if (failures-- > 0) throw new Error('download hiccup')
      return open(signal)
    }
    client.emit(messageEvent(account.id, 'c1', '1', { files: [flaky] }))
    client.emit(messageEvent(account.id, 'c1', '2'))
    client.emit(messageEvent(account.id, 'c1', '2'))
    await relay.idle()
    const rows = await world.db.sql<{ key: string }[]>`
      select idempotency_key as key from deliveries where account_id = ${account.id} order by id`
    expect(rows.map((row) => row.key)).toEqual([`in:${account.id}:c1:1`, `in:${account.id}:c1:2`])
    expect(notified.length).toBeGreaterThanOrEqual(2)
    await relay.stop()
  })

  test('wake() drains the outbound queue; the poll picks up work without a wake', async () => {
    const account = await world.newAccount()
    const chat = await world.repos.chats.upsert({
      accountId: account.id,
      remoteChatId: 'c9',
      portalChatId: '9',
    })
    const client = new TestMessengerClient(account.id)
    const relay = service(account, client)
    const enqueue = (id: string) =>
      world.repos.deliveries.enqueue({
        accountId: account.id,
        chatId: chat.id,
        direction: 'to_messenger',
        kind: 'message',
        idempotencyKey: `b24:p:${id}:message`,
        payload: {
          im: { chat_id: '9', message_id: id },
          chat: { id: 'c9' },
          text: `text ${id}`,
          format: 'plain',
          files: [],
          remoteIds: [],
        },
      })
    relay.start()
    await relay.idle()
    await enqueue('1')
    relay.wake()
    await relay.idle()
    expect(client.held.map((held) => held.text)).toEqual(['text 1'])
    await enqueue('2')
    for (let waited = 0; client.held.length < 2 && waited < 2000; waited += 10) await Bun.sleep(10)
    expect(client.held.map((held) => held.text)).toEqual(['text 1', 'text 2'])
    await relay.idle()
    expect(await count(account, 'to_portal')).toBe(2)
    await relay.stop()
  })

  test('stop() waits for the item in flight and takes no more events', async () => {
    const account = await world.newAccount()
    const client = new TestMessengerClient(account.id)
    const relay = service(account, client)
    relay.start()
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = remoteFile('slow body', { name: 's.txt', gate })
    client.emit(messageEvent(account.id, 'c2', '1', { files: [slow] }))
    while (slow.opens === 0) await Bun.sleep(1)
    const stopped = relay.stop()
    release()
    await stopped
    client.emit(messageEvent(account.id, 'c2', '2'))
    relay.push({
      type: 'delete',
      accountId: account.id as never,
      chat: { accountId: account.id as never, chatId: toRemoteChatId('c2') },
      timestamp: new Date(),
      messageIds: [toRemoteMessageId('1')],
    })
    await relay.idle()
    expect(await count(account, 'to_portal')).toBe(1)
    const keys = await world.db
      .sql`select 1 from deliveries where idempotency_key = ${`in:${account.id}:c2:2`}`
    expect(keys).toHaveLength(0)
  })

  test('a holding client is told so; events are acked only once committed, never on stop()', async () => {
    const account = await world.newAccount()
    const client = new TestMessengerClient(account.id) as TestMessengerClient & {
      holdPositionUntilAck(): void
    }
    let holding = false
    client.holdPositionUntilAck = () => {
      holding = true
    }
    const relay = service(account, client)
    expect(holding).toBe(true)
    relay.start()
    const acked: string[] = []
    const tracked = (id: string, extra = {}) => {
      const event = messageEvent(account.id, 'c3', id, extra)
      event.ack = () => void acked.push(id)
      return event
    }
    const first = tracked('1')
    client.emit(first)
    client.emit(tracked('1'))
    await relay.idle()
    expect(acked).toEqual(['1', '1'])
    const [stored] = await world.db.sql`
      select count(*)::int as n from deliveries where idempotency_key = ${`in:${account.id}:c3:1`}`
    expect(stored!.n).toBe(1)
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = remoteFile('slow', { name: 's.txt', gate })
    client.emit(tracked('2', { files: [slow] }))
    client.emit(tracked('3'))
    while (slow.opens === 0) await Bun.sleep(1)
    expect(acked).toEqual(['1', '1'])
    const stopped = relay.stop()
    release()
    await stopped
    // `2` was in flight and is committed; `3` only sat in memory: not acked, so the messenger resends it.
    expect(acked).toEqual(['1', '1', '2'])
  })

  test('fencing: once another instance holds the lease, no relay write commits and nothing is acked', async () => {
    const account = await world.newAccount()
    const [lease] = await world.repos.accountLeases.acquireAvailable('instance-old', 1000, 60_000)
    const token = (await world.repos.accountLeases.find(account.id))!.fencingToken
    expect(lease).toBeDefined()
    const client = new TestMessengerClient(account.id)
    const relay = new RelayService({
      sql: world.db.sql,
      repos: world.repos,
      files: world.files,
      client,
      account,
      notifySender: () => {},
      fence: (tx) => world.repos.accountLeases.assertFence(account.id, token, tx),
      options: { pollIntervalMs: 60_000, retry: { baseMs: 5, capMs: 20 } },
    })
    relay.start()
    const acked: string[] = []
    const tracked = (id: string) => {
      const event = messageEvent(account.id, 'f1', id)
      event.ack = () => void acked.push(id)
      return event
    }
    client.emit(tracked('1'))
    await relay.idle()
    expect(acked).toEqual(['1'])
    // Another instance takes the account over (the old lease expired while this one was frozen).
    await world.db
      .sql`update account_leases set expires_at = now() - interval '1 second' where account_id = ${account.id}`
    const taken = await world.repos.accountLeases.acquireAvailable('instance-new', 1000, 60_000)
    expect(taken.map((l) => l.accountId)).toContain(account.id)
    client.emit(tracked('2'))
    await relay.idle()
    expect(acked).toEqual(['1'])
    const keys = await world.db.sql<{ key: string }[]>`
      select idempotency_key as key from deliveries where account_id = ${account.id} order by id`
    expect(keys.map((k) => k.key)).toEqual([`in:${account.id}:f1:1`])
    // Operator → customer: the send may happen, but its record does not commit; the row goes back untouched.
    const chat = await world.repos.chats.upsert({
      accountId: account.id,
      remoteChatId: 'f1',
      portalChatId: '11',
    })
    const { delivery } = await world.repos.deliveries.enqueue({
      accountId: account.id,
      chatId: chat.id,
      direction: 'to_messenger',
      kind: 'message',
      idempotencyKey: `b24:p:f-${account.id}:message`,
      payload: {
        im: { chat_id: '11', message_id: 'f-1' },
        chat: { id: 'f1' },
        text: 'fenced',
        format: 'plain',
        files: [],
        remoteIds: [],
      },
    })
    relay.wake()
    await relay.idle()
    expect(await world.repos.deliveries.get(delivery.id)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(await world.repos.messages.findByOrigin(account.id, 'out', 'f-1')).toBeUndefined()
    await relay.stop()
  })
})
