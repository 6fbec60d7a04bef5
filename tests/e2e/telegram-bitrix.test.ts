/**
 * Telegram ⇄ Olchat ⇄ Bitrix24, in one process: Telegram has no emulator process, so a real mtcute
 * `TelegramClient` runs over the stub world (tests/support/telegram-stub*.ts), logged in through the
 * connector's phone flow with its session in the real tables. Everything after it is production's: the
 * account's `RelayService` (inbound events → deliveries, operator deliveries → the client), the
 * `PortalSender` with the real REST client against the Bitrix24 emulator over HTTP, and Olchat's own HTTP
 * routes — install, events (form-encoded, stored in the inbox, acted on by the inbox worker), placement,
 * signed file downloads — served on a loopback port the emulator calls. The emulator installs the app,
 * binds the account to a line through the settings placement, downloads every relayed file inside the call,
 * and its operators post, edit and delete. Verdicts come from the emulator's state and counters and from the
 * RPC calls the stub recorded and the messages its world holds.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { Long, type tl } from '@mtcute/core'
import type { Server } from 'bun'
import { syncAccountContacts } from '../../src/accounts/contact-sync.ts'
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import {
  type BitrixAppDeps,
  createBitrixRoutes,
  type InboxWorker,
  startInboxWorker,
} from '../../src/bitrix/app/index.ts'
import { BitrixClient, callWithToken } from '../../src/bitrix/client/rest-client.ts'
import { connectors } from '../../src/bitrix/connectors.ts'
import { PortalSender } from '../../src/bitrix/portal-sender/portal-sender.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { RemoteEvent } from '../../src/bridge/remote-event.ts'
import type { TelegramClientAdapter } from '../../src/connectors/telegram/client.ts'
import { createApp } from '../../src/http/app.ts'
import { createFileRoutes } from '../../src/http/files-route.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { RelayService } from '../../src/relay/relay-service.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { LocalFileStore } from '../../storage/files/local-file-store.ts'
import type { Account } from '../../storage/repos/accounts.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { telegramHarness } from '../connectors/telegram/harness.ts'
import {
  type Bitrix24Emulator,
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  startBitrix24Emulator,
} from '../emulators/bitrix24/index.ts'
import { rawText, repositories, secrets } from '../storage/fixtures.ts'
import type { CustomerMedia } from '../support/telegram-stub-chats.ts'
import type { WorldMessage, WorldUser } from '../support/telegram-stub-world.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

const TELEGRAM = connectors.telegram.id
const phone = `7988${String(process.pid % 1000).padStart(3, '0')}5500`

let db: TestDatabase
let repos: Repositories
let dir: string
let files: LocalFileStore
let cache: MemoryCache
let server: Server<undefined>
let base: string
let emu: Bitrix24Emulator
let worker: InboxWorker
let sender: PortalSender
let relay: RelayService
let client: TelegramClientAdapter
let account: Account
let line: number
const logs: string[] = []
const events: RemoteEvent[] = []
const h = { harness: undefined as unknown as ReturnType<typeof telegramHarness> }
const figures: Record<string, unknown> = {}

// ---- the emulator's view -------------------------------------------------------------------------------

interface PortalMessage {
  id: number
  author: string
  authorId: number
  sending: boolean
  text: string
  files: { url: string; name: string }[]
  connectorMid: string[] | null
  edited: boolean
  deleted: boolean
}
interface PortalChat {
  id: number
  connector: string
  externalChatId: string
  title: string
  messages: PortalMessage[]
}
interface PortalFile {
  url: string
  name: string | null
  size: number
  sha256: string | null
  status: string
  purpose: string
}
interface PortalState {
  chats: PortalChat[]
  files: PortalFile[]
  externalUsers: {
    externalId: string
    name: string
    lastName: string
    connector: string
    picture: PortalFile | null
  }[]
}
const state = () => emu.state() as unknown as PortalState
const chatOf = (user: WorldUser) =>
  state().chats.find((c) => c.connector === TELEGRAM && c.externalChatId === String(user.id))
const byMid = (user: WorldUser, id: number) =>
  chatOf(user)?.messages.find((m) => m.author === 'client' && m.connectorMid?.includes(String(id)))
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const methodCount = (method: string) =>
  (emu.stats() as { byMethod: Record<string, number> }).byMethod[method] ?? 0

/** The portal message relaying Telegram message `id`, once it is there. */
function relayed(user: WorldUser, id: number, ok: (m: PortalMessage) => boolean = () => true) {
  return until(`message ${id} on the portal`, async () => {
    const message = byMid(user, id)
    return message && ok(message) ? message : undefined
  })
}

// ---- Telegram's view ------------------------------------------------------------------------------------

const calls = (method: string) =>
  h.harness.stubs.flatMap((s) => s.calls).filter((c): c is tl.RpcMethod => c._ === method)
const outgoing = (user: WorldUser) => h.harness.world.chat(phone, user.id).filter((m) => m.out)
/** Each entity as [kind, the text it covers]. */
const entityTexts = (message: WorldMessage) =>
  (message.entities ?? []).map((e) => [
    e._,
    message.text.slice(e.offset, e.offset + e.length),
    ...(e._ === 'messageEntityTextUrl' ? [e.url] : []),
  ])

/** Every event the emulator queued reached Olchat and the inbox worker finished with it. */
async function settleEvents() {
  await emu.waitForEvents()
  await until('the inbox drained', async () => {
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from inbound_events where status = 'pending'`
    worker.wake()
    return row!.n === 0 ? true : undefined
  })
}

function bytes(size: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 13 + seed) % 256)
}

/** Anna's small profile photo (issue 5), given to her before the contact sync. */
const avatarBytes = bytes(3_000, 42)

beforeAll(async () => {
  db = await createTestDatabase()
  repos = repositories(db.sql)
  dir = await mkdtemp(join(tmpdir(), 'olchat-telegram-e2e-'))
  cache = new MemoryCache()
  const log = createLogger({
    level: 'warn',
    destination: new Writable({
      write(chunk, _encoding, done) {
        logs.push(chunk.toString())
        done()
      },
    }),
  })
  // The listener first: the file store's links and the install's handler URLs name its port.
  let fetchApp: (req: Request) => Response | Promise<Response> = () =>
    new Response('starting', { status: 503 })
  server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => fetchApp(req) })
  base = `http://127.0.0.1:${server.port}`
  files = new LocalFileStore({ dir, baseUrl: base, signingKey: secrets.deriveKey('telegram e2e files') })
  emu = await startBitrix24Emulator({ eventDelayMs: 0 })
  const api = new BitrixClient({
    portals: repos.portals,
    cache,
    app: { clientId: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET },
    allowHttp: true,
    logger: log,
  })
  sender = new PortalSender({ sql: db.sql, repos, api, files, log, options: { fileUrlTtlSeconds: 600 } })
  const bitrix: BitrixAppDeps = {
    sql: db.sql,
    repos,
    inbox: repos.inboundEvents,
    api,
    callWithToken,
    keys: secrets,
    cache,
    files,
    log,
    config: { publicUrl: base, allowHttpPortals: true, clientId: DEFAULT_CLIENT_ID },
    onEventStored: () => worker?.wake(),
    // What the process's wake-up does for an account that runs here: its relay drains now.
    onDeliveriesQueued: () => relay?.wake(),
  }
  const app = createApp({
    log,
    metrics: createMetrics('test'),
    checks: [],
    isDraining: () => false,
    routes: [createBitrixRoutes(bitrix), createFileRoutes(files)],
  })
  fetchApp = (req) => app.fetch(req)
  worker = startInboxWorker(bitrix, { intervalMs: 50 })
  sender.start()
  h.harness = telegramHarness(repos)
}, 30_000)

afterAll(async () => {
  console.log('telegram ⇄ Bitrix24 e2e figures', JSON.stringify(figures))
  await relay?.stop()
  await client?.disconnect()
  await sender?.stop()
  await worker?.stop()
  server?.stop(true)
  await emu?.stop()
  await cache?.close()
  await db?.drop()
  await rm(dir, { recursive: true, force: true })
})

describe('Telegram (stub) ⇄ relay ⇄ Bitrix24 emulator', () => {
  test('install, a Telegram login through the connector, the account bound to a line by the placement, online', async () => {
    const install = await emu.install({ appUrl: `${base}/bitrix/install`, eventUrl: `${base}/bitrix/events` })
    expect(install.page?.status).toBe(200)
    expect(install.finished).toBe(true)
    await settleEvents()
    const portal = await repos.portals.getByMemberId(emu.info().memberId)
    expect(portal.status).toBe('active')

    const world = h.harness.world
    world.addAccount({ firstName: 'Shop', phone })
    const row = await repos.accounts.create({
      portalId: portal.id,
      messenger: 'telegram',
      health: 'disconnected',
    })
    const session = accountSessionStore(repos.accountSessions, row.id)
    const login = h.harness.connector.createLogin(toLoginFlowId('phone'), {
      accountId: toAccountId(row.id),
      session,
      signal: new AbortController().signal,
    })
    let step = await login.start()
    step = await login.submit({ phone })
    step = await login.submit({ code: world.codes.get(phone)!.code })
    expect(step.type).toBe('complete')
    if (step.type !== 'complete') return
    await repos.accounts.updateProfile(row.id, {
      remoteId: step.account.remoteId,
      displayName: 'Shop',
      phone,
    })

    const added = await emu.addLine({ name: 'Telegram' })
    line = added.id
    const page = await emu.openPlacement({ connector: TELEGRAM, line })
    expect(page.status).toBe(200)
    const placementSession = /name="session" value="([^"]+)"/.exec(page.body)![1]!
    const bound = await fetch(`${base}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session: placementSession, action: 'bind', account: row.id }),
    })
    expect(bound.status).toBe(200)
    account = await repos.accounts.get(row.id)
    expect(account.lineId).not.toBeNull()
    const status = (emu.state() as { statuses: { connector: string; line: number; STATUS: boolean }[] })
      .statuses
    expect(status.find((s) => s.connector === TELEGRAM && s.line === line)?.STATUS).toBe(true)

    // What the account runtime does with a started account: load the client, put a relay on it, connect.
    client = h.harness.connector.loadAccount({
      id: toAccountId(row.id),
      remoteId: step.account.remoteId,
      credentials: null,
      session,
    })
    client.onEvent((event) => events.push(event))
    relay = new RelayService({
      sql: db.sql,
      repos,
      files,
      client,
      account,
      notifySender: (accountId) => sender.notify(accountId),
      options: { pollIntervalMs: 1000 },
    })
    relay.start()
    await client.connect()
    expect(events.at(-1)).toMatchObject({ type: 'connection', state: 'connected' })
  }, 30_000)

  const anna = () => h.harness.world.users.get(annaId)!
  let annaId = 0

  test('a private text with formatting arrives as BB-codes in the chat of the customer, named', async () => {
    const world = h.harness.world
    annaId = world.addUser({
      firstName: 'Анна',
      lastName: 'Петрова',
      username: 'anna_p',
      phone: '79161234567',
    }).id
    const text = 'Здравствуйте bold italic link code'
    const started = performance.now()
    const sent = world.customerSends(phone, anna(), text, {
      entities: [
        { _: 'messageEntityBold', offset: 13, length: 4 },
        { _: 'messageEntityItalic', offset: 18, length: 6 },
        { _: 'messageEntityTextUrl', offset: 25, length: 4, url: 'https://example.com/a' },
        { _: 'messageEntityCode', offset: 30, length: 4 },
      ],
    })
    const message = await relayed(anna(), sent.id)
    figures.textToPortalMs = Math.round(performance.now() - started)
    expect(message.text).toBe(
      'Здравствуйте [b]bold[/b] [i]italic[/i] [url=https://example.com/a]link[/url] [code]code[/code]',
    )
    const user = state().externalUsers.find(
      (u) => u.connector === TELEGRAM && u.externalId === String(annaId),
    )
    expect(user).toMatchObject({ name: 'Анна', lastName: 'Петрова' })
    expect(chatOf(anna())!.title).toBe('Анна Петрова')
  }, 30_000)

  test('photo, document, voice and sticker: the portal downloads each inside the call, bytes exact', async () => {
    const world = h.harness.world
    const media: { media: CustomerMedia; name: string; text: string }[] = [
      { media: { kind: 'photo', bytes: bytes(120_000, 1) }, name: 'photo.jpg', text: 'a photo' },
      {
        media: { kind: 'document', bytes: bytes(300_001, 2), name: 'scan.pdf', mimeType: 'application/pdf' },
        name: 'scan.pdf',
        text: '',
      },
      { media: { kind: 'voice', bytes: bytes(20_000, 3), duration: 3 }, name: 'voice.ogg', text: '' },
      { media: { kind: 'sticker', bytes: bytes(9_000, 4), emoji: '😀' }, name: 'sticker.webp', text: '' },
    ]
    const bodyOf = (m: CustomerMedia) => ('bytes' in m ? m.bytes : new Uint8Array())
    const downloadedBefore = (emu.stats() as { filesDownloaded: number }).filesDownloaded
    const ids = media.map(({ media, text }) => world.customerSends(phone, anna(), text, { media }).id)
    const messages = await Promise.all(ids.map((id) => relayed(anna(), id)))
    const portalFiles = state().files
    for (const [i, message] of messages.entries()) {
      expect(message.files).toHaveLength(1)
      const file = portalFiles.find((f) => f.url === message.files[0]!.url)!
      expect({ status: file.status, name: file.name, size: file.size, sha: file.sha256 }).toEqual({
        status: 'downloaded',
        name: media[i]!.name,
        size: bodyOf(media[i]!.media).length,
        sha: sha256(bodyOf(media[i]!.media)),
      })
    }
    expect(messages[0]!.text).toBe('a photo')
    const stats = emu.stats() as { filesDownloaded: number; filesFailed: number }
    figures.portalFiles = { downloaded: stats.filesDownloaded - downloadedBefore, failed: stats.filesFailed }
    expect(stats.filesFailed).toBe(0)
  }, 30_000)

  test('a location and a contact card arrive as readable text with a link', async () => {
    const world = h.harness.world
    const place = world.customerSends(phone, anna(), '', {
      media: { kind: 'location', latitude: 55.7558, longitude: 37.6173 },
    })
    const card = world.customerSends(phone, anna(), '', {
      media: { kind: 'contact', phone: '79990001122', firstName: 'Bob', lastName: 'Jones' },
    })
    const where = await relayed(anna(), place.id)
    const who = await relayed(anna(), card.id)
    expect(where.text).toContain('55.7558, 37.6173')
    expect(where.text).toContain('https://www.openstreetmap.org/?mlat=55.7558&mlon=37.6173')
    expect(who.text).toContain('Bob Jones, +79990001122')
    expect(who.text).toContain('tel:+79990001122')
  }, 30_000)

  test('group, channel and bot messages never reach the portal', async () => {
    const world = h.harness.world
    const chatsBefore = state().chats.length
    const sendsBefore = methodCount('imconnector.send.messages')
    const stranger = world.addUser({ firstName: 'Grace', lastName: 'Group' })
    const bot = world.addUser({ firstName: 'Helper', bot: true })
    world.groupMessage(phone, stranger, 4242, 'group chatter')
    world.channelPost(phone, 5151, 'channel news')
    world.customerSends(phone, bot, 'bot says hi')
    const marker = world.customerSends(phone, anna(), 'after the noise')
    await relayed(anna(), marker.id)
    expect(state().chats.length).toBe(chatsBefore)
    const texts = state().chats.flatMap((c) => c.messages.map((m) => m.text))
    expect(texts.some((t) => /group chatter|channel news|bot says hi/.test(t))).toBe(false)
    expect(methodCount('imconnector.send.messages') - sendsBefore).toBe(1)
  }, 30_000)

  test('operator text with BB-codes → messages.sendMessage with entities; the portal gets the message id', async () => {
    const chat = chatOf(anna())!
    const sendsBefore = calls('messages.sendMessage').length
    const started = performance.now()
    const posted = await emu.postOperatorMessage({
      chatId: chat.id,
      text: 'Заказ [b]готов[/b], [i]курьер[/i] в пути: [url=https://example.com/track]трек[/url]',
    })
    expect(posted.deliveries.every((d) => d.ok)).toBe(true)
    const [sent] = await until('the operator text in Telegram', async () => {
      const out = outgoing(anna()).filter((m) => !m.media)
      return out.length > 0 ? out : undefined
    })
    figures.operatorToTelegramMs = Math.round(performance.now() - started)
    expect(sent!.text).toContain('Заказ готов, курьер в пути: трек')
    // The operator signature (NEED_SIGNATURE) is a bold first line.
    expect(sent!.text.startsWith('Klaus Weber:')).toBe(true)
    expect(entityTexts(sent!)).toEqual(
      expect.arrayContaining([
        ['messageEntityBold', 'Klaus Weber:'],
        ['messageEntityBold', 'готов'],
        ['messageEntityItalic', 'курьер'],
        ['messageEntityTextUrl', 'трек', 'https://example.com/track'],
      ]),
    )
    const raw = calls('messages.sendMessage').slice(sendsBefore) as tl.messages.RawSendMessageRequest[]
    expect(raw).toHaveLength(1)
    expect(raw[0]!.randomId.isZero()).toBe(false)
    const mid = await until('CONNECTOR_MID on the portal', async () => {
      const message = chatOf(anna())?.messages.find((m) => m.id === posted.messageId)
      return message?.connectorMid?.length ? message.connectorMid : undefined
    })
    expect(mid).toEqual([String(sent!.id)])
    // The operator answered: the customer's messages are marked read in Telegram.
    const reads = await until('messages.readHistory', async () => {
      const made = calls('messages.readHistory') as tl.messages.RawReadHistoryRequest[]
      return made.length > 0 ? made : undefined
    })
    expect(reads.at(-1)!.maxId).toBeGreaterThan(0)
  }, 30_000)

  test('operator file → uploaded in parts and sent as media; the customer gets the exact bytes', async () => {
    const chat = chatOf(anna())!
    const body = Buffer.from(bytes(700_000, 9))
    const posted = await emu.postOperatorMessage({
      chatId: chat.id,
      files: [{ name: 'invoice.pdf', mime: 'application/pdf', base64: body.toString('base64') }],
    })
    expect(posted.deliveries.every((d) => d.ok)).toBe(true)
    const [withFile] = await until('the file in Telegram', async () => {
      const out = outgoing(anna()).filter((m) => m.media)
      return out.length > 0 ? out : undefined
    })
    const media = withFile!.media as tl.RawMessageMediaDocument
    const document = media.document as tl.RawDocument
    const stored = h.harness.world.files.get(document.id.toString())!
    expect(stored.name).toBe('invoice.pdf')
    expect(stored.mimeType).toBe('application/pdf')
    expect(sha256(stored.bytes)).toBe(sha256(body))
    expect(calls('messages.sendMedia')).toHaveLength(1)
    const parts = calls('upload.saveFilePart').length + calls('upload.saveBigFilePart').length
    expect(parts).toBeGreaterThanOrEqual(2)
    figures.operatorFileParts = parts
    await until('CONNECTOR_MID of the file message', async () => {
      const message = chatOf(anna())?.messages.find((m) => m.id === posted.messageId)
      return message?.connectorMid?.[0] === String(withFile!.id) ? true : undefined
    })
  }, 30_000)

  test('operator edit and delete → messages.editMessage and messages.deleteMessages of that message', async () => {
    const operatorMessage = chatOf(anna())!.messages.find(
      (m) => m.author === 'operator' && m.files.length === 0,
    )!
    const telegramId = Number(operatorMessage.connectorMid![0])
    const edit = await emu.editOperatorMessage({
      messageId: operatorMessage.id,
      text: 'Заказ [b]доставлен[/b]',
    })
    expect(edit.emitted).toBe(true)
    const edited = await until('the edit in Telegram', async () => {
      const message = h.harness.world.account(phone).messages.get(telegramId)
      return message?.editDate && message.text.includes('Заказ доставлен') ? message : undefined
    })
    expect(entityTexts(edited)).toEqual(expect.arrayContaining([['messageEntityBold', 'доставлен']]))
    const editCall = calls('messages.editMessage').at(-1) as tl.messages.RawEditMessageRequest
    expect(editCall.id).toBe(telegramId)
    const removal = await emu.deleteOperatorMessage({ messageId: operatorMessage.id })
    expect(removal.emitted).toBe(true)
    await until('the deletion in Telegram', async () =>
      h.harness.world.account(phone).messages.get(telegramId)?.deleted ? true : undefined,
    )
    const deleteCall = calls('messages.deleteMessages').at(-1) as tl.messages.RawDeleteMessagesRequest
    expect(deleteCall.id).toEqual([telegramId])
    expect(deleteCall.revoke).toBe(true)
  }, 30_000)

  test('customer edit, delete and read receipt reach the portal', async () => {
    const world = h.harness.world
    const typo = world.customerSends(phone, anna(), 'typo in hre')
    await relayed(anna(), typo.id)
    world.customerEdits(phone, typo.id, 'typo fixed here')
    const edited = await relayed(anna(), typo.id, (m) => m.edited)
    expect(edited.text).toBe('typo fixed here')
    world.customerDeletes(phone, [typo.id])
    await relayed(anna(), typo.id, (m) => m.deleted)
    const readsBefore = methodCount('imconnector.send.status.reading')
    world.customerReads(phone, anna())
    await until('imconnector.send.status.reading', async () =>
      methodCount('imconnector.send.status.reading') > readsBefore ? true : undefined,
    )
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from deliveries where kind = 'read' and status = 'done'`
    expect(row!.n).toBe(1)
  }, 30_000)

  test('I2: a contact sync over the same client keeps the customer the relay met, named, with the phone sealed', async () => {
    anna().avatar = { photoId: Long.fromNumber(9001), bytes: avatarBytes }
    const result = await syncAccountContacts({ sql: db.sql, repos, files }, account, client)
    expect(result).toMatchObject({ contacts: 1, invalid: 0, stale: 0, avatarsStored: 1 })
    const [contact] = await repos.contacts.list(account.id)
    expect(contact).toMatchObject({
      remoteId: String(annaId),
      firstName: 'Анна',
      lastName: 'Петрова',
      username: 'anna_p',
      phone: '+79161234567',
      staleAt: null,
    })
    expect(await rawText(db.sql, 'contacts')).not.toContain('9161234567')
    // The chat the relay mapped still points at this contact.
    const chat = await repos.chats.getByRemote(account.id, String(annaId))
    expect(chat?.contactId).toBe(contact!.id)
  }, 30_000)

  test('issue 5: the synced avatar reaches the portal with the next message; the portal fetched it once', async () => {
    const world = h.harness.world
    const avatarsOnPortal = () => state().files.filter((f) => f.purpose === 'avatar')
    const before = avatarsOnPortal().length
    await relayed(anna(), world.customerSends(phone, anna(), 'with my photo').id)
    const user = state().externalUsers.find(
      (u) => u.connector === TELEGRAM && u.externalId === String(annaId),
    )
    expect(user?.picture).toMatchObject({
      status: 'downloaded',
      size: avatarBytes.length,
      sha256: sha256(avatarBytes),
    })
    await relayed(anna(), world.customerSends(phone, anna(), 'same photo').id)
    expect(avatarsOnPortal().length - before).toBe(1)
  }, 30_000)

  test("issue 5: typed on the owner's phone → the employee's message in the chat; its echo is not sent back", async () => {
    await repos.accounts.setEmployee(account.id, '27')
    const sendsBefore = calls('messages.sendMessage').length + calls('messages.sendMedia').length
    const typed = h.harness.world.ownerSends(phone, anna(), 'typed on the phone')
    const shown = await until('the owner’s message on the portal', async () =>
      chatOf(anna())?.messages.find((m) => m.connectorMid?.includes(String(typed.id))),
    )
    expect(shown).toMatchObject({ author: 'employee', authorId: 27, text: 'typed on the phone' })
    // The echo reached Olchat and was answered with a delivery status, not sent to Telegram.
    await settleEvents()
    await until('the echo answered', async () =>
      chatOf(anna())?.messages.find((m) => m.id === shown.id)?.sending === false ? true : undefined,
    )
    expect(calls('messages.sendMessage').length + calls('messages.sendMedia').length).toBe(sendsBefore)
    await repos.accounts.setEmployee(account.id, null)
  }, 30_000)

  test('afterwards: every delivery done, no body, no relayed file left, no event failed, nothing logged as an error', async () => {
    await until('every delivery done', async () => {
      const [row] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from deliveries where status <> 'done'`
      return row!.n === 0 ? true : undefined
    })
    const [bodies] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from deliveries where payload_enc is not null`
    expect(bodies!.n).toBe(0)
    const counts = await db.sql<{ direction: string; kind: string; n: number }[]>`
      select direction, kind, count(*)::int as n from deliveries group by 1, 2 order by 1, 2`
    figures.deliveries = Object.fromEntries(counts.map((c) => [`${c.direction}/${c.kind}`, c.n]))
    // R8: the portal fetched every relayed file inside its call; none is left in object storage. The
    // customer's avatar stays: it is contact data (I2: R2, R6), not a relayed file.
    const left: string[] = []
    for await (const object of files.listExpired(new Date(8.64e15), 'p/')) left.push(object.key)
    const [contact] = await repos.contacts.list(account.id)
    expect(left).toEqual([contact!.avatarKey!])
    const stats = emu.stats() as { eventsFailed: number; status503: number; requests: number }
    figures.portalRequests = stats.requests
    expect(stats.eventsFailed).toBe(0)
    figures.warnings = logs
      .filter((line) => /"level":"warn"/.test(line))
      .map((line) => (JSON.parse(line) as { msg: string }).msg)
    const errors = logs.filter((line) => /"level":"(error|fatal)"/.test(line))
    expect(errors).toEqual([])
  }, 30_000)
})
