import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type SandboxMessenger, startSandbox } from './index.ts'
import { api, control, Live, login } from './testkit.ts'

let sandbox: SandboxMessenger
let account: number
let customer: number
let token: string
const lives: Live[] = []

function live(after = 0, session = token): Live {
  const conn = new Live(sandbox, session, after)
  lives.push(conn)
  return conn
}

const say = (text: string) => control(sandbox, 'customer-send', { customer, account, text })

beforeEach(async () => {
  sandbox = await startSandbox()
  account = (await control(sandbox, 'create-account', { phone: '+15550100' })).id
  customer = (await control(sandbox, 'create-customer', { name: 'Ann', username: 'ann' })).id
  token = await login(sandbox, '+15550100')
})
afterEach(async () => {
  for (const conn of lives.splice(0)) await conn.close()
  await sandbox.stop()
})

describe('updates: per-account seq, live push, catch-up with after', () => {
  test('updates arrive in order; reconnecting with after=<seq> replays only what was missed', async () => {
    const first = live()
    expect(await first.ready()).toEqual({ type: 'ready', seq: 0 })
    await say('one')
    await say('two')
    const two = await first.next((f) => f.seq === 2)
    expect(two).toMatchObject({
      type: 'message.new',
      message: { id: 2, chatId: customer, out: false, text: 'two' },
    })
    expect(two.from).toEqual({ id: customer, name: 'Ann', username: 'ann' })
    await first.close()
    await say('three') // while "Olchat is down"
    await say('four')
    const again = live(2)
    await again.ready()
    expect(again.frames.map((f) => [f.type, f.seq])).toEqual([
      ['message.new', 3],
      ['message.new', 4],
      ['ready', 4],
    ])
    // The same difference without a live connection, with a page limit.
    const diff = await api(sandbox, 'GET', '/v1/updates?after=1&limit=2', { token })
    expect(diff.body.seq).toBe(4)
    expect(diff.body.updates.map((u: { message: { text: string } }) => u.message.text)).toEqual([
      'two',
      'three',
    ])
    expect(sandbox.stats().authKeyDuplicated).toBe(0) // sequential connections are fine
  })

  test('customer edits, deletes and read receipts are updates; contacts list the customer', async () => {
    const conn = live()
    await conn.ready()
    const message = await say('helo')
    await control(sandbox, 'customer-edit', { customer, account, messageId: message.id, text: 'hello' })
    const sent = await api(sandbox, 'POST', `/v1/chats/${customer}/messages`, {
      token,
      body: { text: 'hi!' },
    })
    await control(sandbox, 'customer-read', { customer, account })
    await control(sandbox, 'customer-delete', { customer, account, messageIds: [message.id, 999] })
    await conn.next((f) => f.seq === 4)
    expect(conn.updates.map(({ date: _d, ...u }) => u)).toEqual([
      {
        seq: 1,
        type: 'message.new',
        message: expect.objectContaining({ id: 1, text: 'helo' }),
        from: expect.anything(),
      },
      { seq: 2, type: 'message.edit', message: expect.objectContaining({ id: 1, text: 'hello' }) },
      { seq: 3, type: 'read.outbox', chatId: customer, maxId: sent.body.message.id },
      { seq: 4, type: 'message.delete', chatId: customer, ids: [1] },
    ])
    const contacts = await api(sandbox, 'GET', '/v1/contacts', { token })
    expect(contacts.body.contacts).toEqual([{ id: customer, name: 'Ann', username: 'ann' }])
    const [chat] = sandbox.state().accounts[0]!.chats
    expect(chat!.messages).toEqual([
      expect.objectContaining({
        id: 1,
        text: 'hello',
        history: ['helo'],
        deleted: true,
        deletedBy: 'customer',
      }),
      expect.objectContaining({ id: 2, out: true, text: 'hi!', read: true }),
    ])
  })

  test('two live connections of a session: both killed (AUTH_KEY_DUPLICATED), counted, revoked', async () => {
    const other = await login(sandbox, '+15550100') // a second session of the same account
    const otherLive = live(0, other)
    await otherLive.ready()
    const a = live()
    await a.ready()
    const b = live()
    expect(await a.closed).toEqual({ code: 4406, reason: 'AUTH_KEY_DUPLICATED' })
    expect(await b.closed).toEqual({ code: 4406, reason: 'AUTH_KEY_DUPLICATED' })
    const stats = sandbox.stats()
    expect(stats.authKeyDuplicated).toBe(1)
    expect(stats.perAccount[account]!.authKeyDuplicated).toBe(1)
    expect(stats.liveConnections).toBe(1) // the other session lives on
    expect(stats.liveClosed).toEqual({}) // the sandbox's own closes are counted as kills, not here
    const me = await api(sandbox, 'GET', '/v1/me', { token })
    expect([me.status, me.body.error]).toEqual([406, 'AUTH_KEY_DUPLICATED'])
    expect(await live().closed).toEqual({ code: 4406, reason: 'AUTH_KEY_DUPLICATED' })
    expect(sandbox.stats().authKeyDuplicated).toBe(1) // a refused connection is no new duplicate
    await say('still here')
    expect((await otherLive.next((f) => f.seq === 1)).message.text).toBe('still here')
  })

  test('a network drop cuts the connection (1006), keeps the session; reconnecting catches up', async () => {
    const conn = live()
    await conn.ready()
    await say('before')
    await conn.next((f) => f.seq === 1)
    expect(await control(sandbox, 'drop-connections', { account: '+15550100' })).toEqual({ dropped: 1 })
    expect((await conn.closed).code).toBe(1006)
    await say('during')
    const back = live(1)
    expect((await back.next((f) => f.seq === 2)).message.text).toBe('during')
    expect(sandbox.stats()).toMatchObject({
      droppedConnections: 1,
      authKeyDuplicated: 0,
      liveConnections: 1,
      liveClosed: {},
    })
  })

  test('live connections the client closes are counted by close code, with every reconnect opened', async () => {
    const first = live()
    await first.ready()
    const before = sandbox.stats()
    await first.close() // no code given: 1005 (no status)
    const again = live()
    await again.ready()
    await again.close()
    const after = sandbox.stats()
    expect(after.liveClosed).toEqual({ '1005': 2 })
    expect(before.liveClosed).toEqual({}) // a snapshot, not a live view
    expect(after.connectionsOpened - before.connectionsOpened).toBe(1)
    expect(after.liveConnections).toBe(0)
  })

  test('a revoked session: live connection closed 4401, calls answer 401, reconnects refused', async () => {
    const conn = live()
    await conn.ready()
    expect(await control(sandbox, 'revoke-session', { account })).toEqual({ revoked: 1 })
    expect(await conn.closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' })
    const me = await api(sandbox, 'GET', '/v1/me', { token })
    expect([me.status, me.body.error]).toEqual([401, 'SESSION_REVOKED'])
    expect(await live().closed).toEqual({ code: 4401, reason: 'SESSION_REVOKED' })
    const fresh = await login(sandbox, '+15550100')
    const unregistered = await control(sandbox, 'revoke-session', {
      session: fresh,
      reason: 'AUTH_KEY_UNREGISTERED',
    })
    expect(unregistered.revoked).toBe(1)
    expect((await api(sandbox, 'GET', '/v1/me', { token: fresh })).body.error).toBe('AUTH_KEY_UNREGISTERED')
    expect(await live(0, 'no-such-session').closed).toEqual({ code: 4401, reason: 'AUTH_KEY_UNREGISTERED' })
  })

  test('past the kept log: DIFFERENCE_TOO_LONG with the current seq', async () => {
    await sandbox.stop()
    sandbox = await startSandbox({ maxUpdatesPerAccount: 10 })
    account = sandbox.createAccount({ phone: '+15550100' }).id
    customer = sandbox.createCustomer().id
    token = sandbox.createSession({ account }).session
    for (let i = 0; i < 30; i++) await sandbox.customerSend({ customer, account, text: `m${i}` })
    const old = await api(sandbox, 'GET', '/v1/updates?after=0', { token })
    expect(old.body).toMatchObject({ error: 'DIFFERENCE_TOO_LONG', code: 400, seq: 30 })
    expect(await live(0).closed).toEqual({ code: 4400, reason: 'DIFFERENCE_TOO_LONG' })
    const recent = await api(sandbox, 'GET', '/v1/updates?after=25', { token })
    expect(recent.body.updates.map((u: { seq: number }) => u.seq)).toEqual([26, 27, 28, 29, 30])
  })

  test('a 20 MB backlog is replayed whole and in order (paced by the socket, never dropped)', async () => {
    const text = 'x'.repeat(1000)
    for (let i = 0; i < 20_000; i++) await sandbox.customerSend({ customer, account, text })
    const conn = live()
    await conn.next((f) => f.type === 'ready', 10_000)
    const seqs = conn.updates.map((f) => f.seq)
    expect(seqs.length).toBe(20_000)
    expect(seqs.every((seq, i) => seq === i + 1)).toBe(true)
    expect(sandbox.stats().updatesDelivered).toBe(20_000)
  })

  test('an application-level ping is answered with a pong', async () => {
    const conn = live()
    await conn.ready()
    conn.send('{"type":"ping"}')
    await conn.next((f) => f.type === 'pong')
  })
})
