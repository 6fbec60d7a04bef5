/**
 * Contact sync (PRIVACY I2, R2, R6) on the backends of this run: the real database, and the file store
 * (S3 through s3rver, or the local directory). A scripted client stands for the messenger in most tests, a
 * real mtcute client over the Telegram stub world in one; the account runtime's wiring is exercised through
 * its own hooks (online → refresh, interval, pause, stop, disconnect cleanup).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Long } from '@mtcute/core'
import { AccountRuntime } from '../../src/accounts/account-runtime.ts'
import type { ConnectorRegistry } from '../../src/accounts/connectors.ts'
import {
  type ContactSyncDeps,
  contactAvatarKey,
  syncAccountContacts,
} from '../../src/accounts/contact-sync.ts'
import { createAccountMetrics, HealthWriter } from '../../src/accounts/health-writer.ts'
import type { ContactAvatars } from '../../src/bridge/capabilities.ts'
import type { MessengerClient, RemoteEventListener, SentMessage } from '../../src/bridge/client.ts'
import type { MessengerConnector } from '../../src/bridge/connector.ts'
import { FloodWaitError, TransientNetworkError } from '../../src/bridge/errors.ts'
import {
  type AccountId,
  type RemoteUserId,
  toAccountId,
  toRemoteFileRef,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../src/bridge/ids.ts'
import type { FileStream, RemoteContact } from '../../src/bridge/remote-event.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { checkInventory, describeProblem } from '../../src/privacy/inventory-check.ts'
import { staleSweep } from '../../src/retention/stale-sweep.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { bytes, customer, messageWithId, online } from '../connectors/telegram/accounts.ts'
import { telegramHarness } from '../connectors/telegram/harness.ts'
import {
  DAY,
  objectKeys,
  openRetentionStores,
  type RetentionStores,
  sweepDeps,
} from '../retention/support.ts'
import { rawText, seedAccount, seedChat } from '../storage/fixtures.ts'
import { until } from '../support/until.ts'

let stores: RetentionStores
let deps: ContactSyncDeps
beforeAll(async () => {
  stores = await openRetentionStores({ files: true })
  deps = { sql: stores.db.sql, repos: stores.repos, files: stores.files }
})
afterAll(() => stores.close())

/** The messenger's side, scripted: a contact list, avatars by user id, faults, and what was asked. */
class ScriptedClient implements MessengerClient, ContactAvatars {
  readonly accountId: AccountId
  contacts: RemoteContact[] = []
  readonly avatars = new Map<string, Uint8Array>()
  readonly avatarFaults = new Map<string, Error>()
  listFault: Error | undefined
  readonly opened: string[] = []
  syncs = 0

  constructor(accountId: string) {
    this.accountId = toAccountId(accountId)
  }

  async syncContacts(): Promise<RemoteContact[]> {
    this.syncs++
    if (this.listFault) throw this.listFault
    return this.contacts.map((c) => ({ ...c }))
  }

  async openAvatar(userId: RemoteUserId): Promise<FileStream | null> {
    this.opened.push(userId)
    const fault = this.avatarFaults.get(userId)
    if (fault) throw fault
    const body = this.avatars.get(userId)
    return body ? { stream: new Blob([body]).stream(), mimeType: 'image/jpeg' } : null
  }

  async connect() {}
  async disconnect() {}
  async logoutRemote() {}
  async send(): Promise<SentMessage> {
    return { messageIds: [toRemoteMessageId('1')], timestamp: new Date() }
  }
  async edit() {}
  async delete() {}
  async markRead() {}
  onEvent(_listener: RemoteEventListener) {
    return () => {}
  }
}

const person = (id: string, fields: Partial<RemoteContact> = {}): RemoteContact => ({
  userId: toRemoteUserId(id),
  ...fields,
})
const ref = (id: string, photo: number) => toRemoteFileRef(`avatar:${id}:${photo}`)

async function objectText(key: string, encoding: 'utf8' | 'hex' = 'utf8'): Promise<string | undefined> {
  const body = await stores.files.get(key)
  if (!body) return undefined
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString(encoding)
}

const avatarsOf = async (portalId: string, accountId: string) =>
  (await objectKeys(stores.files)).filter((k) => k.startsWith(`p/${portalId}/a/${accountId}/avatars/`))

describe('contact sync', () => {
  test('I2: a refresh stores names, usernames, sealed phones and small avatars under the declared avatars prefix', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    client.contacts = [
      person('100', {
        firstName: 'Анна',
        lastName: 'Петрова',
        username: 'anna_p',
        phone: '+79161234567',
        avatarRef: ref('100', 1),
      }),
      person('200', { firstName: 'Boris' }),
    ]
    client.avatars.set('100', new TextEncoder().encode('jpeg of anna'))
    const result = await syncAccountContacts(deps, account, client)
    expect(result).toEqual({
      contacts: 2,
      invalid: 0,
      stale: 0,
      avatarsStored: 1,
      avatarsRemoved: 0,
      avatarsFailed: 0,
    })
    const rows = await stores.repos.contacts.list(account.id)
    const key = contactAvatarKey(account.portalId, account.id, '100', ref('100', 1))
    expect(
      rows.map(({ remoteId, firstName, lastName, username, phone, avatarKey, staleAt }) => ({
        remoteId,
        firstName,
        lastName,
        username,
        phone,
        avatarKey,
        staleAt,
      })),
    ).toEqual([
      {
        remoteId: '100',
        firstName: 'Анна',
        lastName: 'Петрова',
        username: 'anna_p',
        phone: '+79161234567',
        avatarKey: key,
        staleAt: null,
      },
      {
        remoteId: '200',
        firstName: 'Boris',
        lastName: null,
        username: null,
        phone: null,
        avatarKey: null,
        staleAt: null,
      },
    ])
    expect(key.startsWith(`p/${account.portalId}/a/${account.id}/avatars/`)).toBe(true)
    expect(await objectText(key)).toBe('jpeg of anna')
    // Sealed at rest (S4): the phone is nowhere in the table's raw text.
    expect(await rawText(stores.db.sql, 'contacts')).not.toContain('9161234567')
    // The privacy allow-list knows the avatar object and every stored column.
    const report = await checkInventory({ sql: stores.db.sql, cache: new MemoryCache(), files: stores.files })
    expect(report.problems.map(describeProblem)).toEqual([])
    expect(report.checked.objects).toBeGreaterThanOrEqual(1)
  })

  test('I2: an avatar is fetched again only when its ref changes; the old object goes; a removed photo clears it', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    client.contacts = [person('300', { firstName: 'Vera', avatarRef: ref('300', 1) })]
    client.avatars.set('300', new TextEncoder().encode('first photo'))
    await syncAccountContacts(deps, account, client)
    const first = contactAvatarKey(account.portalId, account.id, '300', ref('300', 1))
    // Same ref: nothing downloaded again.
    const again = await syncAccountContacts(deps, account, client)
    expect(again).toMatchObject({ avatarsStored: 0, avatarsRemoved: 0 })
    expect(client.opened).toEqual(['300'])
    // A new photo: downloaded, the old object deleted.
    client.contacts = [person('300', { firstName: 'Vera', avatarRef: ref('300', 2) })]
    client.avatars.set('300', new TextEncoder().encode('second photo'))
    expect(await syncAccountContacts(deps, account, client)).toMatchObject({
      avatarsStored: 1,
      avatarsRemoved: 1,
    })
    const second = contactAvatarKey(account.portalId, account.id, '300', ref('300', 2))
    expect(await avatarsOf(account.portalId, account.id)).toEqual([second])
    expect(await objectText(second)).toBe('second photo')
    expect((await stores.repos.contacts.findByRemote(account.id, '300'))?.avatarKey).toBe(second)
    expect(first).not.toBe(second)
    // The photo removed: the key cleared and the object deleted.
    client.contacts = [person('300', { firstName: 'Vera' })]
    expect(await syncAccountContacts(deps, account, client)).toMatchObject({ avatarsRemoved: 1 })
    expect(await avatarsOf(account.portalId, account.id)).toEqual([])
    expect((await stores.repos.contacts.findByRemote(account.id, '300'))?.avatarKey).toBeNull()
  })

  test('I2: bad entries are left out; an oversized avatar is not kept; a flood wait stops avatars, not profiles', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    client.contacts = [
      person('', { firstName: 'no id' }),
      person('400', { firstName: 'Phone', phone: 'call me maybe' }),
      person('401', { firstName: 'Big', avatarRef: ref('401', 1) }),
      person('402', { firstName: 'Flood', avatarRef: ref('402', 1) }),
      person('403', { firstName: 'After', avatarRef: ref('403', 1) }),
      person('404', { firstName: `${'x'.repeat(300)}` }),
    ]
    client.avatars.set('401', bytes(5_000))
    client.avatarFaults.set('402', new FloodWaitError(30))
    client.avatars.set('403', bytes(10))
    const result = await syncAccountContacts({ ...deps, maxAvatarBytes: 4_096 }, account, client)
    expect(result).toMatchObject({ contacts: 4, invalid: 2, avatarsStored: 0, avatarsFailed: 3 })
    // After the flood wait no avatar was asked for in this round.
    expect(client.opened).toEqual(['401', '402'])
    const rows = await stores.repos.contacts.list(account.id)
    expect(rows.map((r) => [r.remoteId, r.avatarKey])).toEqual([
      ['401', null],
      ['402', null],
      ['403', null],
      ['404', null],
    ])
    expect(rows.at(-1)!.firstName).toHaveLength(255)
    // No half-written object is left behind.
    expect(await avatarsOf(account.portalId, account.id)).toEqual([])
    // The next round fetches what the flood wait held back.
    client.avatarFaults.clear()
    client.avatars.set('402', bytes(10, 2))
    expect(await syncAccountContacts({ ...deps, maxAvatarBytes: 4_096 }, account, client)).toMatchObject({
      avatarsStored: 2,
    })
  })

  test('R6: contacts missing from a refresh are marked stale, a failed refresh marks nothing, the sweep deletes them 7 days on', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    client.contacts = [
      person('500', { firstName: 'Stays' }),
      person('501', { firstName: 'Leaves', avatarRef: ref('501', 1) }),
      person('502', { firstName: 'Returns' }),
    ]
    client.avatars.set('501', bytes(100))
    await syncAccountContacts(deps, account, client)
    // A customer the relay met (a bare contact with a chat) and who has been quiet longer than the message
    // period, not in the listing either. (A chat that moved within it keeps its contact: contacts.test.ts.)
    const chat = await seedChat(stores.repos, account.id)
    await stores.db.sql`update chats set updated_at = now() - interval '100 days' where id = ${chat.id}`
    client.contacts = [person('500', { firstName: 'Stays' })]
    expect(await syncAccountContacts(deps, account, client)).toMatchObject({ contacts: 1, stale: 3 })
    const marked = async () =>
      (await stores.repos.contacts.list(account.id)).filter((c) => c.staleAt).map((c) => c.remoteId)
    expect((await marked()).sort()).toEqual(['501', '502', chat.remoteChatId].sort())
    // A listing that fails changes nothing.
    client.listFault = new TransientNetworkError('offline')
    await expect(syncAccountContacts(deps, account, client)).rejects.toThrow('offline')
    client.listFault = undefined
    // Seen again: the mark is lifted.
    client.contacts = [person('500', { firstName: 'Stays' }), person('502', { firstName: 'Returns' })]
    expect(await syncAccountContacts(deps, account, client)).toMatchObject({ stale: 0 })
    expect((await marked()).sort()).toEqual(['501', chat.remoteChatId].sort())
    const leaving = await stores.repos.contacts.findByRemote(account.id, '501')
    expect(leaving?.avatarKey).toBeString()
    // Marked, not deleted: 8 days on, the sweep takes the contact, its avatar and its chat.
    const later = new Date(Date.now() + 8 * DAY)
    await staleSweep.run(sweepDeps(stores, later))
    const left = (await stores.repos.contacts.list(account.id)).map((c) => c.remoteId).sort()
    expect(left).toEqual(['500', '502'])
    expect(await stores.files.get(leaving!.avatarKey!)).toBeUndefined()
    expect(await stores.repos.chats.getByRemote(account.id, chat.remoteChatId)).toBeUndefined()
  })

  test('I2: over a real mtcute client (Telegram stub world): dialog partners and the address book with their avatars', async () => {
    const h = telegramHarness(stores.repos)
    const { phone, client, log, login } = await online(h)
    const account = await stores.repos.accounts.get(login.id)
    const picture = bytes(3_000, 7)
    const alice = customer(h.world, {
      phone: '79161112233',
      avatar: { photoId: Long.fromNumber(901), bytes: picture },
    })
    const booked = customer(h.world, { firstName: 'Boris', lastName: 'Booked', username: 'boris_b' })
    h.world.account(phone).contacts.add(booked.user.id)
    await messageWithId(log, h.world.customerSends(phone, alice.user, 'hello').id)
    const result = await syncAccountContacts(deps, account, client)
    expect(result).toMatchObject({ contacts: 2, avatarsStored: 1, avatarsFailed: 0 })
    const rows = await stores.repos.contacts.list(account.id)
    expect(rows.map((r) => [r.remoteId, r.firstName, r.username, r.phone]).sort()).toEqual(
      [
        [alice.userId, 'Alice', 'alice_s', '+79161112233'],
        [booked.userId, 'Boris', 'boris_b', `+${booked.user.phone}`],
      ].sort(),
    )
    const key = rows.find((r) => r.remoteId === alice.userId)!.avatarKey!
    expect(await objectText(key, 'hex')).toBe(Buffer.from(picture).toString('hex'))
    await client.disconnect()
  })
})

describe('contact sync in the account runtime', () => {
  function runtimeWith(client: ScriptedClient, intervalMs: number) {
    const connector = {
      name: 'telegram',
      loadAccount: () => client,
    } as unknown as MessengerConnector
    const connectors: ConnectorRegistry = new Map([['telegram', connector]])
    return new AccountRuntime({
      sql: stores.db.sql,
      repos: stores.repos,
      files: stores.files,
      cache: stores.cache,
      connectors,
      health: new HealthWriter(stores.repos.accounts, createAccountMetrics(createMetrics('test').registry)),
      log: createLogger({ level: 'fatal' }),
      notifySender: () => {},
      sendToActor: () => {},
      onDisconnected: () => {},
      relayOptions: { pollIntervalMs: 0 },
      contactSync: { intervalMs, retryMs: intervalMs },
    })
  }

  test('I2: the runtime refreshes when the account goes online, again each interval, pauses offline, stops on release', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    client.contacts = [person('600', { firstName: 'Online' })]
    const runtime = runtimeWith(client, 150)
    const start = await runtime.prepare(account.id)
    const input = runtime.createInput(start!)
    const at = Date.now()
    const setHealth = (health: 'online' | 'reconnecting', previous: 'online' | 'reconnecting' | null) =>
      input.hooks.setHealth({ accountId: toAccountId(account.id), health, previous, at })
    expect(client.syncs).toBe(0)
    await setHealth('online', null)
    const stored = await until('the first refresh stored', async () => {
      const rows = await stores.repos.contacts.list(account.id)
      return rows.length > 0 ? rows : undefined
    })
    expect(stored.map((c) => c.firstName)).toEqual(['Online'])
    await until('a refresh after the interval', async () => (client.syncs >= 2 ? true : undefined))
    // Offline: no refresh while it lasts.
    await setHealth('reconnecting', 'online')
    const paused = client.syncs
    await Bun.sleep(400)
    expect(client.syncs).toBe(paused)
    // Back online: the refreshes resume.
    await setHealth('online', 'reconnecting')
    await until('a refresh after coming back', async () => (client.syncs > paused ? true : undefined))
    const { stopped } = runtime.detach(account.id)
    await stopped
    const released = client.syncs
    await Bun.sleep(400)
    expect(client.syncs).toBe(released)
  })

  test('R2: a refresh in progress does not write contacts back after the disconnect cleanup', async () => {
    const account = await seedAccount(stores.repos)
    const client = new ScriptedClient(account.id)
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    client.contacts = [person('700', { firstName: 'Late' })]
    const list = client.syncContacts.bind(client)
    // A listing that waits for the gate, or gives up when its signal is aborted (as mtcute's calls do).
    client.syncContacts = async (signal?: AbortSignal) => {
      const contacts = await list()
      const aborted = new Promise<never>((_, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
      )
      await Promise.race([gate, aborted])
      return contacts
    }
    const runtime = runtimeWith(client, 60_000)
    const input = runtime.createInput((await runtime.prepare(account.id))!)
    await input.hooks.setHealth({
      accountId: toAccountId(account.id),
      health: 'online',
      previous: null,
      at: 0,
    })
    await until('the refresh under way', async () => (client.syncs >= 1 ? true : undefined))
    await runtime.cleanup(account)
    // The listing answers only now, after the cleanup: nothing may be written any more.
    release()
    await Bun.sleep(100)
    expect(await stores.repos.contacts.list(account.id)).toEqual([])
  })
})
