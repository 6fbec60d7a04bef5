/**
 * The echo guard: the portal's ONIMCONNECTORMESSAGEADD echo of an account owner's own message (sent as an
 * employee's, reference/bitrix24.md §6.4 "Echo") is paired in the database with that message and never
 * becomes a `to_messenger` delivery; it is answered with a delivery status instead. Operator messages that
 * are no echo — another employee, a second message, an echo awaited too long — go out as always.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { ECHO_WINDOW_MS } from '../../../src/bitrix/app/echo-guard.ts'
import { runEventAction } from '../../../src/bitrix/app/event-actions.ts'
import type { StoredEvent } from '../../../src/bitrix/app/events.ts'
import type { Account } from '../../../storage/repos/accounts.ts'
import type { Chat } from '../../../storage/repos/chats.ts'
import type { Portal } from '../../../storage/repos/portals.ts'
import { seedPortal } from '../../storage/fixtures.ts'
import { createHarness, type Harness } from './support.ts'

let h: Harness
let portal: Portal
let lineNo = 0
const NOW = new Date('2026-03-01T10:00:00Z')

beforeAll(async () => {
  h = await createHarness()
  h.setNow(NOW)
  portal = await seedPortal(h.repos)
})
afterAll(() => h.close())

/** An account on its own line, naming employee 27, with a chat of customer `c1`. */
async function world(): Promise<{ account: Account; chat: Chat; line: string }> {
  const line = String(++lineNo)
  const row = await h.repos.lines.upsert({
    portalId: portal.id,
    connectorId: 'olchat_telegram',
    lineId: line,
  })
  const account = await h.repos.accounts.create({
    portalId: portal.id,
    messenger: 'telegram',
    lineId: row.id,
  })
  await h.repos.accounts.setEmployee(account.id, '27')
  const contact = await h.repos.contacts.upsert(account.id, { remoteId: 'c1' })
  const chat = await h.repos.chats.upsert({
    accountId: account.id,
    remoteChatId: 'c1',
    contactId: contact.id,
    portalChatId: '1767',
  })
  return { account: await h.repos.accounts.get(account.id), chat, line }
}

/** The owner's message `originId` as the inbound relay records it, delivered to the portal at `deliveredAt`. */
async function ownerMessage(account: Account, chat: Chat, originId: string, deliveredAt: Date | null) {
  const sentAt = new Date(NOW.getTime() - 60_000 + Number(originId))
  const ref = { accountId: account.id, direction: 'in' as const, originId, sentAt }
  await h.repos.messages.recordInbound({ ...ref, chatId: chat.id, employeeId: '27' })
  if (deliveredAt) await h.repos.messages.markDelivered(ref, { at: deliveredAt })
}

function messageAdd(line: string, imMessageId: string, userId: string, text: string): StoredEvent {
  return {
    event: 'ONIMCONNECTORMESSAGEADD',
    ts: '1773759161',
    data: {
      CONNECTOR: 'olchat_telegram',
      LINE: line,
      MESSAGES: [
        {
          im: { chat_id: '1767', message_id: imMessageId },
          message: { user_id: userId, text: `[b]Klaus Weber:[/b] [br]${text}` },
          chat: { id: 'c1' },
        },
      ],
    },
  } as StoredEvent
}

async function deliveries(account: Account) {
  const rows = await h.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${account.id} order by id`
  return Promise.all(rows.map((row) => h.repos.deliveries.get(row.id)))
}

const run = (event: StoredEvent, inboxId = '1') => runEventAction(h.deps, portal, inboxId, event)

describe('echo guard', () => {
  test('the echo is not sent to the messenger; it is answered with the delivery status of the owner’s message', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '501', new Date(NOW.getTime() - 2_000))
    const note = await run(messageAdd(line, '86497', '27', 'typed on the phone'))
    expect(note).toBe("echo of the account owner's own message")
    const rows = await deliveries(account)
    expect(rows.map((row) => [row.direction, row.kind])).toEqual([['to_portal', 'status']])
    expect(rows[0]!.payload).toEqual({
      im: { chatId: '1767', messageId: '86497' },
      messageIds: ['501'],
      chat: { id: 'c1' },
      date: Math.floor((NOW.getTime() - 60_000 + 501) / 1000),
    })
    const [message] = await h.sql`select echo_id from messages where chat_id = ${chat.id}`
    expect(message).toEqual({ echoId: '86497' })
  })

  test('a repeat of the echo event (the inbox retried it) is recognised again and queues nothing new', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '502', NOW)
    const echo = messageAdd(line, '86500', '27', 'once')
    await run(echo, '7')
    await run(echo, '7')
    expect((await deliveries(account)).map((row) => row.kind)).toEqual(['status'])
  })

  test('before the send was even recorded as delivered (the event raced the answer), it is still an echo', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '503', null)
    await run(messageAdd(line, '86510', '27', 'fast'))
    expect((await deliveries(account)).map((row) => row.direction)).toEqual(['to_portal'])
  })

  test('one echo per owner’s message: the employee’s next message from Bitrix24 goes to the customer', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '504', NOW)
    await ownerMessage(account, chat, '505', NOW)
    await run(messageAdd(line, '86520', '27', 'first'))
    await run(messageAdd(line, '86521', '27', 'second'))
    await run(messageAdd(line, '86522', '27', 'written in Bitrix24'))
    const rows = await deliveries(account)
    expect(rows.map((row) => [row.direction, row.kind])).toEqual([
      ['to_portal', 'status'],
      ['to_portal', 'status'],
      ['to_messenger', 'message'],
    ])
    // Oldest first: each echo named its own message.
    expect(rows.slice(0, 2).map((row) => (row.payload as { messageIds: string[] }).messageIds)).toEqual([
      ['504'],
      ['505'],
    ])
    expect(rows[2]!.payload).toMatchObject({ im: { message_id: '86522' }, user_id: '27' })
  })

  test('another employee’s message, and an echo awaited longer than the window, go to the customer', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '506', new Date(NOW.getTime() - ECHO_WINDOW_MS - 1_000))
    await run(messageAdd(line, '86530', '27', 'late'))
    await ownerMessage(account, chat, '507', NOW)
    await run(messageAdd(line, '86531', '31', 'a colleague'))
    const rows = await deliveries(account)
    expect(rows.map((row) => [row.direction, row.kind])).toEqual([
      ['to_messenger', 'message'],
      ['to_messenger', 'message'],
    ])
    const echoes =
      await h.sql`select origin_id from messages where chat_id = ${chat.id} and echo_id is not null`
    expect(echoes).toHaveLength(0)
  })

  test('a deleted owner’s message awaits no echo; operator messages of a chat without owner’s messages pass', async () => {
    const { account, chat, line } = await world()
    await ownerMessage(account, chat, '508', NOW)
    await h.repos.messages.setStatus({ accountId: account.id, direction: 'in', originId: '508' }, 'deleted')
    await run(messageAdd(line, '86540', '27', 'after the deletion'))
    expect((await deliveries(account)).map((row) => row.direction)).toEqual(['to_messenger'])
  })
})
