/**
 * The account owner's own messages (`sender.fromMe`, typed on another device) in the inbound relay: with an
 * employee named on the account they are queued like a customer's message, in the customer's chat, with
 * `message.userId`; without one, and when they are Olchat's own sends coming back, they are skipped.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parsePayload } from '../../src/bitrix/portal-sender/payloads.ts'
import { portalItem } from '../../src/bitrix/portal-sender/portal-items.ts'
import { toClientMessageId, toRemoteMessageId, toRemoteUserId } from '../../src/bridge/ids.ts'
import type { RemoteEvent, RemoteMessageEvent } from '../../src/bridge/remote-event.ts'
import { handleRemoteEvent, type InboundDeps } from '../../src/relay/inbound.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Delivery } from '../../storage/repos/deliveries.ts'
import { createWorld, messageEvent, type RelayWorld } from './support.ts'

let world: RelayWorld
let deps: InboundDeps
beforeAll(async () => {
  world = await createWorld()
  deps = { sql: world.db.sql, repos: world.repos, files: world.files, notifySender: () => {} }
})
afterAll(() => world.close())

const me = { userId: toRemoteUserId('me'), fromMe: true }

/** What the owner typed on the phone in the chat with `peer`. */
function typed(account: Account, chat: string, id: string, extra: Partial<RemoteMessageEvent> = {}) {
  return messageEvent(account.id, chat, id, {
    sender: me,
    peer: toRemoteUserId(`user-${chat}`),
    text: `typed ${id}`,
    ...extra,
  })
}

async function employeeAccount(employeeId: string | null = '27'): Promise<Account> {
  const account = await world.newAccount()
  if (employeeId !== null) await world.repos.accounts.setEmployee(account.id, employeeId)
  return account
}

async function toPortal(account: Account): Promise<Delivery[]> {
  const rows = await world.db.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${account.id} and direction = 'to_portal' order by id`
  return Promise.all(rows.map((row) => world.repos.deliveries.get(row.id)))
}

async function messageRows(account: Account) {
  const rows = await world.db.sql<{ originId: string; employeeId: string | null; echoId: string | null }[]>`
    select origin_id, employee_id, echo_id from messages where account_id = ${account.id} order by sent_at, id`
  return [...rows]
}

describe("the owner's own messages", () => {
  test('with an employee named: queued in the customer’s chat as the employee’s message', async () => {
    const account = await employeeAccount('27')
    await handleRemoteEvent(deps, account, messageEvent(account.id, 'c1', '1'))
    const outcome = await handleRemoteEvent(
      deps,
      account,
      typed(account, 'c1', '2', { timestamp: new Date('2025-03-01T10:00:05Z') }),
    )
    expect(outcome).toBe('queued')
    const [customer, owner, ...rest] = await toPortal(account)
    expect(rest).toEqual([])
    // Per-chat order is the order of the rows, exactly as for the customer's messages.
    expect(customer!.chatId).toBe(owner!.chatId)
    expect(owner).toMatchObject({
      kind: 'message',
      idempotencyKey: `in:${account.id}:c1:2`,
      payload: {
        chat: { id: 'c1' },
        // The chat's person, not the owner: the portal keeps the message in the customer's chat.
        user: { id: 'user-c1' },
        message: { id: '2', text: 'typed 2', userId: '27' },
      },
    })
    const parsed = parsePayload('message', owner!.payload)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    const item = await portalItem('message', parsed.payload, async (key) => key)
    expect(item.message).toMatchObject({ id: '2', user_id: '27' })
    expect(await messageRows(account)).toEqual([
      { originId: '1', employeeId: null, echoId: null },
      { originId: '2', employeeId: '27', echoId: null },
    ])
  })

  test('a repeat of the event is recorded and queued once', async () => {
    const account = await employeeAccount()
    const event = typed(account, 'c2', '5')
    expect(await handleRemoteEvent(deps, account, event)).toBe('queued')
    expect(await handleRemoteEvent(deps, account, event)).toBe('duplicate')
    expect(await toPortal(account)).toHaveLength(1)
    expect(await messageRows(account)).toHaveLength(1)
  })

  test('the owner writes first: the chat is made with the person the connector names', async () => {
    const account = await employeeAccount()
    expect(await handleRemoteEvent(deps, account, typed(account, 'c3', '7'))).toBe('queued')
    const chat = await world.repos.chats.getByRemote(account.id, 'c3')
    const contact = await world.repos.contacts.get(chat!.contactId!)
    expect(contact.remoteId).toBe('user-c3')
    // No person named and no chat yet: nothing to put it in.
    const lost = typed(account, 'c4', '8', { peer: undefined })
    expect(await handleRemoteEvent(deps, account, lost)).toBe('skipped')
    expect(await world.repos.chats.getByRemote(account.id, 'c4')).toBeUndefined()
  })

  test('without an employee the owner’s messages are skipped, as before', async () => {
    const account = await employeeAccount(null)
    expect(await handleRemoteEvent(deps, account, typed(account, 'c5', '9'))).toBe('skipped')
    expect(await toPortal(account)).toEqual([])
    expect(await messageRows(account)).toEqual([])
    // Named later: the next one goes (the relay asks the account every time).
    await world.repos.accounts.setEmployee(account.id, '31')
    expect(await handleRemoteEvent(deps, account, typed(account, 'c5', '10'))).toBe('queued')
    await world.repos.accounts.setEmployee(account.id, null)
    expect(await handleRemoteEvent(deps, account, typed(account, 'c5', '11'))).toBe('skipped')
  })

  test('Olchat’s own sends coming back are skipped: by client id, or by the operator message’s record', async () => {
    const account = await employeeAccount()
    await handleRemoteEvent(deps, account, messageEvent(account.id, 'c6', '1'))
    const chat = (await world.repos.chats.getByRemote(account.id, 'c6'))!
    const echoed = typed(account, 'c6', '2', { clientMessageId: toClientMessageId('abc') })
    expect(await handleRemoteEvent(deps, account, echoed)).toBe('skipped')
    // An operator message the outbound relay sent as messenger message 3 (recorded as its target id).
    await world.repos.messages.recordOutbound({
      accountId: account.id,
      chatId: chat.id,
      originId: '86497',
      sentAt: new Date(),
      targetId: '3',
    })
    expect(await handleRemoteEvent(deps, account, typed(account, 'c6', '3'))).toBe('skipped')
    expect((await toPortal(account)).map((row) => row.idempotencyKey)).toEqual([`in:${account.id}:c6:1`])
  })

  test('the owner’s edit and deletion of a relayed own message follow it, in the customer’s chat', async () => {
    const account = await employeeAccount()
    await handleRemoteEvent(deps, account, typed(account, 'c7', '12'))
    const chatPart = {
      accountId: account.id as never,
      chat: { accountId: account.id as never, chatId: 'c7' as never },
      timestamp: new Date('2025-03-01T10:05:00Z'),
    }
    const edit: RemoteEvent = {
      type: 'edit',
      ...chatPart,
      messageId: toRemoteMessageId('12'),
      sender: me,
      text: 'typed, fixed',
    }
    expect(await handleRemoteEvent(deps, account, edit)).toBe('queued')
    // The owner editing an operator message Olchat sent (never relayed in): nothing to follow.
    const other = { ...edit, messageId: toRemoteMessageId('400') }
    expect(await handleRemoteEvent(deps, account, other)).toBe('skipped')
    const del: RemoteEvent = { type: 'delete', ...chatPart, messageIds: [toRemoteMessageId('12')] }
    expect(await handleRemoteEvent(deps, account, del)).toBe('queued')
    const [, editRow, deleteRow] = await toPortal(account)
    expect(editRow!.payload).toEqual({
      chat: { id: 'c7' },
      user: { id: 'user-c7' },
      message: { id: '12', text: 'typed, fixed' },
    })
    expect(deleteRow!.payload).toEqual({ chat: { id: 'c7' }, user: { id: 'user-c7' }, message: { id: '12' } })
  })

  test('a customer edit of an owner’s message id, or an owner edit of a customer’s, is not taken', async () => {
    const account = await employeeAccount()
    await handleRemoteEvent(deps, account, messageEvent(account.id, 'c8', '20'))
    await handleRemoteEvent(deps, account, typed(account, 'c8', '21'))
    const base = {
      type: 'edit' as const,
      accountId: account.id as never,
      chat: { accountId: account.id as never, chatId: 'c8' as never },
      timestamp: new Date(),
      text: 'x',
    }
    const ownerOnCustomer = { ...base, messageId: toRemoteMessageId('20'), sender: me }
    const customerOnOwner = {
      ...base,
      messageId: toRemoteMessageId('21'),
      sender: { userId: toRemoteUserId('user-c8'), fromMe: false },
    }
    expect(await handleRemoteEvent(deps, account, ownerOnCustomer)).toBe('skipped')
    expect(await handleRemoteEvent(deps, account, customerOnOwner)).toBe('skipped')
  })
})
