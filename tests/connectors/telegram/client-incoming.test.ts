/**
 * Customer → account through a real mtcute client over the stub world: each kind of private message becomes
 * the right remote event (text with entities as BB-codes, files streamed with their bytes, locations and
 * contacts as readable text, edits, deletions, read receipts), the sender's profile comes first as a
 * `contact` event, and groups, channels and bots never reach the bridge.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { toRemoteMessageId } from '../../../src/bridge/ids.ts'
import type { RemoteEvent, RemoteMessageEvent } from '../../../src/bridge/remote-event.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { bytes, customer, messageWithId, online, readAll } from './accounts.ts'
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

const settle = () => Bun.sleep(150)

describe('telegram client: incoming private messages', () => {
  test('text with entities arrives as BB-codes, after a contact event with the sender profile', async () => {
    const { phone, client, log, login } = await online(h)
    const alice = customer(h.world, { phone: '79161234567' })
    const text = 'Hello bold italic link code'
    const sent = h.world.customerSends(phone, alice.user, text, {
      entities: [
        { _: 'messageEntityBold', offset: 6, length: 4 },
        { _: 'messageEntityItalic', offset: 11, length: 6 },
        { _: 'messageEntityTextUrl', offset: 18, length: 4, url: 'https://example.com/a' },
        { _: 'messageEntityCode', offset: 23, length: 4 },
      ],
    })
    const event = await messageWithId(log, sent.id)
    expect(event).toMatchObject({
      accountId: login.id,
      chat: { accountId: login.id, chatId: alice.chatId },
      sender: { userId: alice.userId, fromMe: false },
      text: 'Hello [b]bold[/b] [i]italic[/i] [url=https://example.com/a]link[/url] [code]code[/code]',
      files: [],
    })
    expect(Math.abs(event.timestamp.getTime() - sent.date * 1000)).toBeLessThan(1000)
    const contactAt = log.events.findIndex((e) => e.type === 'contact')
    expect(contactAt).toBeGreaterThan(-1)
    expect(contactAt).toBeLessThan(log.events.indexOf(event))
    expect(log.events[contactAt]).toMatchObject({
      type: 'contact',
      contact: {
        userId: alice.userId,
        firstName: 'Alice',
        lastName: 'Smith',
        username: 'alice_s',
        phone: '+79161234567',
      },
    })
    // The same profile again: no second contact event.
    const second = h.world.customerSends(phone, alice.user, 'again')
    await messageWithId(log, second.id)
    expect(log.events.filter((e) => e.type === 'contact')).toHaveLength(1)
    await client.disconnect()
  })

  test('photo, document, voice and sticker arrive as files that stream their exact bytes', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const photo = bytes(150_000, 1)
    const pdf = bytes(300_001, 2)
    const voice = bytes(20_000, 3)
    const sticker = bytes(9_000, 4)
    const ids = [
      h.world.customerSends(phone, alice.user, 'a photo', { media: { kind: 'photo', bytes: photo } }).id,
      h.world.customerSends(phone, alice.user, '', {
        media: { kind: 'document', bytes: pdf, name: 'scan.pdf', mimeType: 'application/pdf' },
      }).id,
      h.world.customerSends(phone, alice.user, '', { media: { kind: 'voice', bytes: voice, duration: 3 } })
        .id,
      h.world.customerSends(phone, alice.user, '', {
        media: { kind: 'sticker', bytes: sticker, emoji: '😀' },
      }).id,
    ]
    const events = await Promise.all(ids.map((id) => messageWithId(log, id)))
    expect(events.map((e) => e.files.map((f) => [f.kind, f.name, f.mimeType]))).toEqual([
      [['photo', 'photo.jpg', 'image/jpeg']],
      [['document', 'scan.pdf', 'application/pdf']],
      [['voice', 'voice.ogg', 'audio/ogg']],
      [['sticker', 'sticker.webp', 'image/webp']],
    ])
    expect(events[0]!.text).toBe('a photo')
    expect(events[1]!.files[0]!.size).toBe(pdf.length)
    for (const [i, expected] of [photo, pdf, voice, sticker].entries()) {
      const file = events[i]!.files[0]!
      expect(await readAll((await file.open()).stream)).toEqual(expected)
    }
    // Again later by its ref (FileDownloading), as after a restart of the relay.
    expect(await readAll((await client.openFile(events[1]!.files[0]!.ref)).stream)).toEqual(pdf)
    await client.disconnect()
  })

  test('a location and a contact card arrive as readable text with a link', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const place = h.world.customerSends(phone, alice.user, '', {
      media: { kind: 'location', latitude: 55.7558, longitude: 37.6173 },
    })
    const card = h.world.customerSends(phone, alice.user, '', {
      media: { kind: 'contact', phone: '79990001122', firstName: 'Bob', lastName: 'Jones' },
    })
    const [where, who] = await Promise.all([messageWithId(log, place.id), messageWithId(log, card.id)])
    expect(where.text).toContain('55.7558, 37.6173')
    expect(where.text).toContain('https://www.openstreetmap.org/?mlat=55.7558&mlon=37.6173')
    expect(where.files).toEqual([])
    expect(who.text).toBe('👤 Bob Jones, +79990001122\ntel:+79990001122')
    await client.disconnect()
  })

  test('a reply names the message it answers; a forward becomes a quote block', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const bob = h.world.addUser({ firstName: 'Bob', lastName: 'Forwarder' })
    const first = h.world.customerSends(phone, alice.user, 'question')
    const reply = h.world.customerSends(phone, alice.user, 'more', { replyToId: first.id })
    const forward = h.world.customerSends(phone, alice.user, 'forwarded words', { forwardFrom: bob.id })
    expect((await messageWithId(log, reply.id)).replyTo).toBe(toRemoteMessageId(String(first.id)))
    const quoted = await messageWithId(log, forward.id)
    const line = '-'.repeat(54)
    expect(quoted.text).toBe(`${line}\nBob Forwarder\nforwarded words\n${line}`)
    await client.disconnect()
  })

  test('edit, delete and the contact reading our message arrive as their events', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const typo = h.world.customerSends(phone, alice.user, 'typo')
    await messageWithId(log, typo.id)
    h.world.customerEdits(phone, typo.id, 'fixed')
    expect(await log.waitFor((e) => e.type === 'edit')).toMatchObject({
      messageId: String(typo.id),
      text: 'fixed',
      chat: { chatId: alice.chatId },
      sender: { userId: alice.userId, fromMe: false },
    })
    h.world.customerDeletes(phone, [typo.id])
    expect(await log.waitFor((e) => e.type === 'delete')).toMatchObject({
      messageIds: [String(typo.id)],
      chat: { chatId: alice.chatId },
    })
    const mine = await client.send({
      chatId: alice.chatId,
      clientMessageId: 'read-me' as never,
      text: 'please read',
    })
    h.world.customerReads(phone, alice.user)
    expect(await log.waitFor((e) => e.type === 'read')).toMatchObject({
      upTo: mine.messageIds[0],
      chat: { chatId: alice.chatId },
      reader: { userId: alice.userId, fromMe: false },
    })
    await client.disconnect()
  })

  test('what the owner types on the phone arrives as fromMe; our own sends never come back', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    h.world.customerSends(phone, alice.user, 'hi')
    await log.waitFor((e) => e.type === 'message')
    const sent = await client.send({
      chatId: alice.chatId,
      clientMessageId: 'ours' as never,
      text: 'from Bitrix24',
    })
    const typed = h.world.ownerSends(phone, alice.user, 'typed on the phone')
    const event = await messageWithId(log, typed.id)
    expect(event).toMatchObject({
      text: 'typed on the phone',
      sender: { fromMe: true },
      chat: { chatId: alice.chatId },
      // The chat's person, for the core to keep the owner's message in the customer's Open Lines chat.
      peer: alice.chatId,
    })
    await settle()
    expect(log.messages().some((m) => m.messageId === sent.messageIds[0])).toBe(false)
    await client.disconnect()
  })

  test('groups, channels, bots and the deletions of their messages are dropped at the source', async () => {
    const { phone, client, log } = await online(h)
    const alice = customer(h.world)
    const bot = h.world.addUser({ firstName: 'Helper', bot: true })
    const inGroup = h.world.groupMessage(phone, alice.user, 4242, 'group chatter')
    h.world.channelPost(phone, 5151, 'channel news')
    h.world.customerSends(phone, bot, 'bot says hi')
    h.world.customerDeletes(phone, [inGroup.id])
    const marker = h.world.customerSends(phone, alice.user, 'private')
    await messageWithId(log, marker.id)
    await settle()
    const chatEvents = log.events.filter((e: RemoteEvent) => e.type !== 'connection' && e.type !== 'contact')
    expect(chatEvents.map((e) => [e.type, (e as RemoteMessageEvent).text])).toEqual([['message', 'private']])
    await client.disconnect()
  })
})
