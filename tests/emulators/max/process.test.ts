/** Conformance: `bun tests/emulators/max/main.ts` runs alone, prints its URLs, and is driven over the control API. */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { type EmulatorProcess, spawnEmulator } from '../../support/emulator-process.ts'
import { call } from './conformance.ts'

let proc: EmulatorProcess<{ url: string; control: string }>

beforeAll(async () => {
  proc = await spawnEmulator(['tests/emulators/max/main.ts', '--poll-rate', 'off', '--not-ready', '0'])
})
afterAll(() => proc.stop())

async function control(path: string, body?: unknown) {
  const res = await fetch(`${proc.info.control}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely in tests
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

test('prints {"url","control"} and answers the Bot API', async () => {
  expect(proc.info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  expect(proc.info.control).toBe(`${proc.info.url}/_emulator`)
  expect((await control('/')).body).toEqual(proc.info)
  expect((await call(proc.info.url, 'nope', 'GET', '/me')).status).toBe(401)
})

test('a customer conversation driven from another process', async () => {
  const bot = (await control('/bots', { name: 'Remote' })).body
  const user = (await control('/users', { name: 'Anna K' })).body
  const { chatId } = (
    await control('/users/start', { token: bot.token, userId: user.userId, payload: 'ad-7' })
  ).body
  const sent = await control('/users/send', {
    token: bot.token,
    userId: user.userId,
    text: 'see attached',
    file: { name: 'a.txt', mime: 'text/plain', base64: Buffer.from('hello').toString('base64') },
  })
  expect(sent.body.chatId).toBe(chatId)
  await control('/updates', { token: bot.token, update: { update_type: 'something_new' } })
  const { updates } = (await call(proc.info.url, bot.token, 'GET', '/updates?timeout=0')).body
  expect(updates.map((u: { update_type: string }) => u.update_type)).toEqual([
    'bot_started',
    'message_created',
    'something_new',
  ])
  const url = updates[1].message.body.attachments[0].payload.url
  expect(await (await fetch(url)).text()).toBe('hello')

  const slot = (await call(proc.info.url, bot.token, 'POST', '/uploads?type=file')).body
  const form = new FormData()
  form.append('data', new File(['reply bytes'], 'reply.txt', { type: 'text/plain' }))
  const { token: fileToken } = (await (await fetch(slot.url, { method: 'POST', body: form })).json()) as {
    token: string
  }
  const reply = await call(proc.info.url, bot.token, 'POST', `/messages?chat_id=${chatId}`, {
    text: '<b>Here</b>',
    format: 'html',
    attachments: [{ type: 'file', payload: { token: fileToken } }],
  })
  expect(reply.status).toBe(200)
  const { messages } = (await control(`/messages?token=${bot.token}&chat_id=${chatId}`)).body
  expect(messages).toEqual([
    expect.objectContaining({ text: '<b>Here</b>', format: 'html', edited: false, deleted: false }),
  ])
  expect(messages[0].attachments[0]).toMatchObject({ type: 'file', name: 'reply.txt' })
  expect(Buffer.from(messages[0].attachments[0].base64, 'base64').toString()).toBe('reply bytes')

  const stats = (await control('/stats')).body
  expect(stats).toMatchObject({
    messages_from_bots: 1,
    unknown_updates_injected: 1,
    uploads: 1,
    downloads: 1,
  })
})

test('faults over HTTP; bad control bodies change nothing', async () => {
  const bot = (await control('/bots', {})).body
  expect((await control('/faults/fail-next', { code: 'oops' })).status).toBe(200)
  const failed = await call(proc.info.url, bot.token, 'POST', '/subscriptions', {
    url: 'http://127.0.0.1:9/x',
  })
  expect(failed.body).toEqual({ success: false, message: 'oops' })
  await control('/faults/rate-limit', { requests: 1 })
  expect((await call(proc.info.url, bot.token, 'GET', '/me')).status).toBe(429)
  await control('/faults/revoke-token', { token: bot.token })
  expect((await call(proc.info.url, bot.token, 'GET', '/me')).status).toBe(401)
  const bad = await control('/faults/rate-limit', { requests: -1 })
  expect(bad.status).toBe(400)
  expect(bad.body.error).toContain('requests')
  expect((await control('/users/send', { token: bot.token, userId: 1, text: 'x' })).status).toBe(400)
  expect((await control('/no-such-route', {})).status).toBe(404)
})
