import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { OperatorDeliveryPayload } from '../../src/bitrix/app/operator-messages.ts'
import { parsePayload } from '../../src/bitrix/portal-sender/payloads.ts'
import {
  FloodWaitError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
} from '../../src/bridge/errors.ts'
import { clientMessageIdFor } from '../../src/relay/keys.ts'
import { type OutboundDeps, OutboundRelay } from '../../src/relay/outbound.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Chat } from '../../storage/repos/chats.ts'
import type { Delivery, DeliveryKind } from '../../storage/repos/deliveries.ts'
import { rawText } from '../storage/fixtures.ts'
import { createWorld, type RelayWorld, TestMessengerClient } from './support.ts'

let world: RelayWorld
let server: ReturnType<typeof Bun.serve>
beforeAll(async () => {
  world = await createWorld()
  server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      const path = new URL(request.url).pathname
      if (path === '/gone') return new Response('no', { status: 404 })
      return new Response(`operator-file-body ${path}`, { headers: { 'content-type': 'text/plain' } })
    },
  })
})
afterAll(async () => {
  server.stop(true)
  await world.close()
})

interface Setup {
  account: Account
  chat: Chat
  client: TestMessengerClient
  relay: OutboundRelay
  notified: string[]
  floodWaits: number[]
}

async function setup(extra: Partial<OutboundDeps> = {}, chatCount = 1): Promise<Setup & { chats: Chat[] }> {
  const account = await world.newAccount()
  const chats: Chat[] = []
  for (let index = 0; index < chatCount; index++) {
    chats.push(
      await world.repos.chats.upsert({
        accountId: account.id,
        remoteChatId: `rc${index}`,
        portalChatId: `${100 + index}`,
      }),
    )
  }
  const client = new TestMessengerClient(account.id)
  const notified: string[] = []
  const floodWaits: number[] = []
  const relay = new OutboundRelay({
    sql: world.db.sql,
    repos: world.repos,
    client,
    notifySender: (id) => notified.push(id),
    hooks: { onFloodWait: (seconds) => floodWaits.push(seconds) },
    options: { retry: { baseMs: 1, capMs: 5 } },
    ...extra,
  })
  return { account, chat: chats[0]!, chats, client, relay, notified, floodWaits }
}

let sequence = 0

/** A delivery as the Bitrix24 inbox worker enqueues it. */
async function operatorDelivery(
  account: Account,
  chat: Chat,
  kind: DeliveryKind = 'message',
  extra: Partial<OperatorDeliveryPayload> & { messageId?: string } = {},
): Promise<Delivery> {
  const { messageId = `${++sequence}`, ...rest } = extra
  const payload: OperatorDeliveryPayload = {
    source: 'bitrix24',
    connector: 'olchat_telegram',
    line: '1',
    im: { chat_id: chat.portalChatId!, message_id: messageId },
    chat: { id: chat.remoteChatId },
    user_id: '5',
    text: kind === 'delete' ? '' : `operator text ${messageId}`,
    format: 'html',
    files: [],
    remoteIds: [],
    ...rest,
  }
  const suffix = kind === 'edit' ? `edit:${++sequence}` : kind
  const { delivery } = await world.repos.deliveries.enqueue({
    accountId: account.id,
    chatId: chat.id,
    direction: 'to_messenger',
    kind,
    idempotencyKey: `b24:portal:${messageId}:${suffix}`,
    payload,
  })
  return delivery
}

async function statusRows(account: Account): Promise<Delivery[]> {
  const rows = await world.db.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${account.id} and kind = 'status' order by id`
  return Promise.all(rows.map((row) => world.repos.deliveries.get(row.id)))
}

describe('outbound relay: sending', () => {
  test('send → status queued with messenger ids, body dropped, message recorded, chat read', async () => {
    const { account, chat, client, relay, notified } = await setup()
    await world.repos.messages.recordInbound({
      accountId: account.id,
      chatId: chat.id,
      originId: 'cust-1',
      sentAt: new Date('2025-03-01T09:00:00Z'),
    })
    const delivery = await operatorDelivery(account, chat, 'message', {
      messageId: '501',
      text: 'unique-operator-secret',
    })
    const result = await relay.drain()
    expect(result).toMatchObject({ status: 'idle', done: 1, failed: 0, dead: 0 })
    expect(client.held).toHaveLength(1)
    expect(client.held[0]).toMatchObject({
      chatId: 'rc0',
      text: 'unique-operator-secret',
      clientMessageId: clientMessageIdFor(delivery.idempotencyKey),
    })
    const done = await world.repos.deliveries.get(delivery.id)
    expect(done).toMatchObject({ status: 'done', payload: null })
    const [status, ...more] = await statusRows(account)
    expect(more).toHaveLength(0)
    expect(status).toMatchObject({
      direction: 'to_portal',
      chatId: chat.id,
      payload: {
        im: { chatId: '100', messageId: '501' },
        messageIds: client.held[0]!.messageIds,
        chat: { id: 'rc0' },
      },
    })
    expect(parsePayload('status', status!.payload).ok).toBe(true)
    expect(await rawText(world.db.sql, 'deliveries')).not.toContain('unique-operator-secret')
    const message = await world.repos.messages.findByOrigin(account.id, 'out', '501')
    expect(message).toMatchObject({ status: 'delivered', targetId: client.held[0]!.messageIds[0] })
    expect(message!.deliveredAt).not.toBeNull()
    expect(client.reads).toEqual([{ chatId: 'rc0', upTo: 'cust-1' }])
    expect(notified).toEqual([account.id])
    // A second answer finds nothing unread: no second mark.
    await operatorDelivery(account, chat)
    await relay.drain()
    expect(client.reads).toHaveLength(1)
  })

  test('operator files are streamed from the portal link', async () => {
    const { account, chat, client, relay } = await setup({
      fetch: (url, init) => fetch(url, init),
    })
    await operatorDelivery(account, chat, 'message', {
      text: '',
      files: [{ name: 'scan.pdf', mime: 'application/pdf', link: `${server.url}scan`, size: 10 }],
    })
    expect(await relay.drain()).toMatchObject({ done: 1 })
    expect(client.held[0]).toMatchObject({
      text: undefined,
      files: [{ name: 'scan.pdf', mimeType: 'application/pdf', body: 'operator-file-body /scan' }],
    })
  })

  test('a file the portal no longer serves dead-letters the item', async () => {
    const { account, chat, relay } = await setup()
    const delivery = await operatorDelivery(account, chat, 'message', {
      files: [{ name: null, mime: null, link: `${server.url}gone`, size: null }],
    })
    expect(await relay.drain()).toMatchObject({ dead: 1 })
    // R8: a dead letter keeps its body until expires_at, so an admin can retry it; the sweep drops it then.
    expect(await world.repos.deliveries.get(delivery.id)).toMatchObject({
      status: 'dead',
      payload: delivery.payload,
      lastError: 'permanent: operator-file-unavailable',
    })
  })

  test('edit and delete reach the messenger with the ids of the sent message', async () => {
    const { account, chat, client, relay } = await setup()
    await operatorDelivery(account, chat, 'message', { messageId: '601' })
    await relay.drain()
    const sentIds = client.held[0]!.messageIds
    // No remoteIds from the portal: the relay looks the message up itself.
    await operatorDelivery(account, chat, 'edit', { messageId: '601', text: 'changed' })
    await operatorDelivery(account, chat, 'delete', { messageId: '601', remoteIds: sentIds })
    expect(await relay.drain()).toMatchObject({ done: 2 })
    expect(client.edits).toEqual([{ chatId: 'rc0', messageId: sentIds[0]!, text: 'changed' }])
    expect(client.deletes).toEqual([{ chatId: 'rc0', messageIds: sentIds }])
    const message = await world.repos.messages.findByOrigin(account.id, 'out', '601')
    expect(message).toMatchObject({ status: 'deleted' })
    expect(message!.editedAt).not.toBeNull()
  })

  test('an edit of a message never delivered is dead-lettered', async () => {
    const { account, chat, relay } = await setup()
    const edit = await operatorDelivery(account, chat, 'edit', { messageId: 'never' })
    expect(await relay.drain()).toMatchObject({ dead: 1 })
    expect(await world.repos.deliveries.get(edit.id)).toMatchObject({ status: 'dead' })
  })
})

describe('outbound relay: failures', () => {
  test('flood wait → released until now + seconds, attempts unchanged, queue paused', async () => {
    const { account, chat, client, relay, floodWaits } = await setup()
    const first = await operatorDelivery(account, chat)
    const second = await operatorDelivery(account, chat)
    client.faults.push(new FloodWaitError(30))
    const before = Date.now()
    expect(await relay.drain()).toMatchObject({ status: 'paused', released: 2, done: 0 })
    const row = await world.repos.deliveries.get(first.id)
    expect(row).toMatchObject({ status: 'pending', attempts: 0 })
    expect(row.payload).not.toBeNull()
    expect(row.availableAt.getTime()).toBeGreaterThanOrEqual(before + 29_000)
    expect(row.availableAt.getTime()).toBeLessThanOrEqual(Date.now() + 31_000)
    expect(await world.repos.deliveries.get(second.id)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(floodWaits).toEqual([30])
    expect(relay.pausedUntil).toBeGreaterThan(Date.now())
    expect(await relay.drain()).toMatchObject({ status: 'paused', done: 0 })
    expect(client.held).toHaveLength(0)
  })

  test('permanent → dead letter with the reason, body kept for a retry until expiry', async () => {
    const { account, chat, client, relay } = await setup()
    const delivery = await operatorDelivery(account, chat)
    client.faults.push(new PermanentSendError('user-blocked'))
    expect(await relay.drain()).toMatchObject({ dead: 1 })
    expect(await world.repos.deliveries.get(delivery.id)).toMatchObject({
      status: 'dead',
      payload: delivery.payload,
      lastError: 'permanent: user-blocked',
    })
  })

  test('transient → retried later with an attempt counted', async () => {
    const { account, chat, client, relay } = await setup({
      options: { retry: { baseMs: 60_000, capMs: 60_000 } },
    })
    const delivery = await operatorDelivery(account, chat)
    client.faults.push(new TransientNetworkError('reset'))
    expect(await relay.drain()).toMatchObject({ failed: 1, status: 'idle' })
    const row = await world.repos.deliveries.get(delivery.id)
    expect(row).toMatchObject({ status: 'pending', attempts: 1 })
    expect(row.lastError).toContain('reset')
    expect(row.availableAt.getTime()).toBeGreaterThan(Date.now() + 20_000)
  })

  test('needs login → released untouched and the drain stops until resumed', async () => {
    const { account, chat, client, relay } = await setup()
    const delivery = await operatorDelivery(account, chat)
    client.faults.push(new NeedsLoginError('revoked'))
    expect(await relay.drain()).toMatchObject({ status: 'needs-login', released: 1 })
    expect(await world.repos.deliveries.get(delivery.id)).toMatchObject({ status: 'pending', attempts: 0 })
    expect(await relay.drain()).toMatchObject({ status: 'needs-login', done: 0 })
    relay.resume()
    expect(await relay.drain()).toMatchObject({ status: 'idle', done: 1 })
  })

  test('crash between send and commit → resent with the same client id, held once', async () => {
    let crashes = 1
    const { account, chat, client, relay } = await setup({
      options: { retry: { baseMs: 60_000, capMs: 60_000 } },
      hooks: {
        afterSend() {
          if (crashes-- > 0) throw new Error('simulated crash')
        },
      },
    })
    const delivery = await operatorDelivery(account, chat, 'message', { messageId: '701' })
    expect(await relay.drain()).toMatchObject({ failed: 1, done: 0 })
    expect(client.held).toHaveLength(1)
    await world.db.sql`update deliveries set available_at = now() where id = ${delivery.id}`
    expect(await relay.drain()).toMatchObject({ done: 1 })
    expect(client.sendCalls).toBe(2)
    expect(client.held).toHaveLength(1)
    expect(await statusRows(account)).toHaveLength(1)
    const rows = await world.db.sql`select * from messages where account_id = ${account.id}`
    expect(rows).toHaveLength(1)
  })
})

describe('outbound relay: ordering', () => {
  test('per-chat order kept across 200 messages in 10 chats, with transient faults', async () => {
    const { account, chats, client, relay } = await setup({}, 10)
    for (let index = 0; index < 200; index++) {
      const chat = chats[index % 10]!
      await operatorDelivery(account, chat, 'message', {
        text: `${chat.remoteChatId}#${Math.floor(index / 10)}`,
      })
    }
    // Every 7th send call fails: retried rows must not be overtaken by later rows of their chat.
    const send = client.send.bind(client)
    client.send = async (message) => {
      if (client.sendCalls % 7 === 6) {
        client.sendCalls++
        throw new TransientNetworkError('flaky')
      }
      return send(message)
    }
    for (let round = 0; round < 200 && client.held.length < 200; round++) {
      await relay.drain()
      await Bun.sleep(5)
    }
    expect(client.held).toHaveLength(200)
    for (const chat of chats) {
      const texts = client.held.filter((held) => held.chatId === chat.remoteChatId).map((held) => held.text)
      expect(texts).toEqual(Array.from({ length: 20 }, (_, n) => `${chat.remoteChatId}#${n}`))
    }
    const [pending] = await world.db.sql`
      select count(*)::int as n from deliveries
      where account_id = ${account.id} and direction = 'to_messenger' and status <> 'done'`
    expect(pending!.n).toBe(0)
  })
})
