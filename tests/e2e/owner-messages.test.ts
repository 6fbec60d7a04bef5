/**
 * The account owner's own messages, end to end over real HTTP and three processes (as
 * `sandbox-bitrix.test.ts`): the sandbox messenger, the Bitrix24 portal emulator and Olchat. The admin names
 * employee 27 on the settings placement; the owner then types on the phone (`owner-send`): the portal's chat
 * of the customer shows it as the employee's message, the portal's echo of it (§6.4, inferred) reaches Olchat
 * and is answered with a delivery status — and never reaches the messenger. The employee's own answer from
 * Bitrix24 still does. Verdicts come from the emulators' state and counters.
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
const clientId = 'app.olchat.owner-e2e'
const clientSecret = 'owner-e2e-secret-123'
const keyRing = `k1:${generateKey()}`
const phone = '+15550199077'
/** Klaus Weber, an employee of the emulated portal (not an admin). */
const EMPLOYEE = 27

let db: TestDatabase
let repos: Repositories
let bitrix: Subprocess<'ignore', 'pipe', 'inherit'>
let sandbox: Subprocess<'ignore', 'pipe', 'inherit'>
let portalControl: string
let sandboxUrl: string
let olchat: OlchatProcess
let olchatUrl: string
let accountId: string
let sandboxAccountId: number
let placementSession: string

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

interface PortalMessage {
  id: number
  author: string
  authorId: number
  text: string
  connectorMid: string[] | null
  sending: boolean
  edited: boolean
}
interface PortalChat {
  id: number
  connector: string
  externalChatId: string
  messages: PortalMessage[]
}
interface SandboxStats {
  messagesReceived: number
  ownerMessages: number
  repeated: number
}

async function portalChat(customer: number): Promise<PortalChat | undefined> {
  const state = await portal<{ portals?: Array<{ chats: PortalChat[] }>; chats?: PortalChat[] }>('state')
  const chats = state.portals?.[0]?.chats ?? state.chats ?? []
  return chats.find((c) => c.connector === 'olchat_sandbox' && c.externalChatId === String(customer))
}

/** The portal's message relaying sandbox message `id`, once `ok` holds for it. */
function onPortal(customer: number, id: number, ok: (m: PortalMessage) => boolean = () => true) {
  return until(`message ${id} on the portal`, async () => {
    const message = (await portalChat(customer))?.messages.find((m) => m.connectorMid?.includes(String(id)))
    return message && ok(message) ? message : undefined
  })
}

/** Every event the emulator emitted was delivered and Olchat's inbox finished with it. */
async function settleEvents() {
  await portal('wait-for-events', {})
  await until('the inbox drained', async () => {
    const [row] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from inbound_events where status = 'pending'`
    return row!.n === 0 ? true : undefined
  })
}

const sandboxStats = () => sandboxControl<SandboxStats>('stats')

async function newCustomer(name: string): Promise<number> {
  return (await sandboxControl<{ id: number }>('create-customer', { name })).id
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
  for (const child of [bitrix, sandbox]) {
    child?.kill('SIGTERM')
    await child?.exited
  }
  await db.drop()
  expect(code).toBe(0)
}, 40_000)

describe.skipIf(!real)(
  "the owner's own messages: sandbox ⇄ Olchat ⇄ Bitrix24 emulator, three processes",
  () => {
    test('installed, a sandbox account logged in, online and bound to line 1', async () => {
      const install = await portal<{ finished: boolean }>('install', {
        appUrl: `${olchatUrl}/bitrix/install`,
      })
      expect(install.finished).toBe(true)
      sandboxAccountId = (await sandboxControl<{ id: number }>('create-account', { phone, name: 'Shop' })).id
      const [portalRow] = await db.sql<{ id: string }[]>`select id from portals`
      const row = await repos.accounts.create({
        portalId: portalRow!.id,
        messenger: 'sandbox',
        health: 'disconnected',
      })
      accountId = row.id
      const login = new SandboxConnector({ baseUrl: sandboxUrl }).createLogin(toLoginFlowId('phone'), {
        accountId: toAccountId(row.id),
        session: accountSessionStore(repos.accountSessions, row.id),
        signal: new AbortController().signal,
      })
      let step: LoginStep = await login.start()
      step = await login.submit({ [fieldOf(step, 'phone')]: phone })
      const { code } = await sandboxControl<{ code: string }>(`login-code?phone=${encodeURIComponent(phone)}`)
      step = await login.submit({ [fieldOf(step, 'code')]: code })
      expect(step.type).toBe('complete')
      await repos.accounts.setHealth(row.id, 'connecting')
      await db.sql.notify(LEASES_RELEASED_CHANNEL, '')
      await until('the account online', async () =>
        (await repos.accounts.get(row.id)).health === 'online' ? true : undefined,
      )
      const page = await portal<{ status: number; body: string }>('open-placement', {
        connector: 'olchat_sandbox',
        line: 1,
      })
      expect(page.status).toBe(200)
      placementSession = /name="session" value="([^"]+)"/.exec(page.body)![1]!
      expect((await placementClick({ action: 'bind' })).status).toBe(200)
      expect((await repos.accounts.get(accountId)).lineId).not.toBeNull()
    }, 40_000)

    test('without an employee named, what the owner types on the phone stays out of Bitrix24', async () => {
      const customer = await newCustomer('Вера')
      const said = await sandboxControl<{ id: number }>('customer-send', {
        customer,
        account: sandboxAccountId,
        text: 'hello before',
      })
      await onPortal(customer, said.id)
      const typed = await sandboxControl<{ id: number }>('owner-send', {
        account: sandboxAccountId,
        customer,
        text: 'typed, not relayed',
      })
      // The customer's next message arrives after it: by then the owner's was handled (per-account order).
      const marker = await sandboxControl<{ id: number }>('customer-send', {
        customer,
        account: sandboxAccountId,
        text: 'marker',
      })
      await onPortal(customer, marker.id)
      const messages = (await portalChat(customer))!.messages
      expect(messages.some((m) => m.connectorMid?.includes(String(typed.id)))).toBe(false)
      expect(messages.map((m) => m.author)).toEqual(['client', 'client'])
    }, 30_000)

    test('the placement names the employee; the page says what an empty field means', async () => {
      const page = await placementClick({ action: 'employee', employee: String(EMPLOYEE) })
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(html).toContain(`name="employee" value="${EMPLOYEE}"`)
      expect(html).toContain('Поле пустое — такие сообщения в Битрикс24 не передаются')
      expect((await repos.accounts.get(accountId)).employeeId).toBe(String(EMPLOYEE))
    })

    test("typed on the phone → the employee's message in the customer's chat; its echo never reaches the messenger", async () => {
      const customer = await newCustomer('Анна')
      const said = await sandboxControl<{ id: number }>('customer-send', {
        customer,
        account: sandboxAccountId,
        text: 'Здравствуйте!',
      })
      await onPortal(customer, said.id)
      await settleEvents()
      const before = await sandboxStats()
      const typed = await sandboxControl<{ id: number }>('owner-send', {
        account: sandboxAccountId,
        customer,
        text: 'Добрый день, это владелец',
      })
      const shown = await onPortal(customer, typed.id)
      expect(shown).toMatchObject({
        author: 'employee',
        authorId: EMPLOYEE,
        text: 'Добрый день, это владелец',
      })
      // One Open Lines chat for the customer: the client's message and the employee's, in order.
      const chat = (await portalChat(customer))!
      expect(chat.messages.map((m) => m.author)).toEqual(['client', 'employee'])
      // The echo was emitted to Olchat and delivered; Olchat answered it with a delivery status.
      await settleEvents()
      const deliveries = await portal<{ event: string; ok: boolean; body: string }[]>('deliveries')
      const echo = deliveries
        .filter((d) => d.event === 'ONIMCONNECTORMESSAGEADD')
        .map((d) => ({ ok: d.ok, form: new URLSearchParams(d.body) }))
        .filter(({ form }) => form.get('data[MESSAGES][0][im][message_id]') === String(shown.id))
      expect(echo.map((d) => d.ok)).toEqual([true])
      expect(echo[0]!.form.get('data[MESSAGES][0][message][user_id]')).toBe(String(EMPLOYEE))
      const [note] = await db.sql<{ lastError: string | null }[]>`
      select last_error from inbound_events where event = 'ONIMCONNECTORMESSAGEADD' order by id desc limit 1`
      expect(note!.lastError).toBe("echo of the account owner's own message")
      const delivered = await onPortal(customer, typed.id, (m) => !m.sending)
      expect(delivered.connectorMid).toEqual([String(typed.id)])
      // Nothing was sent to the messenger: not the echo, not anything else.
      await Bun.sleep(500)
      const after = await sandboxStats()
      expect(after.messagesReceived).toBe(before.messagesReceived)
      expect(after.ownerMessages).toBe(before.ownerMessages + 1)
      expect(after.repeated).toBe(0)
    }, 30_000)

    test('the owner writes first to a new customer, then edits it: the chat is the customer’s, the edit follows', async () => {
      const customer = await newCustomer('Борис')
      const typed = await sandboxControl<{ id: number }>('owner-send', {
        account: sandboxAccountId,
        customer,
        text: 'Борис, ваш заказ готов',
      })
      const shown = await onPortal(customer, typed.id)
      expect(shown).toMatchObject({ author: 'employee', authorId: EMPLOYEE })
      await sandboxControl('owner-edit', {
        account: sandboxAccountId,
        customer,
        messageId: typed.id,
        text: 'Борис, ваш заказ готов к выдаче',
      })
      await onPortal(customer, typed.id, (m) => m.edited && m.text === 'Борис, ваш заказ готов к выдаче')
      await settleEvents()
      expect((await sandboxStats()).messagesReceived).toBe(0)
    }, 30_000)

    test('the employee answering from Bitrix24 in that chat still reaches the customer, once', async () => {
      const customer = await newCustomer('Галина')
      await sandboxControl('owner-send', { account: sandboxAccountId, customer, text: 'from the phone' })
      const chat = await until('the chat on the portal', async () => {
        const found = await portalChat(customer)
        return found?.messages.some((m) => !m.sending) ? found : undefined
      })
      const posted = await portal<{ deliveries: Array<{ ok: boolean }> }>('post-operator-message', {
        chatId: chat.id,
        text: 'and from the desk',
        userId: EMPLOYEE,
      })
      expect(posted.deliveries.every((d) => d.ok)).toBe(true)
      const sent = await until('the answer in the sandbox', async () => {
        const state = await sandboxControl<{
          accounts: Array<{
            chats: Array<{ chatId: number; messages: { out: boolean; fromDevice?: boolean; text: string }[] }>
          }>
        }>(`state?account=${sandboxAccountId}`)
        const messages = state.accounts[0]?.chats.find((c) => c.chatId === customer)?.messages ?? []
        const fromOlchat = messages.filter((m) => m.out && !m.fromDevice)
        return fromOlchat.length > 0 ? fromOlchat : undefined
      })
      expect(sent.map((m) => m.text)).toEqual([expect.stringContaining('and from the desk')])
      expect((await sandboxStats()).messagesReceived).toBe(1)
    }, 30_000)
  },
)

function fieldOf(step: LoginStep, kind: string): string {
  if (step.type !== 'user-input') throw new Error(`expected an input step, got ${step.type}`)
  const field = step.fields.find((f) => f.kind === kind)
  if (!field) throw new Error(`no ${kind} field`)
  return field.id
}

function placementClick(fields: Record<string, string>): Promise<Response> {
  return fetch(`${olchatUrl}/bitrix/placement`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ session: placementSession, account: accountId, ...fields }),
  })
}
