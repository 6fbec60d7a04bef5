import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type SandboxMessenger, type SandboxStats, startSandbox } from './index.ts'
import { api, control } from './testkit.ts'

let sandbox: SandboxMessenger
let account: number
let customer: number
let token: string

beforeEach(async () => {
  sandbox = await startSandbox()
  account = (await control(sandbox, 'create-account', { phone: '+15550100' })).id
  customer = (await control(sandbox, 'create-customer', { name: 'Ann' })).id
  token = (await control(sandbox, 'create-session', { account })).session
})
afterEach(() => sandbox.stop())

const send = (body: Record<string, unknown>, chat = customer) =>
  api(sandbox, 'POST', `/v1/chats/${chat}/messages`, { token, body })

function outgoing() {
  return sandbox.state({ account }).accounts[0]!.chats[0]!.messages.filter((m) => m.out)
}

describe('sending: randomId idempotency, edits, deletes, reads, typing', () => {
  test('a repeat with the same randomId returns the first message and creates nothing', async () => {
    const first = await send({ text: 'order #1 shipped', randomId: '9007199254740993' })
    const again = await send({ text: 'order #1 shipped', randomId: '9007199254740993' })
    expect(first.body.duplicate).toBe(false)
    expect(again.body).toEqual({ message: first.body.message, duplicate: true })
    expect(outgoing()).toHaveLength(1)
    const other = await control(sandbox, 'create-customer', {})
    const misuse = await send({ text: 'x', randomId: '9007199254740993' }, other.id)
    expect([misuse.status, misuse.body.error]).toEqual([400, 'RANDOM_ID_DUPLICATE'])
    // Without a randomId a retry is a second message — the emulator counts it as a repeat.
    await send({ text: 'no id' })
    await send({ text: 'no id' })
    const stats = sandbox.stats()
    expect(stats).toMatchObject({ messagesReceived: 3, randomIdHits: 1, repeated: 1 })
    expect(stats.perAccount[account]!.chats[customer]).toEqual({ received: 3, randomIdHits: 1, repeated: 1 })
  })

  test('a send whose answer is lost is done once; the retry with its randomId is a dedup hit', async () => {
    await control(sandbox, 'drop-responses', { account, calls: 1, when: 'after' })
    await expect(send({ text: 'in doubt', randomId: 'r-1' })).rejects.toThrow()
    const retry = await send({ text: 'in doubt', randomId: 'r-1' })
    expect(retry.body.duplicate).toBe(true)
    await control(sandbox, 'drop-responses', { calls: 1, when: 'before' }) // any account, nothing done
    await expect(send({ text: 'lost', randomId: 'r-2' })).rejects.toThrow()
    expect(outgoing().map((m) => m.text)).toEqual(['in doubt'])
    expect(sandbox.stats()).toMatchObject({ droppedResponses: 2, randomIdHits: 1, messagesReceived: 1 })
  })

  test('edit and delete own messages, mark read, typing — all visible in the state', async () => {
    const inbound = await control(sandbox, 'customer-send', { customer, account, text: 'hi' })
    const { message } = (await send({ text: 'helo' })).body
    const path = `/v1/chats/${customer}/messages/${message.id}`
    const edited = await api(sandbox, 'PATCH', path, { token, body: { text: 'hello' } })
    expect(edited.body.message).toMatchObject({ id: message.id, text: 'hello', editDate: expect.any(Number) })
    const same = await api(sandbox, 'PATCH', path, { token, body: { text: 'hello' } })
    expect([same.status, same.body.error]).toEqual([400, 'MESSAGE_NOT_MODIFIED'])
    const theirs = await api(sandbox, 'PATCH', `/v1/chats/${customer}/messages/${inbound.id}`, {
      token,
      body: { text: 'x' },
    })
    expect([theirs.status, theirs.body.error]).toEqual([403, 'MESSAGE_AUTHOR_REQUIRED'])
    const read = await api(sandbox, 'POST', `/v1/chats/${customer}/read`, { token, body: {} })
    expect(read.body).toEqual({ maxId: inbound.id })
    await api(sandbox, 'POST', `/v1/chats/${customer}/typing`, { token, body: {} })
    let chat = sandbox.state().accounts[0]!.chats[0]!
    expect(chat.accountTyping).toBe(true)
    expect(chat.messages[0]).toMatchObject({ id: inbound.id, read: true })
    expect((await api(sandbox, 'DELETE', path, { token })).body).toEqual({ deleted: 1 })
    expect((await api(sandbox, 'DELETE', path, { token })).body).toEqual({ deleted: 0 }) // idempotent
    const gone = await api(sandbox, 'PATCH', path, { token, body: { text: 'again' } })
    expect(gone.body.error).toBe('MESSAGE_ID_INVALID')
    chat = sandbox.state().accounts[0]!.chats[0]!
    expect(chat.messages[1]).toMatchObject({
      text: 'hello',
      history: ['helo'],
      deleted: true,
      deletedBy: 'account',
    })
    expect(sandbox.stats()).toMatchObject({ edits: 1, deletes: 1, reads: 1, typing: 1 })
  })

  test('bad sends: MESSAGE_EMPTY, MESSAGE_TOO_LONG, PEER_ID_INVALID, FILE_ID_INVALID, …', async () => {
    expect((await send({ text: '  ' })).body.error).toBe('MESSAGE_EMPTY')
    expect((await send({ text: 'x'.repeat(4097) })).body.error).toBe('MESSAGE_TOO_LONG')
    expect((await send({ text: 'x' }, 42)).body.error).toBe('PEER_ID_INVALID')
    expect((await send({ fileId: 'abc' })).body.error).toBe('FILE_ID_INVALID')
    expect((await send({ text: 7 })).body).toMatchObject({
      error: 'BAD_REQUEST',
      message: expect.stringContaining('text'),
    })
    expect((await api(sandbox, 'GET', '/v1/nope', { token })).status).toBe(404)
  })
})

describe('faults: FLOOD_WAIT, rate limit, latency', () => {
  test('the next N calls answer FLOOD_WAIT_n, then calls pass; counted per account', async () => {
    await control(sandbox, 'flood-wait', { account, seconds: 3, calls: 2 })
    for (let i = 0; i < 2; i++) {
      const flooded = await send({ text: 'x', randomId: 'f' })
      expect([flooded.status, flooded.body.error, flooded.body.seconds]).toEqual([420, 'FLOOD_WAIT_3', 3])
    }
    expect((await send({ text: 'x', randomId: 'f' })).status).toBe(200)
    expect(outgoing()).toHaveLength(1) // a flood wait does no work
    expect(sandbox.stats()).toMatchObject({ floodWaits: 2, perAccount: { [account]: { floodWaits: 2 } } })
  })

  test('the optional per-account send budget answers FLOOD_WAIT_n when spent', async () => {
    await control(sandbox, 'rate-limit', { perSecond: 0.5, burst: 2 })
    expect((await send({ text: 'a' })).status).toBe(200)
    expect((await send({ text: 'b' })).status).toBe(200)
    const third = await send({ text: 'c' })
    expect([third.status, third.body.error]).toEqual([420, 'FLOOD_WAIT_2'])
    expect(await control(sandbox, 'rate-limit', {})).toEqual({ rateLimit: null })
    expect((await send({ text: 'c' })).status).toBe(200)
  })

  test('added latency delays the account’s calls', async () => {
    await control(sandbox, 'latency', { account, ms: 120 })
    const started = performance.now()
    await api(sandbox, 'GET', '/v1/me', { token })
    expect(performance.now() - started).toBeGreaterThanOrEqual(110)
    await control(sandbox, 'clear-faults')
    const again = performance.now()
    await api(sandbox, 'GET', '/v1/me', { token })
    expect(performance.now() - again).toBeLessThan(100)
  })
})

describe('scale', () => {
  test('10,000 idle accounts are cheap', async () => {
    Bun.gc(true)
    const before = process.memoryUsage().heapUsed
    const { accounts } = await control(sandbox, 'create-accounts', { count: 10_000 })
    Bun.gc(true)
    const perAccount = (process.memoryUsage().heapUsed - before) / 10_000
    expect(accounts).toHaveLength(10_000)
    expect(accounts[0].phone).toBe('+79990000000')
    // Measured about 0.3 KB; the relay's goal is ≤ 50 KB per account for Olchat itself.
    expect(perAccount).toBeLessThan(2048)
    const stats = (await (await fetch(`${sandbox.url}/_control/stats`)).json()) as SandboxStats
    expect(stats.accounts).toBe(10_001)
    expect(Object.keys(stats.perAccount)).toEqual([String(account)]) // idle ones are left out
  })
})
