/**
 * The account's own profile (PRIVACY I1), refreshed with the contacts, on the backends of this run: the real
 * database and the file store (S3 through s3rver, or the local directory). A scripted client stands for the
 * messenger in most tests, a real mtcute client over the Telegram stub world in one; the runtime's wiring
 * (online → refresh) and its disconnect cleanup are exercised through its own hooks.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { Long } from '@mtcute/core'
import { AccountRuntime } from '../../src/accounts/account-runtime.ts'
import type { ConnectorRegistry } from '../../src/accounts/connectors.ts'
import { type ContactSyncDeps, syncAccountContacts } from '../../src/accounts/contact-sync.ts'
import { createAccountMetrics, HealthWriter } from '../../src/accounts/health-writer.ts'
import { ownAvatarKey, refreshOwnProfile } from '../../src/accounts/own-profile.ts'
import type { OwnProfile, OwnProfileReading } from '../../src/bridge/capabilities.ts'
import type { MessengerClient, RemoteEventListener, SentMessage } from '../../src/bridge/client.ts'
import type { MessengerConnector } from '../../src/bridge/connector.ts'
import { TransientNetworkError } from '../../src/bridge/errors.ts'
import {
  type AccountId,
  toAccountId,
  toRemoteFileRef,
  toRemoteMessageId,
  toRemoteUserId,
} from '../../src/bridge/ids.ts'
import type { FileStream, RemoteContact } from '../../src/bridge/remote-event.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { checkInventory, describeProblem } from '../../src/privacy/inventory-check.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import { bytes, online } from '../connectors/telegram/accounts.ts'
import { telegramHarness } from '../connectors/telegram/harness.ts'
import { objectKeys, openRetentionStores, type RetentionStores } from '../retention/support.ts'
import { rawText, seedPortal } from '../storage/fixtures.ts'
import { until } from '../support/until.ts'

let stores: RetentionStores
let deps: ContactSyncDeps
beforeAll(async () => {
  stores = await openRetentionStores({ files: true })
  deps = { sql: stores.db.sql, repos: stores.repos, files: stores.files }
})
afterAll(() => stores.close())

/** The messenger's side, scripted: the account's profile and photo, a contact list, faults, and calls. */
class ProfileClient implements MessengerClient, OwnProfileReading {
  readonly accountId: AccountId
  profile: OwnProfile
  photo: Uint8Array | undefined
  profileFault: Error | undefined
  photoFault: Error | undefined
  contacts: RemoteContact[] = []
  reads = 0
  photoOpens = 0
  syncs = 0

  constructor(accountId: string, profile: OwnProfile) {
    this.accountId = toAccountId(accountId)
    this.profile = profile
  }

  async readOwnProfile(): Promise<OwnProfile> {
    this.reads++
    if (this.profileFault) throw this.profileFault
    return { ...this.profile }
  }

  async openOwnAvatar(): Promise<FileStream | null> {
    this.photoOpens++
    if (this.photoFault) throw this.photoFault
    return this.photo ? { stream: new Blob([this.photo]).stream(), mimeType: 'image/jpeg' } : null
  }

  async syncContacts(): Promise<RemoteContact[]> {
    this.syncs++
    return this.contacts.map((c) => ({ ...c }))
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

/** An account as the login left it: id, name, username and phone of that day, no photo. */
async function loggedInAccount(): Promise<Account> {
  const portal = await seedPortal(stores.repos)
  return stores.repos.accounts.create({
    portalId: portal.id,
    messenger: 'telegram',
    remoteId: '4242',
    displayName: 'Old Name',
    username: 'old_name',
    phone: '+79000000001',
    health: 'online',
  })
}

const me = (fields: Partial<OwnProfile> = {}): OwnProfile => ({
  userId: toRemoteUserId('4242'),
  firstName: 'Мария',
  lastName: 'Новая',
  displayName: 'Мария Новая',
  username: 'maria_new',
  phone: '+79161234567',
  ...fields,
})
const photoRef = (n: number) => toRemoteFileRef(`avatar:4242:${n}`)

async function objectText(key: string): Promise<string | undefined> {
  const body = await stores.files.get(key)
  if (!body) return undefined
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('utf8')
}

const profileObjects = async (account: Account) =>
  (await objectKeys(stores.files)).filter((k) =>
    k.startsWith(`p/${account.portalId}/a/${account.id}/profile/`),
  )

const text = (s: string) => new TextEncoder().encode(s)

describe('own profile refresh', () => {
  test('I1: a name, username, phone and photo changed in the messenger reach the account row; the phone sealed, the photo under the declared prefix', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = text('jpeg of maria')
    const result = await refreshOwnProfile(deps, account, client)
    expect(result).toEqual({
      profile: 'updated',
      avatar: 'stored',
      changed: ['displayName', 'username', 'phone', 'avatarKey'],
    })
    const key = ownAvatarKey(account, '4242', photoRef(1))
    const row = await stores.repos.accounts.get(account.id)
    expect({
      remoteId: row.remoteId,
      displayName: row.displayName,
      username: row.username,
      phone: row.phone,
      avatarKey: row.avatarKey,
    }).toEqual({
      remoteId: '4242',
      displayName: 'Мария Новая',
      username: 'maria_new',
      phone: '+79161234567',
      avatarKey: key,
    })
    expect(key.startsWith(`p/${account.portalId}/a/${account.id}/profile/`)).toBe(true)
    expect(await objectText(key)).toBe('jpeg of maria')
    // Sealed at rest (S4): the phone is nowhere in the table's raw text.
    expect(await rawText(stores.db.sql, 'accounts')).not.toContain('9161234567')
    // The privacy allow-list knows the photo object (policy I1): no object is undeclared or overdue.
    const report = await checkInventory({ sql: stores.db.sql, cache: new MemoryCache(), files: stores.files })
    const objectProblems = report.problems.filter((p) => p.kind.endsWith('-object'))
    expect(objectProblems.map(describeProblem)).toEqual([])
    expect(report.checked.objects).toBeGreaterThanOrEqual(1)
  })

  test('I1: an unchanged profile rewrites nothing and fetches no photo again', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = text('photo')
    await refreshOwnProfile(deps, account, client)
    const written = await stores.repos.accounts.get(account.id)
    await Bun.sleep(5)
    expect(await refreshOwnProfile(deps, account, client)).toEqual({
      profile: 'unchanged',
      avatar: 'kept',
      changed: [],
    })
    const again = await stores.repos.accounts.get(account.id)
    expect(again.updatedAt.getTime()).toBe(written.updatedAt.getTime())
    expect(client.photoOpens).toBe(1)
    expect(await profileObjects(account)).toEqual([written.avatarKey!])
  })

  test('I1: a new photo replaces the old object; a failed download keeps the old one; a removed photo clears it', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = text('first')
    await refreshOwnProfile(deps, account, client)
    const first = ownAvatarKey(account, '4242', photoRef(1))
    // A new photo whose download fails: the old one stays, nothing half-written is left.
    client.profile = me({ avatarRef: photoRef(2) })
    client.photoFault = new TransientNetworkError('offline')
    expect(await refreshOwnProfile(deps, account, client)).toMatchObject({
      profile: 'unchanged',
      avatar: 'failed',
    })
    expect((await stores.repos.accounts.get(account.id)).avatarKey).toBe(first)
    expect(await profileObjects(account)).toEqual([first])
    // The next refresh gets it: the new object in, the old one out.
    client.photoFault = undefined
    client.photo = text('second')
    expect(await refreshOwnProfile(deps, account, client)).toMatchObject({
      avatar: 'stored',
      changed: ['avatarKey'],
    })
    const second = ownAvatarKey(account, '4242', photoRef(2))
    expect(await profileObjects(account)).toEqual([second])
    expect(await objectText(second)).toBe('second')
    // Removed in the messenger: the key cleared and the object deleted.
    client.profile = me()
    expect(await refreshOwnProfile(deps, account, client)).toMatchObject({ avatar: 'removed' })
    expect((await stores.repos.accounts.get(account.id)).avatarKey).toBeNull()
    expect(await profileObjects(account)).toEqual([])
  })

  test('I1: an oversized photo is not kept; an invalid profile writes nothing', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = bytes(5_000)
    expect(await refreshOwnProfile({ ...deps, maxAvatarBytes: 4_096 }, account, client)).toMatchObject({
      profile: 'updated',
      avatar: 'failed',
    })
    expect((await stores.repos.accounts.get(account.id)).avatarKey).toBeNull()
    expect(await profileObjects(account)).toEqual([])
    const before = await stores.repos.accounts.get(account.id)
    client.profile = me({ userId: toRemoteUserId(''), displayName: 'Nobody' })
    await expect(refreshOwnProfile(deps, account, client)).rejects.toThrow()
    client.profile = me({ phone: 'call me maybe' })
    await expect(refreshOwnProfile(deps, account, client)).rejects.toThrow()
    expect(await stores.repos.accounts.get(account.id)).toEqual(before)
  })

  test('I1: a lost lease writes nothing, and the photo fetched for the write goes again', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = text('photo')
    const fence = async () => {
      throw new Error('lease lost')
    }
    await expect(refreshOwnProfile({ ...deps, fence }, account, client)).rejects.toThrow('lease lost')
    expect((await stores.repos.accounts.get(account.id)).displayName).toBe('Old Name')
    expect(await profileObjects(account)).toEqual([])
  })

  test('I1: a failing profile call does not stop the contact sync', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ displayName: 'Never written' }))
    client.contacts = [{ userId: toRemoteUserId('900'), firstName: 'Contact' }]
    client.profileFault = new TransientNetworkError('profile call timed out')
    const result = await syncAccountContacts(deps, account, client)
    expect(result).toMatchObject({ contacts: 1 })
    expect(client.reads).toBe(1)
    expect((await stores.repos.contacts.list(account.id)).map((c) => c.firstName)).toEqual(['Contact'])
    expect((await stores.repos.accounts.get(account.id)).displayName).toBe('Old Name')
    // With the messenger answering again, the same sync brings the profile up to date.
    client.profileFault = undefined
    await syncAccountContacts(deps, account, client)
    expect((await stores.repos.accounts.get(account.id)).displayName).toBe('Never written')
  })

  test('I1: over a real mtcute client (Telegram stub world): the self user renamed, with a new photo', async () => {
    const h = telegramHarness(stores.repos)
    const { phone, client, login } = await online(h)
    const account = await stores.repos.accounts.get(login.id)
    const self = h.world.account(phone).user
    self.firstName = 'Renamed'
    self.username = 'renamed_manager'
    const picture = bytes(2_000, 5)
    self.avatar = { photoId: Long.fromNumber(811), bytes: picture }
    const result = await refreshOwnProfile(deps, account, client)
    expect(result).toMatchObject({ profile: 'updated', avatar: 'stored' })
    const row = await stores.repos.accounts.get(account.id)
    expect([row.remoteId, row.displayName, row.username, row.phone]).toEqual([
      login.remoteId,
      'Renamed',
      'renamed_manager',
      `+${phone}`,
    ])
    const body = await stores.files.get(row.avatarKey!)
    const chunks: Buffer[] = []
    for await (const chunk of body!) chunks.push(Buffer.from(chunk))
    expect(Buffer.concat(chunks).equals(Buffer.from(picture))).toBe(true)
    expect(await refreshOwnProfile(deps, account, client)).toMatchObject({ profile: 'unchanged' })
    await client.disconnect()
  })
})

describe('own profile in the account runtime', () => {
  function runtimeWith(client: ProfileClient) {
    const connector = { name: 'telegram', loadAccount: () => client } as unknown as MessengerConnector
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
      contactSync: { intervalMs: 60_000, retryMs: 60_000 },
    })
  }

  test('I1: going online refreshes the profile; a disconnect clears it and deletes the photo (R1, D2)', async () => {
    const account = await loggedInAccount()
    const client = new ProfileClient(account.id, me({ avatarRef: photoRef(1) }))
    client.photo = text('photo')
    const runtime = runtimeWith(client)
    const input = runtime.createInput((await runtime.prepare(account.id))!)
    expect(client.reads).toBe(0)
    await input.hooks.setHealth({
      accountId: toAccountId(account.id),
      health: 'online',
      previous: null,
      at: Date.now(),
    })
    const row = await until('the profile refreshed on going online', async () => {
      const current = await stores.repos.accounts.get(account.id)
      return current.avatarKey ? current : undefined
    })
    expect(row.displayName).toBe('Мария Новая')
    expect(await profileObjects(account)).toEqual([row.avatarKey!])
    await runtime.cleanup(account)
    const cleared = await stores.repos.accounts.get(account.id)
    expect([
      cleared.remoteId,
      cleared.displayName,
      cleared.username,
      cleared.phone,
      cleared.avatarKey,
    ]).toEqual([null, null, null, null, null])
    expect(await profileObjects(account)).toEqual([])
  })
})
