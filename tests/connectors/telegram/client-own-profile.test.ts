/**
 * The account's own profile through a real mtcute client over the stub world (PRIVACY I1): the self user
 * with its name, username and phone (Telegram shows the account its own number even when hidden from
 * others), a small photo that streams its bytes and whose ref changes with the photo, none without one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Long } from '@mtcute/core'
import { readsOwnProfile } from '../../../src/bridge/capabilities.ts'
import { NeedsLoginError } from '../../../src/bridge/errors.ts'
import type { Repositories } from '../../../storage/repos/index.ts'
import { repositories } from '../../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { bytes, online, readAll } from './accounts.ts'
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

describe('telegram client: own profile (I1)', () => {
  test('I1: the self user with name, username and its own phone, even one hidden from others', async () => {
    const { phone, client, login } = await online(h)
    const me = h.world.account(phone).user
    me.lastName = 'Petrova'
    me.username = 'manager_p'
    me.phoneHidden = true
    expect(readsOwnProfile(client)).toBe(true)
    expect(await client.readOwnProfile()).toEqual({
      userId: login.remoteId!,
      firstName: 'Manager',
      lastName: 'Petrova',
      displayName: 'Manager Petrova',
      username: 'manager_p',
      phone: `+${phone}`,
    })
    expect(await client.openOwnAvatar()).toBeNull()
    await client.disconnect()
  })

  test('I1: a small photo streams its bytes; a new photo brings a new ref; a removed one gives none', async () => {
    const { phone, client } = await online(h)
    const me = h.world.account(phone).user
    const picture = bytes(4_000, 11)
    me.avatar = { photoId: Long.fromNumber(701), bytes: picture }
    const first = await client.readOwnProfile()
    expect(first.avatarRef).toBeString()
    const photo = await client.openOwnAvatar()
    expect(photo?.mimeType).toBe('image/jpeg')
    expect(await readAll(photo!.stream)).toEqual(picture)
    // Unchanged: the same ref (the core fetches nothing again).
    expect((await client.readOwnProfile()).avatarRef).toBe(first.avatarRef)
    me.avatar = { photoId: Long.fromNumber(702), bytes: bytes(3_000, 12) }
    const second = await client.readOwnProfile()
    expect(second.avatarRef).not.toBe(first.avatarRef)
    expect(await readAll((await client.openOwnAvatar())!.stream)).toEqual(bytes(3_000, 12))
    delete me.avatar
    expect((await client.readOwnProfile()).avatarRef).toBeUndefined()
    expect(await client.openOwnAvatar()).toBeNull()
    await client.disconnect()
  })

  test('a disconnected client has no login to read with', async () => {
    const { client } = await online(h)
    await client.disconnect()
    await expect(client.readOwnProfile()).rejects.toBeInstanceOf(NeedsLoginError)
  })
})
