/**
 * Customer avatars toward the portal (issue 5): a message carries `user.pictureKey` only when the contact's
 * avatar is new or changed since the last one queued, and that record commits with the message.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { contactAvatarKey } from '../../src/accounts/contact-sync.ts'
import { parsePayload } from '../../src/bitrix/portal-sender/payloads.ts'
import { handleRemoteEvent, type InboundDeps } from '../../src/relay/inbound.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import { createWorld, messageEvent, type RelayWorld } from './support.ts'

let world: RelayWorld
let deps: InboundDeps
beforeAll(async () => {
  world = await createWorld()
  deps = { sql: world.db.sql, repos: world.repos, files: world.files, notifySender: () => {} }
})
afterAll(() => world.close())

/** The `user` blocks of the account's queued portal messages, oldest first. */
async function queuedUsers(account: Account) {
  const rows = await world.db.sql<{ id: string }[]>`
    select id from deliveries where account_id = ${account.id} and kind = 'message' order by id`
  const users = []
  for (const row of rows) {
    const { payload } = await world.repos.deliveries.get(row.id)
    const parsed = parsePayload('message', payload)
    if (!parsed.ok) throw new Error(parsed.error)
    users.push(parsed.payload.user)
  }
  return users
}

/** What contact sync writes: the profile with the avatar key of the messenger's current photo. */
function syncContact(account: Account, chat: string, avatarRef: string | null) {
  const remoteId = `user-${chat}`
  const avatarKey =
    avatarRef === null ? null : contactAvatarKey(account.portalId, account.id, remoteId, avatarRef)
  return world.repos.contacts.upsert(account.id, { remoteId, firstName: 'Ann', avatarKey })
}

const send = (account: Account, chat: string, id: string) =>
  handleRemoteEvent(deps, account, messageEvent(account.id, chat, id))

describe('inbound relay: contact avatars', () => {
  test('first message carries the avatar, unchanged ones do not, a changed avatar goes once', async () => {
    const account = await world.newAccount()
    const first = await syncContact(account, 'c1', 'photo-1')
    expect(await send(account, 'c1', '1')).toBe('queued')
    expect(await send(account, 'c1', '2')).toBe('queued')
    const second = await syncContact(account, 'c1', 'photo-2')
    expect(second.avatarKey).not.toBe(first.avatarKey)
    expect(await send(account, 'c1', '3')).toBe('queued')
    expect(await send(account, 'c1', '4')).toBe('queued')
    expect(await queuedUsers(account)).toEqual([
      { id: 'user-c1', name: 'Ann', pictureKey: first.avatarKey! },
      { id: 'user-c1', name: 'Ann' },
      { id: 'user-c1', name: 'Ann', pictureKey: second.avatarKey! },
      { id: 'user-c1', name: 'Ann' },
    ])
    expect((await world.repos.contacts.get(first.id)).avatarSentKey).toBe(second.avatarKey)
  })

  test('a contact without an avatar never sends one; a later first avatar goes once', async () => {
    const account = await world.newAccount()
    expect(await send(account, 'c2', '1')).toBe('queued')
    await syncContact(account, 'c2', null)
    expect(await send(account, 'c2', '2')).toBe('queued')
    const later = await syncContact(account, 'c2', 'photo-1')
    expect(await send(account, 'c2', '3')).toBe('queued')
    expect(await send(account, 'c2', '4')).toBe('queued')
    const users = await queuedUsers(account)
    expect(users.map((user) => user.pictureKey)).toEqual([undefined, undefined, later.avatarKey!, undefined])
  })

  test('a duplicate event does not take the avatar; a failed queueing keeps it for the retry', async () => {
    const account = await world.newAccount()
    const contact = await syncContact(account, 'c3', 'photo-1')
    const failing: InboundDeps = {
      ...deps,
      repos: {
        ...world.repos,
        deliveries: Object.assign(Object.create(world.repos.deliveries), {
          enqueue: () => Promise.reject(new Error('crash while queueing')),
        }),
      },
    }
    await expect(handleRemoteEvent(failing, account, messageEvent(account.id, 'c3', '1'))).rejects.toThrow(
      'crash while queueing',
    )
    expect((await world.repos.contacts.get(contact.id)).avatarSentKey).toBeNull()
    expect(await send(account, 'c3', '1')).toBe('queued')
    expect(await send(account, 'c3', '1')).toBe('duplicate')
    expect(await send(account, 'c3', '2')).toBe('queued')
    const users = await queuedUsers(account)
    expect(users.map((user) => user.pictureKey)).toEqual([contact.avatarKey!, undefined])
  })

  test('two messages of one contact at once: exactly one carries the avatar', async () => {
    const account = await world.newAccount()
    const contact = await syncContact(account, 'c4', 'photo-1')
    const outcomes = await Promise.all([send(account, 'c4', '1'), send(account, 'c4', '2')])
    expect(outcomes).toEqual(['queued', 'queued'])
    const keys = (await queuedUsers(account)).map((user) => user.pictureKey).filter(Boolean)
    expect(keys).toEqual([contact.avatarKey!])
  })
})
