/**
 * Conformance: `imconnector.send.messages` with `message.user_id` of an employee (reference/bitrix24.md
 * §5.8) — the message lands in the external user's chat as that employee's — and its echo (§6.4 "Echo",
 * §11.9: inferred from the source, not observed): an ONIMCONNECTORMESSAGEADD like an operator's, signed,
 * its files as portal links, no external id, "sending" until a delivery status names one (§5.11).
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type Bitrix24Emulator, startBitrix24Emulator } from './index.ts'
import { clientSays, installedPortal, rest, type Sink, startSink } from './testkit.ts'

let emulator: Bitrix24Emulator
let sink: Sink

async function start(options: { echoEmployeeMessages?: boolean } = {}) {
  emulator = await startBitrix24Emulator({ rateLimit: { drainPerSecond: 1000, burst: 1000 }, ...options })
  const { token } = await installedPortal(emulator, sink, { events: ['OnImConnectorMessageAdd'] })
  return token
}

beforeEach(() => {
  sink = startSink()
  sink.handle(
    '/files/receipt.txt',
    () => new Response('receipt body', { headers: { 'content-type': 'text/plain' } }),
  )
})
afterEach(async () => {
  await emulator.stop()
  await sink.stop()
})

/** The owner's message: the customer's user and chat, sent as employee `userId`. */
function ownerSays(token: string, userId: number, extra: Record<string, unknown> = {}) {
  return rest(
    emulator,
    'imconnector.send.messages',
    {
      CONNECTOR: 'acme_tg',
      LINE: 12,
      MESSAGES: [
        {
          user: { id: '42', name: 'Ivan' },
          message: { id: 'tg-2001', date: 1773266000, text: 'typed on the phone', user_id: userId, ...extra },
          chat: { id: 'tg-chat-77' },
        },
      ],
    },
    token,
  )
}

type EventForm = { data: { MESSAGES: Record<string, Record<string, Record<string, unknown>>> } }
const messageAdds = () =>
  sink
    .on('/events')
    .filter((c) => c.form.event === 'ONIMCONNECTORMESSAGEADD')
    .map((c) => (c.form as unknown as EventForm).data.MESSAGES['0']!)

describe('send.messages with message.user_id of an employee (§5.8)', () => {
  test("stored in the customer's chat as the employee's message, files on the portal's disk", async () => {
    const token = await start()
    const { chatId } = await clientSays(emulator, token, 'hello')
    const answer = await ownerSays(token, 27, {
      files: [{ url: `${sink.url}/files/receipt.txt`, name: 'receipt.txt' }],
    })
    const item = (answer.body.result as { DATA: { RESULT: Record<string, unknown>[] } }).DATA.RESULT[0]!
    // The same chat (the user block is the customer's), reported like any message.
    expect(item).toMatchObject({ SUCCESS: true, session: { CHAT_ID: String(chatId) } })
    const chat = emulator.portal.chatsById.get(chatId)!
    const stored = chat.messages.at(-1)!
    expect(stored).toMatchObject({ author: 'employee', authorId: 27, text: 'typed on the phone' })
    expect(stored.connectorMid).toEqual(['tg-2001'])
    const [file] = stored.files as { name: string; link: string }[]
    expect(file!.name).toBe('receipt.txt')
    const fetched = await fetch(file!.link)
    expect(await fetched.text()).toBe('receipt body')
  })

  test('an id that is no employee of the portal leaves the message the customer’s, with no echo', async () => {
    const token = await start()
    const { chatId } = await clientSays(emulator, token, 'hello')
    await ownerSays(token, 999)
    await emulator.waitForEvents()
    expect(emulator.portal.chatsById.get(chatId)!.messages.at(-1)).toMatchObject({ author: 'client' })
    expect(messageAdds()).toEqual([])
  })
})

describe('the echo of an employee message (§6.4, inferred)', () => {
  test('comes back as ONIMCONNECTORMESSAGEADD, signed, with portal file links and no external id', async () => {
    const token = await start()
    const { chatId } = await clientSays(emulator, token, 'hello')
    await ownerSays(token, 27, { files: [{ url: `${sink.url}/files/receipt.txt`, name: 'receipt.txt' }] })
    await emulator.waitForEvents()
    const stored = emulator.portal.chatsById.get(chatId)!.messages.at(-1)!
    const [echo, ...more] = messageAdds()
    expect(more).toEqual([])
    expect(echo!.im).toEqual({ chat_id: String(chatId), message_id: String(stored.id) })
    expect(echo!.chat).toEqual({ id: 'tg-chat-77' })
    expect(echo!.message!.user_id).toBe('27')
    expect(echo!.message!.text).toBe('[b]Klaus Weber:[/b] [br]typed on the phone')
    expect(echo!.message!.id).toBeUndefined()
    const files = echo!.message!.files as unknown as Record<string, Record<string, string>>
    expect(files['0']).toMatchObject({ name: 'receipt.txt', mime: 'text/plain', size: '12' })
    expect(files['0']!.link).toStartWith(emulator.portalUrl())
    // Like an operator message: "sending" until the connector reports a delivery (§5.11).
    expect(stored.sending).toBe(true)
    const status = await rest(
      emulator,
      'imconnector.send.status.delivery',
      {
        CONNECTOR: 'acme_tg',
        LINE: 12,
        MESSAGES: [
          {
            im: { chat_id: chatId, message_id: stored.id },
            message: { id: ['tg-2001'] },
            chat: { id: 'tg-chat-77' },
          },
        ],
      },
      token,
    )
    expect(status.status).toBe(200)
    expect(stored).toMatchObject({ sending: false, connectorMid: ['tg-2001'] })
  })

  test('can be switched off (a portal that does not echo)', async () => {
    const token = await start({ echoEmployeeMessages: false })
    await clientSays(emulator, token, 'hello')
    await ownerSays(token, 27)
    await emulator.waitForEvents()
    expect(messageAdds()).toEqual([])
  })
})
