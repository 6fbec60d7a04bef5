/**
 * The account's own profile through the sandbox client against the sandbox messenger (PRIVACY I1):
 * `GET /v1/me` as the login stored it, then what the owner changes in the app (`set-profile`) — name,
 * username, a new photo (a new ref, streamed by the account) or none; a revoked session is a lost login.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readsOwnProfile } from '../../src/bridge/capabilities.ts'
import { NeedsLoginError } from '../../src/bridge/errors.ts'
import { toAccountId } from '../../src/bridge/ids.ts'
import type { SandboxClient } from '../../src/connectors/sandbox/client.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/connector.ts'
import { type SandboxMessenger, startSandbox } from '../emulators/sandbox/index.ts'
import { type ContractAccount, driveLogin, MemorySessionStore } from './contract.ts'

let sandbox: SandboxMessenger
let connector: SandboxConnector
beforeAll(async () => {
  sandbox = await startSandbox({ rateLimit: null })
  connector = new SandboxConnector({ baseUrl: sandbox.url })
})
afterAll(() => sandbox.stop())

let phones = 0

async function loggedIn() {
  const phone = `+1555${process.pid % 1000}${String(++phones).padStart(4, '0')}`
  const { id } = sandbox.createAccount({ phone, name: 'Shop', username: 'shop' })
  const account = {
    phone,
    loginCode: async () => sandbox.loginCode({ phone }).code,
  } as ContractAccount
  const session = new MemorySessionStore()
  const accountId = toAccountId(crypto.randomUUID())
  const login = connector.createLogin(connector.loginFlows()[0]!.id, {
    accountId,
    session,
    signal: new AbortController().signal,
  })
  const done = await driveLogin(login, await login.start(), account)
  const client = connector.loadAccount({
    id: accountId,
    remoteId: done.account.remoteId,
    credentials: null,
    session,
  }) as SandboxClient
  return { client, id, phone, done }
}

const readText = (stream: ReadableStream<Uint8Array>) => new Response(stream).text()

describe('sandbox client: own profile (I1)', () => {
  test('I1: the profile the login stored, then a renamed account with a new photo, then without one', async () => {
    const { client, id, phone, done } = await loggedIn()
    expect(readsOwnProfile(client)).toBe(true)
    expect(await client.readOwnProfile()).toEqual({
      userId: done.account.remoteId,
      displayName: done.account.displayName!,
      firstName: 'Shop',
      username: 'shop',
      phone: done.account.phone!,
    })
    expect(done.account.phone).toBe(phone)
    expect(await client.openOwnAvatar()).toBeNull()

    await sandbox.setProfile({
      account: id,
      name: 'Shop & Co',
      username: null,
      photo: { name: 'me.jpg', mime: 'image/jpeg', text: 'first photo' },
    })
    const first = await client.readOwnProfile()
    expect(first).toMatchObject({ displayName: 'Shop & Co', firstName: 'Shop & Co' })
    expect(first.username).toBeUndefined()
    expect(first.avatarRef).toBeString()
    const photo = await client.openOwnAvatar()
    expect(photo?.mimeType).toBe('image/jpeg')
    expect(await readText(photo!.stream)).toBe('first photo')

    await sandbox.setProfile({ account: id, photo: { name: 'me.jpg', mime: 'image/jpeg', text: 'second' } })
    const second = await client.readOwnProfile()
    expect(second.avatarRef).toBeString()
    expect(second.avatarRef).not.toBe(first.avatarRef)
    expect(await readText((await client.openOwnAvatar())!.stream)).toBe('second')

    await sandbox.setProfile({ account: id, photo: null })
    expect((await client.readOwnProfile()).avatarRef).toBeUndefined()
    expect(await client.openOwnAvatar()).toBeNull()
  })

  test('a revoked session is a lost login', async () => {
    const { client, id } = await loggedIn()
    sandbox.revokeSession({ account: id })
    await expect(client.readOwnProfile()).rejects.toBeInstanceOf(NeedsLoginError)
  })
})
