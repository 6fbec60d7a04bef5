/**
 * The account's owner on another device (their phone): what they type, edit and delete reaches every
 * session of the account as updates with `out: true` — unlike the client's own sends, which produce none —
 * and is counted apart from what the client API sent.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type SandboxMessenger, startSandbox } from './index.ts'
import { api, control, Live, login } from './testkit.ts'

let sandbox: SandboxMessenger
let account: number
let customer: number
let token: string
let live: Live

beforeEach(async () => {
  sandbox = await startSandbox()
  account = (await control(sandbox, 'create-account', { phone: '+15550177', name: 'Shop' })).id
  customer = (await control(sandbox, 'create-customer', { name: 'Ann' })).id
  token = await login(sandbox, '+15550177')
  live = new Live(sandbox, token)
  await live.ready()
})
afterEach(async () => {
  await live.close()
  await sandbox.stop()
})

describe('owner-send / owner-edit / owner-delete', () => {
  test('typed on the phone: an outgoing message.new from the account, apart from the client sends', async () => {
    const typed = await control(sandbox, 'owner-send', { account, customer, text: 'typed on the phone' })
    const frame = await live.next((f) => f.type === 'message.new')
    expect(frame.message).toMatchObject({
      id: typed.id,
      chatId: customer,
      out: true,
      text: 'typed on the phone',
    })
    expect(frame.from).toMatchObject({ id: account, name: 'Shop' })
    // A client send makes no update for the account's own sessions.
    await api(sandbox, 'POST', `/v1/chats/${customer}/messages`, { token, body: { text: 'from the client' } })
    const messages = sandbox.state({ account }).accounts[0]!.chats[0]!.messages
    expect(messages.map((m) => [m.text, m.out, m.fromDevice ?? false])).toEqual([
      ['typed on the phone', true, true],
      ['from the client', true, false],
    ])
    expect(live.updates.filter((f) => f.type === 'message.new')).toHaveLength(1)
    expect(sandbox.stats()).toMatchObject({ ownerMessages: 1, messagesReceived: 1, repeated: 0 })
  })

  test('a file typed with a caption; an unknown file id is refused', async () => {
    const typed = await control(sandbox, 'owner-send', {
      account,
      customer,
      text: 'the invoice',
      file: { name: 'invoice.txt', mime: 'text/plain', text: 'total 10' },
    })
    expect(typed.file).toMatchObject({ name: 'invoice.txt', mime: 'text/plain', size: 8 })
    const bad = await fetch(`${sandbox.info().control}/owner-send`, {
      method: 'POST',
      body: JSON.stringify({ account, customer, fileId: 'ffff' }),
    })
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([400, 'FILE_ID_INVALID'])
  })

  test('edits and deletions on the phone reach the sessions as updates of the account’s messages', async () => {
    const typed = await control(sandbox, 'owner-send', { account, customer, text: 'helo' })
    await control(sandbox, 'owner-edit', { account, customer, messageId: typed.id, text: 'hello' })
    const edit = await live.next((f) => f.type === 'message.edit')
    expect(edit.message).toMatchObject({ id: typed.id, out: true, text: 'hello' })
    const deleted = await control(sandbox, 'owner-delete', { account, customer, messageIds: [typed.id, 999] })
    expect(deleted).toEqual({ deleted: [typed.id] })
    expect(await live.next((f) => f.type === 'message.delete')).toMatchObject({
      chatId: customer,
      ids: [typed.id],
    })
    const said = await control(sandbox, 'customer-send', { customer, account, text: 'hi' })
    const refused = await fetch(`${sandbox.info().control}/owner-edit`, {
      method: 'POST',
      body: JSON.stringify({ account, customer, messageId: said.id, text: 'not mine' }),
    })
    expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([
      400,
      'MESSAGE_ID_INVALID',
    ])
  })
})
