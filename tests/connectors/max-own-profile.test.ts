/**
 * The bot's own profile through the MAX client against the MAX emulator (PRIVACY I1): `GET /me` as the
 * login names the bot, no phone, a small photo that streams and whose ref changes when the owner sets a new
 * one, none once the photo is removed; a revoked token is a lost login.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readsOwnProfile } from '../../src/bridge/capabilities.ts'
import { NeedsLoginError } from '../../src/bridge/errors.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { MaxClient } from '../../src/connectors/max/client.ts'
import { driveLogin, MemorySessionStore } from './contract.ts'
import { type MaxHarness, maxHarness } from './max-harness.ts'

let h: MaxHarness
beforeAll(async () => {
  h = await maxHarness()
})
afterAll(() => h.close())

async function loggedIn() {
  const account = await h.newAccount()
  const session = new MemorySessionStore()
  const accountId = toAccountId(crypto.randomUUID())
  const login = h.connector.createLogin(toLoginFlowId('token'), {
    accountId,
    session,
    signal: new AbortController().signal,
  })
  const done = await driveLogin(login, await login.start(), account)
  const client = h.connector.loadAccount({
    id: accountId,
    remoteId: done.account.remoteId,
    credentials: done.account.credentials ?? null,
    session,
  }) as MaxClient
  return { client, token: account.token!, done }
}

const readAll = async (stream: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(stream).arrayBuffer())

describe('max client: own profile (I1)', () => {
  test('I1: GET /me gives the name the login stored, no phone, and a small photo that streams', async () => {
    const { client, done } = await loggedIn()
    expect(readsOwnProfile(client)).toBe(true)
    const profile = await client.readOwnProfile()
    expect(profile).toEqual({
      userId: done.account.remoteId,
      firstName: 'Olchat test bot',
      displayName: done.account.displayName,
      username: done.account.username,
      avatarRef: expect.any(String),
    })
    expect(profile.displayName).toBe('Olchat test bot')
    const photo = await client.openOwnAvatar()
    expect(photo?.mimeType).toBe('image/png')
    // The emulator's photo is a 1×1 PNG.
    expect([...(await readAll(photo!.stream)).subarray(1, 4)]).toEqual([...Buffer.from('PNG')])
  })

  test('I1: the owner renames the bot and sets a new photo: a new name and a new ref; no photo: none', async () => {
    const { client, token } = await loggedIn()
    const before = await client.readOwnProfile()
    h.emulator.ownerEditsBot(token, { name: 'Support desk', photo: 'new' })
    const after = await client.readOwnProfile()
    expect(after).toMatchObject({ firstName: 'Support desk', displayName: 'Support desk' })
    expect(after.avatarRef).toBeString()
    expect(after.avatarRef).not.toBe(before.avatarRef)
    // Unchanged: the same ref, so the core fetches nothing again.
    expect((await client.readOwnProfile()).avatarRef).toBe(after.avatarRef)
    h.emulator.ownerEditsBot(token, { photo: 'none' })
    expect((await client.readOwnProfile()).avatarRef).toBeUndefined()
    expect(await client.openOwnAvatar()).toBeNull()
  })

  test('a revoked token is a lost login', async () => {
    const { client, token } = await loggedIn()
    h.emulator.faults.revokeToken(token)
    await expect(client.readOwnProfile()).rejects.toBeInstanceOf(NeedsLoginError)
  })
})
