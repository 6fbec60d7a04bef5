/**
 * Conformance of the Telegram stub world (`tests/support/telegram-stub*.ts`) on its own: plain mtcute
 * `TelegramClient`s over it, no Olchat connector code. Each case checks one rule the world claims from the
 * reference (`telegram-mtcute.md`, section in the test name), so the connector suites rest on a model of
 * Telegram rather than on one shaped to fit Olchat.
 */
import { describe, expect, test } from 'bun:test'
import { Long, MemoryStorage, type Message, MtTimeoutError, tl } from '@mtcute/core'
import { TelegramClient } from '@mtcute/core/client.js'
import { TelegramStub } from '../../support/telegram-stub.ts'
import { TelegramStubWorld } from '../../support/telegram-stub-world.ts'

let phones = 0
const nextPhone = () => `7966${String(++phones).padStart(7, '0')}`

function client(world: TelegramStubWorld, storage = new MemoryStorage()) {
  const stub = world.attach(new TelegramStub({ storage, updates: true }))
  return { stub, tg: new TelegramClient({ client: stub }), storage }
}

async function signedIn(world: TelegramStubWorld) {
  const phone = nextPhone()
  const account = world.addAccount({ firstName: 'Owner', phone })
  const c = client(world)
  const sent = await c.tg.sendCode({ phone })
  if (!('phoneCodeHash' in sent)) throw new Error('no code')
  await c.tg.signIn({ phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: world.codes.get(phone)!.code })
  // mtcute starts its updates loop after sign-in; it takes Telegram's state first (§2.4).
  while (!c.stub.callNames().includes('updates.getDifference')) await Bun.sleep(5)
  return { ...c, phone, account }
}

const rpcText = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (tl.RpcError.is(e) ? `${e.code} ${e.text}` : String(e)),
  )

describe('telegram stub world', () => {
  test('§1.5/§2.6: a login binds the auth key; the same stored key is the same login; revoked → 401', async () => {
    const world = new TelegramStubWorld()
    const { tg, storage, phone, account } = await signedIn(world)
    await tg.destroy()
    const again = client(world, storage)
    expect((await again.tg.getMe()).id).toBe(account.user.id)
    const stranger = client(world)
    expect(await rpcText(stranger.tg.getMe())).toBe('401 AUTH_KEY_UNREGISTERED')
    world.revokeSessions(phone)
    expect(await rpcText(again.tg.getMe())).toBe('401 AUTH_KEY_UNREGISTERED')
    await Promise.all([again.tg.destroy(), stranger.tg.destroy()])
  })

  test('§1.5: one key on two live connections is killed for both (406 AUTH_KEY_DUPLICATED)', async () => {
    const world = new TelegramStubWorld()
    const { tg, storage, account } = await signedIn(world)
    const twin = client(world, storage)
    expect(await rpcText(twin.tg.getMe())).toBe('406 AUTH_KEY_DUPLICATED')
    expect(await rpcText(tg.getMe())).toBe('406 AUTH_KEY_DUPLICATED')
    expect(account.duplicatedSessions).toBe(1)
    await Promise.all([tg.destroy(), twin.tg.destroy()])
  })

  test('§2.2: wrong code, 2FA with hint, wrong password', async () => {
    const world = new TelegramStubWorld()
    const phone = nextPhone()
    world.addAccount({ firstName: 'Secure', phone, password: 'pw', hint: 'two letters' })
    const { tg } = client(world)
    const sent = await tg.sendCode({ phone })
    if (!('phoneCodeHash' in sent)) throw new Error('no code')
    const signIn = (code: string) => tg.signIn({ phone, phoneCodeHash: sent.phoneCodeHash, phoneCode: code })
    expect(await rpcText(signIn('00000'))).toBe('400 PHONE_CODE_INVALID')
    expect(await rpcText(signIn(world.codes.get(phone)!.code))).toBe('401 SESSION_PASSWORD_NEEDED')
    expect(await tg.getPasswordHint()).toBe('two letters')
    expect(await rpcText(tg.checkPassword('nope'))).toBe('400 PASSWORD_HASH_INVALID')
    expect((await tg.checkPassword('pw')).firstName).toBe('Secure')
    await tg.destroy()
  })

  test('§3: private, group and channel messages are pushed and parse; the sender never gets its own', async () => {
    const world = new TelegramStubWorld()
    const { tg, phone } = await signedIn(world)
    const seen: Message[] = []
    tg.onNewMessage.add((m) => seen.push(m))
    const alice = world.addUser({ firstName: 'Alice' })
    world.customerSends(phone, alice, 'private')
    world.groupMessage(phone, alice, 77, 'group')
    world.channelPost(phone, 88, 'channel')
    await Bun.sleep(200)
    // Channels keep their own pts sequence: no order across sequences.
    const kinds = seen.map((m) => `${m.text}:${m.chat.type === 'chat' ? m.chat.chatType : 'user'}`)
    expect(kinds.sort()).toEqual(['channel:channel', 'group:group', 'private:user'])
    await tg.sendText(alice.id, 'mine')
    await Bun.sleep(100)
    expect(seen.map((m) => m.text)).not.toContain('mine')
    await tg.destroy()
  })

  test('§3.4: getDifference replays what a client missed while it was away', async () => {
    const world = new TelegramStubWorld()
    const { tg, storage, phone } = await signedIn(world)
    const state = await tg.call({ _: 'updates.getState' })
    await tg.destroy()
    const alice = world.addUser({ firstName: 'Alice' })
    world.customerSends(phone, alice, 'missed')
    const back = client(world, storage)
    const diff = await back.tg.call({ _: 'updates.getDifference', pts: state.pts, qts: 0, date: state.date })
    expect(diff._).toBe('updates.difference')
    if (diff._ === 'updates.difference') {
      expect(diff.newMessages.map((m) => (m._ === 'message' ? m.message : ''))).toEqual(['missed'])
      expect(diff.state.pts).toBe(state.pts + 1)
    }
    await back.tg.destroy()
  })

  test('§4: random_id repeats are refused (500), long texts too (400); deletes and reads report their pts', async () => {
    const world = new TelegramStubWorld()
    const { tg, phone } = await signedIn(world)
    const alice = world.addUser({ firstName: 'Alice' })
    world.account(phone).contacts.add(alice.id)
    const peer = await tg.resolvePeer(alice.id)
    const send = (message: string, randomId: Long) =>
      tg.call({ _: 'messages.sendMessage', peer, message, randomId })
    const first = await send('hello', Long.fromNumber(1))
    expect(first._).toBe('updateShortSentMessage')
    expect(await rpcText(send('hello', Long.fromNumber(1)))).toBe('500 RANDOM_ID_DUPLICATE')
    expect(await rpcText(send('x'.repeat(4097), Long.fromNumber(2)))).toBe('400 MESSAGE_TOO_LONG')
    const id = first._ === 'updateShortSentMessage' ? first.id : 0
    const deleted = await tg.call({ _: 'messages.deleteMessages', id: [id], revoke: true })
    expect(deleted).toMatchObject({ ptsCount: 1 })
    expect(await tg.call({ _: 'messages.deleteMessages', id: [id], revoke: true })).toMatchObject({
      ptsCount: 0,
    })
    expect(world.chat(phone, alice.id)).toMatchObject([{ id, out: true, deleted: true }])
    await tg.destroy()
  })

  test('§4/§5: an upload in parts becomes a document that downloads with the same bytes', async () => {
    const world = new TelegramStubWorld()
    const { tg, phone } = await signedIn(world)
    const alice = world.addUser({ firstName: 'Alice' })
    world.account(phone).contacts.add(alice.id)
    const body = Uint8Array.from({ length: 700_000 }, (_, i) => i % 251)
    const sent = await tg.sendMedia(alice.id, {
      type: 'document',
      file: body,
      fileName: 'a.bin',
      fileMime: 'x/y',
    })
    expect(sent.media?.type).toBe('document')
    expect(await tg.downloadAsBuffer(sent.media as never)).toEqual(body)
    await tg.destroy()
  })

  test('faults: a lost answer times out, before or after Telegram did the work', async () => {
    const world = new TelegramStubWorld()
    const { tg, phone } = await signedIn(world)
    const alice = world.addUser({ firstName: 'Alice' })
    world.account(phone).contacts.add(alice.id)
    const peer = await tg.resolvePeer(alice.id)
    world.loseNext('before', 'messages.sendMessage')
    const before = tg.call({ _: 'messages.sendMessage', peer, message: 'a', randomId: Long.fromNumber(5) })
    expect(await before.catch((e) => e)).toBeInstanceOf(MtTimeoutError)
    world.loseNext('after', 'messages.sendMessage')
    const after = tg.call({ _: 'messages.sendMessage', peer, message: 'b', randomId: Long.fromNumber(6) })
    expect(await after.catch((e) => e)).toBeInstanceOf(MtTimeoutError)
    expect(world.chat(phone, alice.id).map((m) => m.text)).toEqual(['b'])
    await tg.destroy()
  })
})
