/**
 * Three processes over real HTTP, wired as `npm start` wires them: the sandbox messenger, the Bitrix24
 * portal emulator and Olchat with `SANDBOX_URL`. The account is logged in here through the sandbox
 * connector's phone flow and stored sealed with Olchat's key ring; the lease keeper of the Olchat process
 * picks it up and its actor connects. Then both directions: texts, a file, edits and deletions, delivery
 * statuses. Verdicts come from the emulators' own state and counters, and from a scan of every table.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { accountSessionStore } from '../../src/accounts/session-store.ts'
import { toAccountId, toLoginFlowId } from '../../src/bridge/ids.ts'
import type { LoginStep } from '../../src/bridge/login.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/index.ts'
import { generateKey, KeyRing } from '../../src/crypto/key-ring.ts'
import { LEASES_RELEASED_CHANNEL } from '../../storage/notify.ts'
import { createRepositories, type Repositories } from '../../storage/repos/index.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'
import { spawnEmulator } from '../support/emulator-process.ts'
import { freePort } from '../support/free-port.ts'
import { type OlchatProcess, startOlchat } from '../support/olchat-process.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import { until } from '../support/until.ts'

const real = testBackendSet() === 'real'
const clientId = 'app.olchat.sandbox-e2e'
const clientSecret = 'sandbox-e2e-secret-123'
const keyRing = `k1:${generateKey()}`
const phone = '+15550199001'
const tag = `e2e${process.pid}`
/** Every text of the test: none may be left in any table at the end. */
const texts = {
  customer: `Здравствуйте, ${tag} customer text`,
  caption: `${tag} caption of the file`,
  fileBody: `${tag} file body`,
  operator: `${tag} operator answer`,
  operatorEdited: `${tag} operator answer, edited`,
  customerEdited: `Здравствуйте, ${tag} customer text, edited`,
}

let db: TestDatabase
let repos: Repositories
let bitrix: Subprocess<'ignore', 'pipe', 'inherit'>
let sandbox: Subprocess<'ignore', 'pipe', 'inherit'>
let portalControl: string
let sandboxUrl: string
let olchat: OlchatProcess
let olchatUrl: string
let accountId: string
let customerId: number
let sandboxAccountId: number
const figures: Record<string, unknown> = {}

async function call<T>(base: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base.replace(/\/$/, '')}/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}
const portal = <T = Record<string, unknown>>(path: string, body?: unknown) =>
  call<T>(portalControl, path, body)
const sandboxControl = <T = Record<string, unknown>>(path: string, body?: unknown) =>
  call<T>(`${sandboxUrl}/_control`, path, body)

interface ImMessage {
  id: number
  author: string
  text: string
  files: unknown[]
  connectorMid: string[] | null
  edited: boolean
  deleted: boolean
}
interface PortalChat {
  id: number
  connector: string
  externalChatId: string
  messages: ImMessage[]
}
interface SandboxMessage {
  id: number
  out: boolean
  text?: string
  file?: { id: string; name: string }
  deletedBy?: 'account' | 'customer'
  history?: string[]
}

async function portalChat(): Promise<PortalChat | undefined> {
  const state = await portal<{ portals?: Array<{ chats: PortalChat[] }>; chats?: PortalChat[] }>('state')
  const chats = state.portals?.[0]?.chats ?? state.chats ?? []
  return chats.find((c) => c.connector === 'olchat_sandbox')
}

async function sandboxMessages(): Promise<SandboxMessage[]> {
  const state = await sandboxControl<{
    accounts: Array<{ chats: Array<{ chatId: number; messages: SandboxMessage[] }> }>
  }>(`state?account=${sandboxAccountId}`)
  return state.accounts[0]?.chats.find((c) => c.chatId === customerId)?.messages ?? []
}

/** How long `probe` took to come true, in ms (a figure). */
async function timed<T>(what: string, probe: () => Promise<T | undefined>): Promise<[T, number]> {
  const started = performance.now()
  const value = await until(what, probe)
  return [value, Math.round(performance.now() - started)]
}

beforeAll(async () => {
  if (!real) return
  db = await createTestDatabase({ migrated: false })
  repos = createRepositories(db.sql, KeyRing.fromText(keyRing))
  const b24 = await spawnEmulator<{ control: string }>([
    'tests/emulators/bitrix24/main.ts',
    '--client-id',
    clientId,
    '--client-secret',
    clientSecret,
  ])
  bitrix = b24.child
  portalControl = b24.info.control
  const sbx = await spawnEmulator<{ url: string }>(['tests/emulators/sandbox/main.ts'])
  sandbox = sbx.child
  sandboxUrl = sbx.info.url

  const port = await freePort()
  olchatUrl = `http://127.0.0.1:${port}`
  olchat = startOlchat({
    PORT: String(port),
    OLCHAT_PUBLIC_URL: olchatUrl,
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl,
    OLCHAT_ENCRYPTION_KEYS: keyRing,
    BITRIX_CLIENT_ID: clientId,
    BITRIX_CLIENT_SECRET: clientSecret,
    OLCHAT_ALLOW_HTTP_PORTALS: 'true',
    SANDBOX_URL: sandboxUrl,
    LOG_LEVEL: 'info',
  })
  await olchat.waitReady(20_000)
}, 40_000)

afterAll(async () => {
  if (!real) return
  const code = await olchat?.stop()
  // A graceful stop releases the lease at once and closes the messenger connection.
  const leases = await db.sql<{ n: number }[]>`
    select count(*)::int as n from account_leases where owner is not null`
  const live = await sandboxControl<{ liveConnections: number }>('stats')
  figures.afterStop = { exitCode: code, heldLeases: leases[0]?.n, liveConnections: live.liveConnections }
  console.log('sandbox ⇄ Bitrix24 e2e figures', JSON.stringify(figures, null, 2))
  for (const child of [bitrix, sandbox]) {
    child?.kill('SIGTERM')
    await child?.exited
  }
  await db.drop()
  expect(code).toBe(0)
  expect(figures.afterStop).toMatchObject({ heldLeases: 0, liveConnections: 0 })
}, 40_000)

describe.skipIf(!real)('sandbox messenger ⇄ Olchat ⇄ Bitrix24 emulator, three processes', () => {
  test('install registers the sandbox connector too', async () => {
    const install = await portal<{ finished: boolean; page: { status: number } }>('install', {
      appUrl: `${olchatUrl}/bitrix/install`,
    })
    expect(install.page.status).toBe(200)
    expect(install.finished).toBe(true)
    const state = await portal<{ portals?: Array<{ connectors: Array<{ id: string }> }> }>('state')
    const connectors = (state.portals?.[0] ?? (state as { connectors: Array<{ id: string }> })).connectors
    expect(connectors.map((c) => c.id)).toContain('olchat_sandbox')
  })

  test('an account logged in through the connector goes online in the Olchat process', async () => {
    const created = await sandboxControl<{ id: number }>('create-account', { phone, name: 'Shop' })
    sandboxAccountId = created.id
    const [portalRow] = await db.sql<{ id: string }[]>`select id from portals`
    // Disconnected until the login completed: the lease keeper leaves such accounts alone.
    const row = await repos.accounts.create({
      portalId: portalRow!.id,
      messenger: 'sandbox',
      health: 'disconnected',
    })
    accountId = row.id
    const connector = new SandboxConnector({ baseUrl: sandboxUrl })
    const login = connector.createLogin(toLoginFlowId('phone'), {
      accountId: toAccountId(row.id),
      session: accountSessionStore(repos.accountSessions, row.id),
      signal: new AbortController().signal,
    })
    let step: LoginStep = await login.start()
    for (let i = 0; i < 4 && step.type === 'user-input'; i++) {
      const input: Record<string, string> = {}
      for (const field of step.fields) {
        if (field.kind === 'phone') input[field.id] = phone
        else if (field.kind === 'code') {
          input[field.id] = (
            await sandboxControl<{ code: string }>(`login-code?phone=${encodeURIComponent(phone)}`)
          ).code
        } else throw new Error(`unexpected login field ${field.id}`)
      }
      step = await login.submit(input)
    }
    expect(step.type).toBe('complete')
    if (step.type !== 'complete') return
    await repos.accounts.updateProfile(row.id, {
      remoteId: step.account.remoteId,
      displayName: step.account.displayName ?? null,
      phone,
    })
    const sealed = await db.sql<{ n: number }[]>`
      select count(*)::int as n from account_sessions where account_id = ${row.id}`
    expect(sealed[0]!.n).toBeGreaterThan(0)
    await repos.accounts.setHealth(row.id, 'connecting')
    // The wake-up an admin API sends after a login: the keeper looks at once instead of at its next round.
    await db.sql.notify(LEASES_RELEASED_CHANNEL, '')

    const [, ms] = await timed('the account online', async () => {
      const account = await repos.accounts.get(row.id)
      return account.health === 'online' ? true : undefined
    })
    figures.onlineAfterMs = ms
    const stats = await sandboxControl<{ liveConnections: number; authKeyDuplicated: number }>('stats')
    expect(stats.liveConnections).toBe(1)
    expect(stats.authKeyDuplicated).toBe(0)
    const lease = await repos.accountLeases.find(row.id)
    expect(lease?.live).toBe(true)
  }, 30_000)

  test('the settings placement binds the account to line 1', async () => {
    const page = await portal<{ status: number; body: string }>('open-placement', {
      connector: 'olchat_sandbox',
      line: 1,
    })
    expect(page.status).toBe(200)
    const session = /name="session" value="([^"]+)"/.exec(page.body)?.[1]
    expect(session).toBeDefined()
    const bound = await fetch(`${olchatUrl}/bitrix/placement`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ session: session!, action: 'bind', account: accountId }),
    })
    expect(bound.status).toBe(200)
    expect((await repos.accounts.get(accountId)).lineId).not.toBeNull()
  })

  test('customer → operator: a text and a file reach the Open Lines chat; the portal fetched the file', async () => {
    const customer = await sandboxControl<{ id: number }>('create-customer', { name: 'Анна' })
    customerId = customer.id
    const ref = { customer: customerId, account: sandboxAccountId }
    await sandboxControl('customer-send', { ...ref, text: texts.customer })
    await sandboxControl('customer-send', {
      ...ref,
      text: texts.caption,
      file: { name: 'invoice.txt', mime: 'text/plain', text: texts.fileBody },
    })
    const [chat, ms] = await timed('both messages in the portal', async () => {
      const found = await portalChat()
      const client = found?.messages.filter((m) => m.author === 'client') ?? []
      return client.length >= 2 ? found : undefined
    })
    figures.customerToPortalMs = ms
    const client = chat.messages.filter((m) => m.author === 'client')
    expect(client).toHaveLength(2)
    expect(client[0]!.text).toContain(texts.customer)
    expect(client[1]!.text).toContain(texts.caption)
    expect(client[1]!.files).toHaveLength(1)
    const stats = await until('the file downloaded by the portal', async () => {
      const s = await portal<{ filesDownloaded: number; filesFailed: number }>('stats')
      return s.filesDownloaded >= 1 ? s : undefined
    })
    figures.portalFiles = { downloaded: stats.filesDownloaded, failed: stats.filesFailed }
    expect(stats.filesFailed).toBe(0)
  }, 30_000)

  test('operator → customer: the message reaches the sandbox once and is marked delivered', async () => {
    const chat = (await portalChat())!
    const posted = await portal<{ messageId: number; deliveries: Array<{ ok: boolean }> }>(
      'post-operator-message',
      { chatId: chat.id, text: texts.operator },
    )
    expect(posted.deliveries.every((d) => d.ok)).toBe(true)
    const [sent, ms] = await timed('the operator message in the sandbox', async () => {
      const out = (await sandboxMessages()).filter((m) => m.out)
      return out.length > 0 ? out : undefined
    })
    figures.operatorToSandboxMs = ms
    expect(sent).toHaveLength(1)
    expect(sent[0]!.text).toContain(texts.operator)
    const [mid, delivered] = await timed('CONNECTOR_MID set on the portal', async () => {
      const message = (await portalChat())?.messages.find((m) => m.id === posted.messageId)
      return message?.connectorMid?.length ? message.connectorMid : undefined
    })
    figures.deliveryStatusMs = delivered
    expect(mid).toEqual([String(sent[0]!.id)])
    const stats = await sandboxControl<{
      messagesReceived: number
      randomIdHits: number
      repeated: number
      reads: number
    }>('stats')
    const { messagesReceived, randomIdHits, repeated, reads } = stats
    figures.sandboxSends = { messagesReceived, randomIdHits, repeated, reads }
    expect(messagesReceived).toBe(1)
    expect(repeated).toBe(0)
    // The operator answered: the customer's messages are marked read on the messenger.
    expect(reads).toBeGreaterThanOrEqual(1)
  }, 30_000)

  test('operator edit and delete reach the sandbox', async () => {
    const chat = (await portalChat())!
    const operatorMessage = chat.messages.find((m) => m.author === 'operator')!
    await portal('edit-operator-message', { messageId: operatorMessage.id, text: texts.operatorEdited })
    const edited = await until('the edit in the sandbox', async () => {
      const out = (await sandboxMessages()).find((m) => m.out)
      return out?.text?.includes(texts.operatorEdited) ? out : undefined
    })
    expect(edited.history?.length).toBe(1)
    await portal('delete-operator-message', { messageId: operatorMessage.id })
    const deleted = await until('the deletion in the sandbox', async () => {
      const out = (await sandboxMessages()).find((m) => m.out)
      return out?.deletedBy ? out : undefined
    })
    expect(deleted.deletedBy).toBe('account')
    const stats = await sandboxControl<{ edits: number; deletes: number }>('stats')
    figures.sandboxEditsDeletes = { edits: stats.edits, deletes: stats.deletes }
  }, 30_000)

  test('customer edit and delete reach the portal', async () => {
    const first = (await sandboxMessages()).find((m) => !m.out && m.text === texts.customer)!
    const ref = { customer: customerId, account: sandboxAccountId }
    await sandboxControl('customer-edit', { ...ref, messageId: first.id, text: texts.customerEdited })
    await until('the edit on the portal', async () => {
      const message = (await portalChat())?.messages.find((m) => m.connectorMid?.includes(String(first.id)))
      return message?.edited && message.text.includes(texts.customerEdited) ? true : undefined
    })
    await sandboxControl('customer-delete', { ...ref, messageIds: [first.id] })
    await until('the deletion on the portal', async () => {
      const message = (await portalChat())?.messages.find((m) => m.connectorMid?.includes(String(first.id)))
      return message?.deleted ? true : undefined
    })
  }, 30_000)

  test('operator work queued without a wake-up is found by the process-wide poll', async () => {
    // As if another instance queued it and its NOTIFY was lost: only the row, no wake-up at all.
    const [chat] = await db.sql<
      { id: string; accountId: string; remoteChatId: string; portalChatId: string }[]
    >`
      select id, account_id, remote_chat_id, portal_chat_id from chats where portal_chat_id is not null limit 1`
    const text = 'queued without a wake-up'
    await repos.deliveries.enqueue({
      accountId: chat!.accountId,
      chatId: chat!.id,
      direction: 'to_messenger',
      kind: 'message',
      idempotencyKey: `b24:e2e:no-wake:message`,
      payload: {
        im: { chat_id: chat!.portalChatId, message_id: 'no-wake-1' },
        chat: { id: chat!.remoteChatId },
        text,
        format: 'plain',
        files: [],
        remoteIds: [],
      },
    })
    const [, ms] = await timed('the unannounced message in the sandbox', async () => {
      const found = (await sandboxMessages()).find((m) => m.out && m.text?.includes(text))
      return found ? true : undefined
    })
    // Nothing else would ever send it: relays have no timer of their own any more.
    figures.unannouncedWorkMs = ms
  }, 30_000)

  test('after delivery no message body is left in any table', async () => {
    await until('every delivery done', async () => {
      const [row] = await db.sql<{ n: number }[]>`
        select count(*)::int as n from deliveries where status <> 'done'`
      return row!.n === 0 ? true : undefined
    })
    const [bodies] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from deliveries where payload_enc is not null`
    expect(bodies!.n).toBe(0)
    const tables = await db.sql<{ name: string }[]>`
      select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`
    const found: string[] = []
    let rows = 0
    for (const { name } of tables) {
      const dump = await db.sql<{ row: string }[]>`select t::text as row from ${db.sql(name)} t`
      rows += dump.length
      for (const { row } of dump) {
        for (const [key, text] of Object.entries(texts)) if (row.includes(text)) found.push(`${name}: ${key}`)
        if (row.includes(tag)) found.push(`${name}: tag`)
      }
    }
    figures.scan = { tables: tables.length, rows }
    const counts = await db.sql<{ direction: string; kind: string; n: number }[]>`
      select direction, kind, count(*)::int as n from deliveries group by 1, 2 order by 1, 2`
    figures.deliveries = Object.fromEntries(counts.map((c) => [`${c.direction}/${c.kind}`, c.n]))
    expect(found).toEqual([])
    const stats = await portal<{ eventsFailed: number; status503: number }>('stats')
    expect(stats.eventsFailed).toBe(0)
  }, 30_000)
})
