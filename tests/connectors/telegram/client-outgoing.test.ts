/**
 * Operator → customer through a real mtcute client over the stub world: the RPC calls each action makes
 * (text with entities and a `random_id` derived from the client message id, splits at 4096, uploads as the
 * right media type, edits, deletions, read marks), and that a resend — also by a fresh client after a crash —
 * never shows a message twice.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { tl } from '@mtcute/core'
import type { OutgoingFile } from '../../../src/bridge/client.ts'
import { PermanentSendError } from '../../../src/bridge/errors.ts'
import { toClientMessageId, toRemoteChatId } from '../../../src/bridge/ids.ts'
import { MAX_TEXT_LENGTH, randomIdOf } from '../../../src/connectors/telegram/send.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import type { TelegramStub } from '../../support/telegram-stub.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { bytes, customer, load, online } from './accounts.ts'
import { telegramHarness } from './harness.ts'

let db: TestDatabase
let repos: Repositories
let h: ReturnType<typeof telegramHarness>
beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  h = telegramHarness(repos)
})
afterAll(() => db.drop())

let counter = 0
const cmid = () => toClientMessageId(`op-${Date.now()}-${++counter}`)

/** Calls of one method on every stub so far, newest last. */
function calls<M extends tl.RpcMethod['_']>(method: M): Extract<tl.RpcMethod, { _: M }>[] {
  return h.stubs.flatMap((s: TelegramStub) => s.calls.filter((c) => c._ === method)) as never
}

function file(name: string, mimeType: string, body: Uint8Array): OutgoingFile & { opens: number } {
  const out = {
    name,
    mimeType,
    size: body.length,
    opens: 0,
    open: async () => {
      out.opens++
      return new Blob([body]).stream()
    },
  }
  return out
}

/** Online account with a customer who wrote first (how every Open Lines chat starts). */
async function chatting() {
  const setup = await online(h)
  const alice = customer(h.world)
  const hello = h.world.customerSends(setup.phone, alice.user, 'hello')
  await setup.log.waitFor((e) => e.type === 'message' && e.messageId === String(hello.id))
  return { ...setup, alice }
}

describe('telegram client: outgoing', () => {
  test('text with formatting → messages.sendMessage with entities and a random_id from the client id', async () => {
    const { phone, client, alice } = await chatting()
    const id = cmid()
    const sent = await client.send({
      chatId: alice.chatId,
      clientMessageId: id,
      text: '<b>Bold</b> and <i>it</i>',
    })
    const [call] = calls('messages.sendMessage').slice(-1)
    expect(call).toMatchObject({
      message: 'Bold and it',
      peer: { _: 'inputPeerUser', userId: alice.user.id },
    })
    expect(call!.entities).toEqual([
      { _: 'messageEntityBold', offset: 0, length: 4 },
      { _: 'messageEntityItalic', offset: 9, length: 2 },
    ])
    expect(call!.randomId.equals(randomIdOf(id, 0))).toBe(true)
    expect(randomIdOf(id, 0).equals(randomIdOf(id, 0))).toBe(true)
    expect(randomIdOf(id, 0).equals(randomIdOf(cmid(), 0))).toBe(false)
    const remote = h.world.chat(phone, alice.user.id).filter((m) => m.out)
    expect(remote).toMatchObject([{ id: Number(sent.messageIds[0]), text: 'Bold and it' }])
    await client.disconnect()
  })

  test('a resend of the same client id — by this client or a fresh one after a crash — shows once', async () => {
    const { phone, client, alice, login } = await chatting()
    const message = { chatId: alice.chatId, clientMessageId: cmid(), text: 'exactly once' }
    const first = await client.send(message)
    expect(await client.send(message)).toEqual(first)
    // The process died after Telegram took the message but before the delivery was committed.
    await client.disconnect()
    const restarted = load(h, login)
    await restarted.client.connect()
    expect((await restarted.client.send(message)).messageIds).toEqual(first.messageIds)
    expect(h.world.chat(phone, alice.user.id).filter((m) => m.out)).toHaveLength(1)
    // Telegram refused the repeats; the ids came from the chat's history.
    expect(calls('messages.getHistory').length).toBeGreaterThanOrEqual(2)
    await restarted.client.disconnect()
  })

  test('an answer lost after the work: transient, and the retry does not duplicate', async () => {
    const { phone, client, alice } = await chatting()
    const message = { chatId: alice.chatId, clientMessageId: cmid(), text: 'in doubt' }
    h.world.loseNext('after', 'messages.sendMessage')
    const error = await client.send(message).catch((e: unknown) => e)
    expect((error as Error).name).toBe('TransientNetworkError')
    const retried = await client.send(message)
    const remote = h.world.chat(phone, alice.user.id).filter((m) => m.out)
    expect(remote.map((m) => m.id)).toEqual([Number(retried.messageIds[0])])
    await client.disconnect()
  })

  test('a long text is split at 4096 into messages with their own random ids; too long is permanent', async () => {
    const { phone, client, alice } = await chatting()
    const id = cmid()
    const words = Array.from({ length: 900 }, (_, i) => `word${i}`).join(' ')
    const sent = await client.send({ chatId: alice.chatId, clientMessageId: id, text: words })
    expect(sent.messageIds).toHaveLength(2)
    const parts = calls('messages.sendMessage').slice(-2)
    expect(parts.every((p) => p.message.length <= 4096)).toBe(true)
    expect(parts[0]!.randomId.equals(randomIdOf(id, 0)) && parts[1]!.randomId.equals(randomIdOf(id, 1))).toBe(
      true,
    )
    const remote = h.world.chat(phone, alice.user.id).filter((m) => m.out)
    expect(remote.map((m) => m.text).join('')).toBe(words)
    const tooLong = await client
      .send({ chatId: alice.chatId, clientMessageId: cmid(), text: 'x'.repeat(MAX_TEXT_LENGTH + 1) })
      .catch((e: unknown) => e)
    expect(tooLong).toBeInstanceOf(PermanentSendError)
    await client.disconnect()
  })

  test('files are uploaded in parts and sent as photo, document, voice or video; a short text is the caption', async () => {
    const { phone, client, alice } = await chatting()
    const photo = file('pic.jpg', 'image/jpeg', bytes(70_000, 1))
    const pdf = file('invoice.pdf', 'application/pdf', bytes(600_001, 2))
    const voice = file('note.ogg', 'audio/ogg', bytes(30_000, 3))
    const video = file('clip.mp4', 'video/mp4', bytes(40_000, 4))
    const sent = await client.send({
      chatId: alice.chatId,
      clientMessageId: cmid(),
      text: 'the files',
      files: [photo, pdf, voice, video],
    })
    expect(sent.messageIds).toHaveLength(4)
    expect([photo, pdf, voice, video].map((f) => f.opens)).toEqual([1, 1, 1, 1])
    const media = calls('messages.sendMedia').slice(-4)
    expect(media.map((m) => m.media._)).toEqual([
      'inputMediaUploadedPhoto',
      'inputMediaUploadedDocument',
      'inputMediaUploadedDocument',
      'inputMediaUploadedDocument',
    ])
    expect(media.map((m) => m.message)).toEqual(['the files', '', '', ''])
    const attrs = media.map((m) =>
      m.media._ === 'inputMediaUploadedDocument' ? m.media.attributes.map((a) => a._) : [],
    )
    expect(attrs[1]).toEqual(['documentAttributeFilename'])
    expect(attrs[2]).toEqual(['documentAttributeFilename', 'documentAttributeAudio'])
    expect(attrs[3]).toEqual(['documentAttributeFilename', 'documentAttributeVideo'])
    const voiceAttr =
      media[2]!.media._ === 'inputMediaUploadedDocument' ? media[2]!.media.attributes[1] : undefined
    expect(voiceAttr).toMatchObject({ voice: true })
    // 600 KB goes up in more than one part; Telegram has the exact bytes.
    expect(calls('upload.saveFilePart').length).toBeGreaterThan(4)
    const remote = h.world.chat(phone, alice.user.id).filter((m) => m.out)
    const stored = remote.slice(-4).map((m) => {
      const doc = m.media?._ === 'messageMediaDocument' ? m.media.document : undefined
      const pic = m.media?._ === 'messageMediaPhoto' ? m.media.photo : undefined
      const fileId = (doc?._ === 'document' ? doc.id : pic?._ === 'photo' ? pic.id : undefined)!.toString()
      return h.world.files.get(fileId)!
    })
    expect(stored.map((f) => f.bytes.length)).toEqual([70_000, 600_001, 30_000, 40_000])
    expect(Buffer.compare(stored[1]!.bytes, bytes(600_001, 2))).toBe(0)
    expect(stored[1]!.name).toBe('invoice.pdf')
    await client.disconnect()
  })

  test('a text too long for a caption goes first, the file after it without one', async () => {
    const { client, alice } = await chatting()
    const text = 'y'.repeat(1500)
    const sent = await client.send({
      chatId: alice.chatId,
      clientMessageId: cmid(),
      text,
      files: [file('a.txt', 'text/plain', bytes(100))],
    })
    expect(sent.messageIds).toHaveLength(2)
    expect(calls('messages.sendMessage').at(-1)!.message).toBe(text)
    expect(calls('messages.sendMedia').at(-1)!.message).toBe('')
    const tooBig = await client
      .send({
        chatId: alice.chatId,
        clientMessageId: cmid(),
        files: [{ ...file('huge.bin', 'application/octet-stream', bytes(1)), size: 3 * 1024 ** 3 }],
      })
      .catch((e: unknown) => e)
    expect(tooBig).toMatchObject({ name: 'PermanentSendError', code: 'FILE_TOO_LARGE' })
    await client.disconnect()
  })

  test('edit, delete and markRead make the right calls and change the remote side', async () => {
    const { phone, client, alice } = await chatting()
    const [incoming] = h.world.chat(phone, alice.user.id)
    const sent = await client.send({ chatId: alice.chatId, clientMessageId: cmid(), text: 'draft' })
    const id = sent.messageIds[0]!
    await client.edit(alice.chatId, id, '<b>final</b>')
    await client.edit(alice.chatId, id, '<b>final</b>')
    expect(calls('messages.editMessage').at(-1)).toMatchObject({
      id: Number(id),
      message: 'final',
      entities: [{ _: 'messageEntityBold', offset: 0, length: 5 }],
    })
    expect(h.world.account(phone).messages.get(Number(id))).toMatchObject({ text: 'final', deleted: false })
    await client.delete(alice.chatId, [id])
    await client.delete(alice.chatId, [id])
    expect(calls('messages.deleteMessages').at(-1)).toMatchObject({ id: [Number(id)], revoke: true })
    expect(h.world.account(phone).messages.get(Number(id))!.deleted).toBe(true)
    await client.markRead(alice.chatId, String(incoming!.id) as never)
    expect(calls('messages.readHistory').at(-1)).toMatchObject({ maxId: incoming!.id })
    expect(h.world.account(phone).readInbox.get(alice.user.id)).toBe(incoming!.id)
    await client.setTyping(alice.chatId, true)
    expect(calls('messages.setTyping').length).toBeGreaterThan(0)
    await client.disconnect()
  })

  test('a chat the account cannot reach is a permanent failure', async () => {
    const { client } = await chatting()
    const stranger = h.world.addUser({ firstName: 'Stranger' })
    for (const chatId of [String(stranger.id), 'not-a-chat', '-100123']) {
      const error = await client
        .send({ chatId: toRemoteChatId(chatId), clientMessageId: cmid(), text: 'x' })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PermanentSendError)
    }
    await client.disconnect()
  })
})
