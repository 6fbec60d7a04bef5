import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parsePayload } from '../../src/bitrix/portal-sender/payloads.ts'
import { toAccountId, toRemoteChatId, toRemoteMessageId, toRemoteUserId } from '../../src/bridge/ids.ts'
import type { RemoteEvent } from '../../src/bridge/remote-event.ts'
import { handleRemoteEvent, type InboundDeps } from '../../src/relay/inbound.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Delivery } from '../../storage/repos/deliveries.ts'
import { rawText } from '../storage/fixtures.ts'
import { createWorld, messageEvent, objectKeys, type RelayWorld, readObject, remoteFile } from './support.ts'

let world: RelayWorld
let deps: InboundDeps
const notified: string[] = []
beforeAll(async () => {
  world = await createWorld()
  deps = {
    sql: world.db.sql,
    repos: world.repos,
    files: world.files,
    notifySender: (accountId) => notified.push(accountId),
  }
})
afterAll(() => world.close())

async function toPortal(account: Account): Promise<Delivery[]> {
  const rows = await world.db.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${account.id} and direction = 'to_portal' order by id`
  return Promise.all(rows.map((row) => world.repos.deliveries.get(row.id)))
}

async function messageRows(account: Account) {
  return world.db.sql`select * from messages where account_id = ${account.id}`
}

function chatEvent(account: Account, chat: string) {
  const accountId = toAccountId(account.id)
  return { accountId, chat: { accountId, chatId: toRemoteChatId(chat) }, timestamp: new Date() }
}

describe('inbound relay: messages', () => {
  test('a text message becomes one to_portal message with the exact payload shape', async () => {
    const account = await world.newAccount()
    const before = notified.length
    const outcome = await handleRemoteEvent(deps, account, messageEvent(account.id, 'c1', '7'))
    expect(outcome).toBe('queued')
    const [row, ...rest] = await toPortal(account)
    expect(rest).toHaveLength(0)
    expect(row).toMatchObject({
      kind: 'message',
      status: 'pending',
      idempotencyKey: `in:${account.id}:c1:7`,
      payload: {
        chat: { id: 'c1' },
        user: { id: 'user-c1' },
        message: { id: '7', date: Date.parse('2025-03-01T10:00:00Z') / 1000, text: 'hello 7' },
      },
    })
    expect(parsePayload('message', row!.payload).ok).toBe(true)
    const chat = await world.repos.chats.getByRemote(account.id, 'c1')
    expect(row!.chatId).toBe(chat!.id)
    expect(chat!.contactId).not.toBeNull()
    expect(notified.slice(before)).toEqual([account.id])
  })

  test('the same remote message twice: one messages row, one delivery, no second download', async () => {
    const account = await world.newAccount()
    const file = remoteFile('first body', { name: 'a.txt' })
    const event = messageEvent(account.id, 'c1', '8', { files: [file] })
    expect(await handleRemoteEvent(deps, account, event)).toBe('queued')
    expect(await handleRemoteEvent(deps, account, event)).toBe('duplicate')
    expect(await messageRows(account)).toHaveLength(1)
    expect(await toPortal(account)).toHaveLength(1)
    expect(await objectKeys(world, account)).toHaveLength(1)
    expect(file.opens).toBe(1)
  })

  test('a repeat racing the first: the loser removes the objects it wrote', async () => {
    const account = await world.newAccount()
    // Both downloads wait until both have started, so both events are past the early duplicate check.
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const file = remoteFile('raced body', { name: 'r.txt', gate })
    const event = messageEvent(account.id, 'c1', '9', { files: [file] })
    const both = Promise.all([
      handleRemoteEvent(deps, account, event),
      handleRemoteEvent(deps, account, event),
    ])
    while (file.opens < 2) await Bun.sleep(1)
    release()
    expect((await both).sort()).toEqual(['duplicate', 'queued'])
    expect(await messageRows(account)).toHaveLength(1)
    const [row, ...rest] = await toPortal(account)
    expect(rest).toHaveLength(0)
    const keys = await objectKeys(world, account)
    const payload = row!.payload as { message: { files: { objectKey: string }[] } }
    expect(keys).toEqual([payload.message.files[0]!.objectKey])
  })

  test('files are streamed into the store and referenced by key only', async () => {
    const account = await world.newAccount()
    const event = messageEvent(account.id, 'c2', '10', {
      text: undefined,
      files: [
        remoteFile('secret-file-body-1', { name: 'report.pdf', mimeType: 'application/pdf' }),
        remoteFile('secret-file-body-2', { mimeType: 'image/jpeg' }),
      ],
    })
    expect(await handleRemoteEvent(deps, account, event)).toBe('queued')
    const [row] = await toPortal(account)
    const payload = row!.payload as { message: Record<string, unknown> }
    expect(Object.keys(payload.message).sort()).toEqual(['date', 'files', 'id'])
    const files = payload.message.files as { objectKey: string; name: string; mime: string }[]
    expect(files.map(({ name, mime }) => ({ name, mime }))).toEqual([
      { name: 'report.pdf', mime: 'application/pdf' },
      { name: 'document.jpg', mime: 'image/jpeg' },
    ])
    const prefix = `p/${account.portalId}/a/${account.id}/in/`
    for (const file of files) expect(file.objectKey.startsWith(prefix)).toBe(true)
    expect(await readObject(world, files[0]!.objectKey)).toBe('secret-file-body-1')
    expect(await readObject(world, files[1]!.objectKey)).toBe('secret-file-body-2')
    expect(parsePayload('message', row!.payload).ok).toBe(true)
    const raw = `${await rawText(world.db.sql, 'deliveries')}${await rawText(world.db.sql, 'messages')}`
    expect(raw).not.toContain('secret-file-body')
  })

  test('a failed download removes what the message already wrote and throws', async () => {
    const account = await world.newAccount()
    const broken = remoteFile('x', { name: 'b.txt' })
    broken.open = async () => {
      throw new Error('network down')
    }
    const event = messageEvent(account.id, 'c3', '11', {
      files: [remoteFile('ok body', { name: 'ok.txt' }), broken],
    })
    await expect(handleRemoteEvent(deps, account, event)).rejects.toThrow('network down')
    expect(await objectKeys(world, account)).toEqual([])
    expect(await messageRows(account)).toHaveLength(0)
    expect(await toPortal(account)).toHaveLength(0)
  })

  test("the account's own messages and echoes are not relayed", async () => {
    const account = await world.newAccount()
    const own = messageEvent(account.id, 'c4', '12', {
      sender: { userId: toRemoteUserId('me'), fromMe: true },
    })
    expect(await handleRemoteEvent(deps, account, own)).toBe('skipped')
    expect(await toPortal(account)).toHaveLength(0)
  })
})

describe('inbound relay: edits, deletions, read receipts', () => {
  test('edit → to_portal edit; delete → to_portal delete, only for relayed messages', async () => {
    const account = await world.newAccount()
    await handleRemoteEvent(deps, account, messageEvent(account.id, 'c5', '20'))
    const sender = { userId: toRemoteUserId('user-c5'), fromMe: false }
    const edit: RemoteEvent = {
      type: 'edit',
      ...chatEvent(account, 'c5'),
      messageId: toRemoteMessageId('20'),
      sender,
      text: 'edited',
    }
    expect(await handleRemoteEvent(deps, account, edit)).toBe('queued')
    expect(await handleRemoteEvent(deps, account, edit)).toBe('duplicate')
    const unknown = { ...edit, messageId: toRemoteMessageId('999') }
    expect(await handleRemoteEvent(deps, account, unknown)).toBe('skipped')
    const del: RemoteEvent = {
      type: 'delete',
      ...chatEvent(account, 'c5'),
      messageIds: [toRemoteMessageId('20'), toRemoteMessageId('998')],
    }
    expect(await handleRemoteEvent(deps, account, del)).toBe('queued')
    expect(await handleRemoteEvent(deps, account, del)).toBe('duplicate')
    const rows = await toPortal(account)
    expect(rows.map((row) => row.kind)).toEqual(['message', 'edit', 'delete'])
    expect(rows[1]!.payload).toEqual({
      chat: { id: 'c5' },
      user: { id: 'user-c5' },
      message: { id: '20', text: 'edited' },
    })
    expect(rows[2]!.payload).toEqual({ chat: { id: 'c5' }, user: { id: 'user-c5' }, message: { id: '20' } })
    expect(parsePayload('edit', rows[1]!.payload).ok).toBe(true)
    expect(parsePayload('delete', rows[2]!.payload).ok).toBe(true)
    const [message] = await messageRows(account)
    expect(message).toMatchObject({ status: 'deleted' })
    expect(message!.editedAt).not.toBeNull()
  })

  test('read → one to_portal read per newly read operator message, repeats cost nothing', async () => {
    const account = await world.newAccount()
    const chat = await world.repos.chats.upsert({
      accountId: account.id,
      remoteChatId: 'c6',
      portalChatId: '77',
    })
    for (const [origin, target, at] of [
      ['b1', 'm1', '2025-03-01T10:00:00Z'],
      ['b2', 'm2', '2025-03-01T10:01:00Z'],
    ] as const) {
      await world.repos.messages.recordOutbound({
        accountId: account.id,
        chatId: chat.id,
        originId: origin,
        targetId: target,
        sentAt: new Date(at),
        status: 'delivered',
      })
    }
    const reader = { userId: toRemoteUserId('user-c6'), fromMe: false }
    const read = (upTo: string): RemoteEvent => ({
      type: 'read',
      ...chatEvent(account, 'c6'),
      upTo: toRemoteMessageId(upTo),
      reader,
    })
    expect(await handleRemoteEvent(deps, account, read('m2'))).toBe('queued')
    expect(await handleRemoteEvent(deps, account, read('m1'))).toBe('duplicate')
    expect(await handleRemoteEvent(deps, account, read('m2'))).toBe('duplicate')
    expect(await handleRemoteEvent(deps, account, read('unknown'))).toBe('skipped')
    const rows = await toPortal(account)
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      kind: 'read',
      payload: { chat: { id: 'c6' }, messageIds: ['m2'], im: { chatId: '77', messageId: 'b2' } },
    })
    expect(parsePayload('read', rows[0]!.payload).ok).toBe(true)
    const marks = await world.db.sql`
      select count(*)::int as n from messages where chat_id = ${chat.id} and read_at is not null`
    expect(marks[0]!.n).toBe(2)
  })
})
