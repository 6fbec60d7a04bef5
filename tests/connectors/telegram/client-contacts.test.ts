/**
 * Contacts and avatars through a real mtcute client over the stub world (PRIVACY I2): the address book and
 * the partners of private dialogs with names, usernames and phones where Telegram shows them; bots and the
 * account itself left out; a small avatar that streams its bytes and whose ref changes with the photo.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Long } from '@mtcute/core'
import { toRemoteUserId } from '../../../src/bridge/ids.ts'
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

describe('telegram client: contacts and avatars', () => {
  test('address book and dialog partners, without bots; phones only where visible', async () => {
    const { phone, client, log } = await online(h)
    const booked = customer(h.world, { firstName: 'Boris', lastName: 'Booked', username: 'boris' })
    h.world.account(phone).contacts.add(booked.user.id)
    const writer = customer(h.world, {
      firstName: 'Wanda',
      lastName: undefined,
      username: undefined,
      phoneHidden: true,
    })
    const bot = h.world.addUser({ firstName: 'Helper', bot: true })
    h.world.account(phone).contacts.add(bot.id)
    const hi = h.world.customerSends(phone, writer.user, 'hi')
    await messageWithId(log, hi.id)
    const contacts = await client.syncContacts()
    expect(contacts.map((c) => c.userId).sort()).toEqual([booked.userId, writer.userId].sort())
    expect(contacts.find((c) => c.userId === booked.userId)).toEqual({
      userId: booked.userId,
      firstName: 'Boris',
      lastName: 'Booked',
      username: 'boris',
      phone: `+${booked.user.phone}`,
    })
    expect(contacts.find((c) => c.userId === writer.userId)).toEqual({
      userId: writer.userId,
      firstName: 'Wanda',
    })
    await client.disconnect()
  })

  test('a small avatar streams its bytes; a new photo brings a new ref; none is null', async () => {
    const { phone, client, log } = await online(h)
    const picture = bytes(5_000, 9)
    const alice = customer(h.world, { avatar: { photoId: Long.fromNumber(501), bytes: picture } })
    const plain = customer(h.world, { firstName: 'Plain' })
    h.world.account(phone).contacts.add(plain.user.id)
    await messageWithId(log, h.world.customerSends(phone, alice.user, 'hi').id)
    const first = (await client.syncContacts()).find((c) => c.userId === alice.userId)!
    expect(first.avatarRef).toBeDefined()
    const avatar = await client.openAvatar(alice.userId)
    expect(avatar?.mimeType).toBe('image/jpeg')
    expect(await readAll(avatar!.stream)).toEqual(picture)
    alice.user.avatar = { photoId: Long.fromNumber(502), bytes: bytes(4_000, 10) }
    await messageWithId(log, h.world.customerSends(phone, alice.user, 'new photo').id)
    const second = (await client.syncContacts()).find((c) => c.userId === alice.userId)!
    expect(second.avatarRef).not.toBe(first.avatarRef)
    expect(await client.openAvatar(plain.userId)).toBeNull()
    expect(await client.openAvatar(toRemoteUserId('123456789'))).toBeNull()
    await client.disconnect()
  })
})
