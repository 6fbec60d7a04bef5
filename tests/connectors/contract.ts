/**
 * @module The connector contract suite: `describeConnectorContract(name, harnessFactory)` holds any
 * `MessengerConnector` (sandbox now, Telegram and MAX later) to the same behaviour, driving the far side
 * through the connector's emulator. The harness hides the emulator: it makes remote accounts and customers,
 * acts as the customer, injects faults and reads what the remote side received.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { canDownloadFiles, reportsReadReceipts } from '../../src/bridge/capabilities.ts'
import type { MessengerClient } from '../../src/bridge/client.ts'
import type { AccountLogin, MessengerConnector } from '../../src/bridge/connector.ts'
import {
  FloodWaitError,
  InvalidLoginInputError,
  NeedsLoginError,
  PermanentSendError,
  TransientNetworkError,
  UnknownLoginFlowError,
} from '../../src/bridge/errors.ts'
import {
  type RemoteChatId,
  type RemoteMessageId,
  type RemoteUserId,
  toAccountId,
  toClientMessageId,
  toLoginFlowId,
} from '../../src/bridge/ids.ts'
import type { LoginProcess, LoginStep, SessionStore } from '../../src/bridge/login.ts'
import type { ConnectionState, RemoteEvent, RemoteMessageEvent } from '../../src/bridge/remote-event.ts'

export interface OutgoingFileSpec {
  name: string
  mime: string
  bytes: Uint8Array
}

/** A remote person who writes to the account; every action is done at the emulator. */
export interface ContractCustomer {
  /** The chat the account sees with this customer, and the customer's user id. */
  chatId: RemoteChatId
  userId: RemoteUserId
  send(input: { text?: string; file?: OutgoingFileSpec }): Promise<{ messageId: RemoteMessageId; date: Date }>
  edit(messageId: RemoteMessageId, text: string): Promise<void>
  delete(messageIds: RemoteMessageId[]): Promise<void>
  /** Reads the account's messages (up to the latest). */
  read(): Promise<void>
}

/** What the remote side holds of one message the account sent. */
export interface RemoteOutgoing {
  id: RemoteMessageId
  text: string
  deleted: boolean
  file?: { name: string; bytes: Uint8Array }
}

export interface ContractAccount {
  /** Values the login flow asks for. */
  phone: string
  /** For connectors whose login asks for a token (MAX bots). */
  token?: string
  password?: string
  passwordHint?: string
  /** The code the emulator "sent" to the phone (the latest). */
  loginCode(): Promise<string>
  /** Makes the current code expire. */
  expireCode(): Promise<void>
  newCustomer(): Promise<ContractCustomer>
  /** What the remote side received from the account in the customer's chat, in order. */
  outgoing(customer: ContractCustomer): Promise<RemoteOutgoing[]>
  /** Up to which customer message the account has marked the chat read, or null. */
  readByAccount(customer: ContractCustomer): Promise<RemoteMessageId | null>
  /** Drops the account's live connections as a network failure would. */
  dropConnections(): Promise<void>
  /** Revokes the account's sessions (as "terminate all sessions" on another device). */
  revokeSessions(): Promise<void>
  /** The next call of the account answers a flood wait of `seconds`. */
  floodWait(seconds: number): Promise<void>
  /** The next call of the account loses its connection, before or after the remote side did the work. */
  dropNextResponse(when: 'before' | 'after'): Promise<void>
  /** How many duplicated-session kills the emulator counted for this account. */
  duplicatedSessions(): Promise<number>
}

export interface ConnectorHarness {
  connector: MessengerConnector
  newAccount(options?: { password?: string; passwordHint?: string }): Promise<ContractAccount>
  /** A phone number the messenger rejects. */
  invalidPhone: string
  /** A token the messenger rejects (token logins). */
  invalidToken?: string
  /** A chat id the account has no access to. */
  unknownChatId: RemoteChatId
  /** Requests and connections the connector has made to the remote side so far. */
  activity(): Promise<number>
  close(): Promise<void>
}

/** Session store in memory that counts what is done with it. */
export class MemorySessionStore implements SessionStore {
  readonly values = new Map<string, Uint8Array>()
  calls = 0
  async get(key: string) {
    this.calls++
    return this.values.get(key)
  }
  async set(key: string, value: Uint8Array | string) {
    this.calls++
    this.values.set(key, typeof value === 'string' ? new TextEncoder().encode(value) : value)
  }
  async delete(key: string) {
    this.calls++
    this.values.delete(key)
  }
  async clear() {
    this.calls++
    this.values.clear()
  }
}

/** Collects a client's events and waits for them. */
export class EventLog {
  readonly events: RemoteEvent[] = []
  readonly unsubscribe: () => void
  private waiters: (() => void)[] = []

  constructor(client: MessengerClient) {
    this.unsubscribe = client.onEvent((event) => {
      this.events.push(event)
      for (const wake of this.waiters.splice(0)) wake()
    })
  }

  async waitFor<T extends RemoteEvent>(match: (e: RemoteEvent) => e is T, timeoutMs?: number): Promise<T>
  async waitFor(match: (e: RemoteEvent) => boolean, timeoutMs?: number): Promise<RemoteEvent>
  async waitFor(match: (e: RemoteEvent) => boolean, timeoutMs = 5000): Promise<RemoteEvent> {
    const deadline = Date.now() + timeoutMs
    let checked = 0
    for (;;) {
      for (; checked < this.events.length; checked++) {
        if (match(this.events[checked]!)) return this.events[checked]!
      }
      if (Date.now() > deadline) {
        throw new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(this.summary())}`)
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  connection(state: ConnectionState, after = 0) {
    return this.waitFor(
      (e) => e.type === 'connection' && e.state === state && this.events.indexOf(e) >= after,
    )
  }

  messages(): RemoteMessageEvent[] {
    return this.events.filter((e): e is RemoteMessageEvent => e.type === 'message')
  }

  private summary() {
    return this.events.map((e) => (e.type === 'connection' ? `connection:${e.state}` : e.type))
  }
}

const settle = (ms = 150) => Bun.sleep(ms)
let idCounter = 0
const newClientMessageId = () => toClientMessageId(`${Date.now()}${String(++idCounter).padStart(6, '0')}`)

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

function patternBytes(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + 3) % 256)
}

/** The id of the step's field of that kind (the contract does not assume connectors' field ids). */
function fieldOf(step: LoginStep, kind: string): string {
  const field = step.type === 'user-input' ? step.fields.find((f) => f.kind === kind) : undefined
  if (!field) throw new Error(`step ${step.stepId} has no ${kind} field`)
  return field.id
}

/** Answers every step of a login flow from the account's values until it completes. */
export async function driveLogin(process: LoginProcess, first: LoginStep, account: ContractAccount) {
  let step = first
  for (let i = 0; i < 8 && step.type !== 'complete'; i++) {
    if (step.type !== 'user-input') throw new Error(`unexpected step ${step.type}`)
    const input: Record<string, string> = {}
    for (const field of step.fields) {
      if (field.kind === 'phone') input[field.id] = account.phone
      else if (field.kind === 'code') input[field.id] = await account.loginCode()
      else if (field.kind === 'password') input[field.id] = account.password ?? ''
      else if (field.kind === 'token') input[field.id] = account.token ?? ''
      else throw new Error(`unexpected field ${field.id}`)
    }
    step = await process.submit(input)
  }
  if (step.type !== 'complete') throw new Error('login did not complete')
  return step
}

/**
 * What a messenger can promise at all; the defaults are a user account with client-side message ids (Telegram,
 * the sandbox). A MAX bot logs in with a token, keeps no client ids, shows no read marks, has no session of its
 * own to duplicate or end, and answers 429 without saying how long to wait.
 */
export interface ContractFeatures {
  login: 'phone' | 'token'
  /** The messenger drops a repeat of a client-side id, so a send whose answer was lost can be retried. */
  clientIdempotency: boolean
  /** `markRead` shows the customer up to which message the account read. */
  readMarks: boolean
  /** A second live connection of one session kills both (Telegram `AUTH_KEY_DUPLICATED`). */
  exclusiveSessions: boolean
  /** `logoutRemote` ends the session at the messenger. */
  remoteLogout: boolean
  /** A flood wait says its seconds. */
  floodSeconds: boolean
}

const USER_ACCOUNT: ContractFeatures = {
  login: 'phone',
  clientIdempotency: true,
  readMarks: true,
  exclusiveSessions: true,
  remoteLogout: true,
  floodSeconds: true,
}

export function describeConnectorContract(
  name: string,
  harnessFactory: () => Promise<ConnectorHarness>,
  features: ContractFeatures = USER_ACCOUNT,
) {
  const phone = features.login === 'phone'
  describe(`connector contract: ${name}`, () => {
    let h: ConnectorHarness
    let opened: MessengerClient[] = []
    beforeAll(async () => {
      h = await harnessFactory()
    })
    afterAll(async () => {
      await Promise.all(opened.map((c) => c.disconnect()))
      opened = []
      await h.close()
    })

    const flowId = () => h.connector.loginFlows()[0]!.id
    const newLogin = (session: SessionStore) =>
      h.connector.createLogin(flowId(), {
        accountId: toAccountId(crypto.randomUUID()),
        session,
        signal: new AbortController().signal,
      })

    /** A remote account logged in through the connector's own flow. */
    async function loggedIn(options?: { password?: string; passwordHint?: string }) {
      const account = await h.newAccount(options)
      const session = new MemorySessionStore()
      const process = newLogin(session)
      const done = await driveLogin(process, await process.start(), account)
      const login: AccountLogin = {
        id: toAccountId(crypto.randomUUID()),
        remoteId: done.account.remoteId,
        credentials: done.account.credentials ?? null,
        session,
      }
      return { account, session, login, result: done.account }
    }

    function load(login: AccountLogin) {
      const client = h.connector.loadAccount(login)
      opened.push(client)
      return { client, log: new EventLog(client) }
    }

    async function online(options?: { password?: string }) {
      const setup = await loggedIn(options)
      const { client, log } = load(setup.login)
      await client.connect()
      expect(log.events.at(-1)).toMatchObject({ type: 'connection', state: 'connected' })
      return { ...setup, client, log, customer: await setup.account.newCustomer() }
    }

    describe('login', () => {
      test('offers flows and rejects an unknown one', () => {
        const flows = h.connector.loginFlows()
        expect(flows.length).toBeGreaterThan(0)
        for (const flow of flows) expect(flow.name.ru && flow.name.en).toBeTruthy()
        const context = {
          accountId: toAccountId(crypto.randomUUID()),
          session: new MemorySessionStore(),
          signal: new AbortController().signal,
        }
        expect(() => h.connector.createLogin(toLoginFlowId('nope'), context)).toThrow(UnknownLoginFlowError)
      })

      test('the login flow completes, stores a session and names the account', async () => {
        const { result, session } = await loggedIn()
        expect(result.remoteId).toBeTruthy()
        expect(session.values.size).toBeGreaterThan(0)
      })

      test.if(!phone)(
        'a bad token keeps the step with a ru/en explanation; the right one completes',
        async () => {
          const account = await h.newAccount()
          const process = newLogin(new MemorySessionStore())
          const first = await process.start()
          const field = fieldOf(first, 'token')
          const bad = await process.submit({ [field]: h.invalidToken ?? 'x' }).catch((e) => e)
          expect(bad).toBeInstanceOf(InvalidLoginInputError)
          expect(bad.fieldId).toBe(field)
          expect(bad.explanation.ru && bad.explanation.en).toBeTruthy()
          expect((await process.submit({ [field]: account.token! })).type).toBe('complete')
        },
      )

      test.if(phone)('a bad phone and a bad code keep the step with a ru/en explanation', async () => {
        const account = await h.newAccount()
        const process = newLogin(new MemorySessionStore())
        const first = await process.start()
        expect(first.type).toBe('user-input')
        const phoneField = (first as { fields: { id: string; kind: string }[] }).fields[0]!
        const bad = await process.submit({ [phoneField.id]: h.invalidPhone }).catch((e) => e)
        expect(bad).toBeInstanceOf(InvalidLoginInputError)
        expect(bad.fieldId).toBe(phoneField.id)
        expect(bad.explanation.ru && bad.explanation.en).toBeTruthy()
        const codeStep = await process.submit({ [phoneField.id]: account.phone })
        expect(codeStep.type).toBe('user-input')
        const codeField = (codeStep as { fields: { id: string; kind: string }[] }).fields[0]!
        expect(codeField.kind).toBe('code')
        const code = await account.loginCode()
        const wrong = code === '00000' ? '11111' : '00000'
        const badCode = await process.submit({ [codeField.id]: wrong }).catch((e) => e)
        expect(badCode).toBeInstanceOf(InvalidLoginInputError)
        expect(badCode.fieldId).toBe(codeField.id)
        expect(badCode.explanation.ru && badCode.explanation.en).toBeTruthy()
        // The same step again, now right.
        const done = await process.submit({ [codeField.id]: code })
        expect(done.type).toBe('complete')
      })

      test.if(phone)('an expired code leads to a step that still ends in a login', async () => {
        const account = await h.newAccount()
        const process = newLogin(new MemorySessionStore())
        const first = await process.start()
        const phoneField = (first as { fields: { id: string }[] }).fields[0]!
        const codeStep = await process.submit({ [phoneField.id]: account.phone })
        const stale = await account.loginCode()
        await account.expireCode()
        const field = (codeStep as { fields: { id: string }[] }).fields[0]!
        const next = await process.submit({ [field.id]: stale })
        expect(next.type).toBe('user-input')
        expect(next.instructions.ru && next.instructions.en).toBeTruthy()
        expect((await driveLogin(process, next, account)).type).toBe('complete')
      })

      test.if(phone)('2FA: a password step with the hint; a wrong password keeps the step', async () => {
        const account = await h.newAccount({ password: 'correct horse', passwordHint: 'stable' })
        const process = newLogin(new MemorySessionStore())
        let step = await process.start()
        step = await process.submit({ [fieldOf(step, 'phone')]: account.phone })
        step = await process.submit({ [fieldOf(step, 'code')]: await account.loginCode() })
        expect(step.type).toBe('user-input')
        const field = (step as { fields: { id: string; kind: string }[] }).fields[0]!
        expect(field.kind).toBe('password')
        expect(step.instructions.en).toContain('stable')
        expect(step.instructions.ru).toContain('stable')
        const bad = await process.submit({ [field.id]: 'wrong' }).catch((e) => e)
        expect(bad).toBeInstanceOf(InvalidLoginInputError)
        expect(bad.fieldId).toBe(field.id)
        const done = await process.submit({ [field.id]: 'correct horse' })
        expect(done.type).toBe('complete')
      })

      test('a flood wait during login is a FloodWaitError with its seconds; the step stays', async () => {
        const account = await h.newAccount()
        const process = newLogin(new MemorySessionStore())
        const field = fieldOf(await process.start(), features.login)
        const value = phone ? account.phone : account.token!
        await account.floodWait(17)
        const error = await process.submit({ [field]: value }).catch((e) => e)
        expect(error).toBeInstanceOf(FloodWaitError)
        if (features.floodSeconds) expect(error.seconds).toBe(17)
        else expect(error.seconds).toBeGreaterThan(0)
        // The same step again goes on (a phone login to its code step, a token login to the end).
        expect((await process.submit({ [field]: value })).type).toBe(phone ? 'user-input' : 'complete')
      })
    })

    test('loadAccount does no I/O', async () => {
      const { login, session } = await loggedIn()
      const before = await h.activity()
      const calls = session.calls
      const client = h.connector.loadAccount(login)
      expect(client).not.toBeInstanceOf(Promise)
      const log = new EventLog(client)
      await settle(50)
      expect(await h.activity()).toBe(before)
      expect(session.calls).toBe(calls)
      expect(log.events).toEqual([])
      expect(client.accountId).toBe(login.id)
    })

    test('connect reports connected; again on a connected client; disconnect keeps the session', async () => {
      const { client, log } = await online()
      const n = log.events.length
      await client.connect()
      expect(log.events.slice(n)).toMatchObject([{ type: 'connection', state: 'connected' }])
      await client.disconnect()
      await client.disconnect()
      const m = log.events.length
      await client.connect()
      expect(log.events.slice(m)).toMatchObject([{ type: 'connection', state: 'connected' }])
    })

    describe('customer → account', () => {
      test('a message arrives exactly once with its ids, text and time', async () => {
        const { client, log, customer, login } = await online()
        const sent = await customer.send({ text: 'Здравствуйте! hello' })
        const event = await log.waitFor(
          (e): e is RemoteMessageEvent => e.type === 'message' && e.messageId === sent.messageId,
        )
        await settle()
        expect(log.messages().filter((m) => m.messageId === sent.messageId)).toHaveLength(1)
        expect(event).toMatchObject({
          accountId: login.id,
          chat: { accountId: login.id, chatId: customer.chatId },
          text: 'Здравствуйте! hello',
          sender: { userId: customer.userId, fromMe: false },
          files: [],
        })
        expect(Math.abs(event.timestamp.getTime() - sent.date.getTime())).toBeLessThan(1000)
        expect(client.accountId).toBe(login.id)
      })

      test('a file arrives as a RemoteFile that streams the exact bytes, on demand and again', async () => {
        const { client, log, customer } = await online()
        const bytes = patternBytes(300_001)
        const sent = await customer.send({
          text: 'scan',
          file: { name: 'scan.pdf', mime: 'application/pdf', bytes },
        })
        const event = await log.waitFor(
          (e): e is RemoteMessageEvent => e.type === 'message' && e.messageId === sent.messageId,
        )
        expect(event.files).toHaveLength(1)
        const file = event.files[0]!
        expect(file).toMatchObject({ name: 'scan.pdf', mimeType: 'application/pdf', kind: 'document' })
        const opened = await file.open()
        expect(await readAll(opened.stream)).toEqual(bytes)
        if (canDownloadFiles(client)) {
          const again = await client.openFile(file.ref)
          expect(await readAll(again.stream)).toEqual(bytes)
        }
      })

      test('edit, delete and read arrive as their events', async () => {
        const { client, log, customer } = await online()
        const first = await customer.send({ text: 'typo' })
        await customer.edit(first.messageId, 'fixed')
        const edit = await log.waitFor((e) => e.type === 'edit')
        expect(edit).toMatchObject({
          type: 'edit',
          messageId: first.messageId,
          text: 'fixed',
          chat: { chatId: customer.chatId },
        })
        await customer.delete([first.messageId])
        const deleted = await log.waitFor((e) => e.type === 'delete')
        expect(deleted).toMatchObject({ messageIds: [first.messageId], chat: { chatId: customer.chatId } })
        if (reportsReadReceipts(client)) {
          const mine = await client.send({
            chatId: customer.chatId,
            clientMessageId: newClientMessageId(),
            text: 'please read',
          })
          await customer.read()
          const read = await log.waitFor((e) => e.type === 'read')
          expect(read).toMatchObject({ upTo: mine.messageIds[0], chat: { chatId: customer.chatId } })
        }
      })
    })

    describe('account → customer', () => {
      test('a text reaches the remote side once', async () => {
        const { client, account, customer } = await online()
        const sent = await client.send({
          chatId: customer.chatId,
          clientMessageId: newClientMessageId(),
          text: 'Ответ оператора',
        })
        expect(sent.messageIds).toHaveLength(1)
        expect(sent.timestamp).toBeInstanceOf(Date)
        expect(await account.outgoing(customer)).toMatchObject([
          { id: sent.messageIds[0], text: 'Ответ оператора', deleted: false },
        ])
      })

      test('the same clientMessageId twice is still one message', async () => {
        const { client, account, customer } = await online()
        const message = { chatId: customer.chatId, clientMessageId: newClientMessageId(), text: 'once' }
        const a = await client.send(message)
        const b = await client.send(message)
        expect(b.messageIds).toEqual(a.messageIds)
        expect(await account.outgoing(customer)).toHaveLength(1)
      })

      test.if(features.clientIdempotency)(
        'an answer lost after the work: transient, and the retry does not duplicate',
        async () => {
          const { client, account, customer } = await online()
          const message = { chatId: customer.chatId, clientMessageId: newClientMessageId(), text: 'in doubt' }
          await account.dropNextResponse('after')
          expect(await client.send(message).catch((e) => e)).toBeInstanceOf(TransientNetworkError)
          const retried = await client.send(message)
          const remote = await account.outgoing(customer)
          expect(remote).toHaveLength(1)
          expect(remote[0]!.id).toBe(retried.messageIds[0]!)
        },
      )

      test('a file (with a caption) reaches the remote side with the exact bytes', async () => {
        const { client, account, customer } = await online()
        const bytes = patternBytes(200_003)
        let opens = 0
        const sent = await client.send({
          chatId: customer.chatId,
          clientMessageId: newClientMessageId(),
          text: 'the invoice',
          files: [
            {
              name: 'invoice.pdf',
              mimeType: 'application/pdf',
              size: bytes.length,
              open: async () => {
                opens++
                return new Blob([bytes]).stream()
              },
            },
          ],
        })
        expect(opens).toBe(1)
        const remote = await account.outgoing(customer)
        expect(remote).toHaveLength(sent.messageIds.length)
        const withFile = remote.find((m) => m.file)!
        expect(withFile.file!.name).toBe('invoice.pdf')
        expect(withFile.file!.bytes).toEqual(bytes)
        expect(remote.map((m) => m.text).join('')).toContain('the invoice')
      })

      test('edit and delete change the remote message', async () => {
        const { client, account, customer } = await online()
        const sent = await client.send({
          chatId: customer.chatId,
          clientMessageId: newClientMessageId(),
          text: 'draft',
        })
        const id = sent.messageIds[0]!
        await client.edit(customer.chatId, id, 'final')
        // A retried edit (same text) is not an error.
        await client.edit(customer.chatId, id, 'final')
        expect((await account.outgoing(customer))[0]).toMatchObject({ id, text: 'final', deleted: false })
        await client.delete(customer.chatId, [id])
        await client.delete(customer.chatId, [id])
        expect((await account.outgoing(customer))[0]).toMatchObject({ id, deleted: true })
      })

      test.if(features.readMarks)('markRead makes the customer see the chat read', async () => {
        const { client, log, account, customer } = await online()
        const a = await customer.send({ text: 'one' })
        const b = await customer.send({ text: 'two' })
        await log.waitFor((e) => e.type === 'message' && e.messageId === b.messageId)
        await client.markRead(customer.chatId, a.messageId)
        expect(await account.readByAccount(customer)).toBe(a.messageId)
        await client.markRead(customer.chatId, b.messageId)
        expect(await account.readByAccount(customer)).toBe(b.messageId)
      })

      test('contacts list the customers the account talks to', async () => {
        const { client, log, customer } = await online()
        const hi = await customer.send({ text: 'hi' })
        // Once the account has seen the customer (a bot learns its dialogs only from updates).
        await log.waitFor((e) => e.type === 'message' && e.messageId === hi.messageId)
        const contacts = await client.syncContacts()
        expect(contacts.map((c) => c.userId)).toContain(customer.userId)
      })
    })

    describe('errors', () => {
      test('FLOOD_WAIT → FloodWaitError with the seconds', async () => {
        const { client, account, customer } = await online()
        await account.floodWait(42)
        const error = await client
          .send({ chatId: customer.chatId, clientMessageId: newClientMessageId(), text: 'x' })
          .catch((e) => e)
        expect(error).toBeInstanceOf(FloodWaitError)
        if (features.floodSeconds) expect(error.seconds).toBe(42)
        else expect(error.seconds).toBeGreaterThan(0)
      })

      test('an unknown chat and a too long text are permanent', async () => {
        const { client, customer } = await online()
        const unknown = await client
          .send({ chatId: h.unknownChatId, clientMessageId: newClientMessageId(), text: 'x' })
          .catch((e) => e)
        expect(unknown).toBeInstanceOf(PermanentSendError)
        const long = 'x'.repeat(h.connector.capabilities.maxTextLength + 1)
        const tooLong = await client
          .send({ chatId: customer.chatId, clientMessageId: newClientMessageId(), text: long })
          .catch((e) => e)
        expect(tooLong).toBeInstanceOf(PermanentSendError)
      })

      test('a connection lost before the work is a TransientNetworkError', async () => {
        const { client, account, customer } = await online()
        await account.dropNextResponse('before')
        const error = await client
          .send({ chatId: customer.chatId, clientMessageId: newClientMessageId(), text: 'x' })
          .catch((e) => e)
        expect(error).toBeInstanceOf(TransientNetworkError)
        expect(await account.outgoing(customer)).toEqual([])
      })
    })

    describe('connection', () => {
      test('catch-up: a restarted client gets what arrived meanwhile, once, in order', async () => {
        const { client, log, account, customer, login } = await online()
        const before = await customer.send({ text: 'before' })
        await log.waitFor((e) => e.type === 'message' && e.messageId === before.messageId)
        await client.disconnect()
        const missed = []
        for (const text of ['m1', 'm2', 'm3']) missed.push(await customer.send({ text }))
        await customer.edit(missed[0]!.messageId, 'm1 edited')
        // A fresh client over the same session: what a restarted process does.
        const restarted = load(login)
        await restarted.client.connect()
        await restarted.log.waitFor((e) => e.type === 'edit')
        await settle()
        expect(restarted.log.messages().map((m) => m.text)).toEqual(['m1', 'm2', 'm3'])
        expect(restarted.log.messages().map((m) => m.messageId)).toEqual(missed.map((m) => m.messageId))
        // Events come before `connected` only for what was missed; new ones follow live.
        const live = await customer.send({ text: 'live' })
        await restarted.log.waitFor((e) => e.type === 'message' && e.messageId === live.messageId)
        expect(await account.duplicatedSessions()).toBe(0)
      })

      test('a network drop → transient-disconnect; reconnect delivers what arrived meanwhile', async () => {
        const { client, log, account, customer } = await online()
        const mark = log.events.length
        await account.dropConnections()
        await log.connection('transient-disconnect', mark)
        const during = await customer.send({ text: 'while down' })
        await client.connect()
        await log.waitFor((e) => e.type === 'message' && e.messageId === during.messageId)
        await settle()
        expect(log.messages().filter((m) => m.messageId === during.messageId)).toHaveLength(1)
        expect(await account.duplicatedSessions()).toBe(0)
      })

      test('a revoked session → bad-credentials; actions need a login', async () => {
        const { client, log, account, customer } = await online()
        const mark = log.events.length
        await account.revokeSessions()
        await log.connection('bad-credentials', mark)
        const again = log.events.length
        await client.connect()
        expect(log.events.slice(again)).toMatchObject([{ type: 'connection', state: 'bad-credentials' }])
        const error = await client
          .send({ chatId: customer.chatId, clientMessageId: newClientMessageId(), text: 'x' })
          .catch((e) => e)
        expect(error).toBeInstanceOf(NeedsLoginError)
      })

      test.if(features.exclusiveSessions)(
        'two live connections of one session: both dropped as bad-credentials',
        async () => {
          const { log, account, login } = await online()
          const mark = log.events.length
          const twin = load(login)
          await twin.client.connect()
          await log.connection('bad-credentials', mark)
          await twin.log.connection('bad-credentials')
          expect(await account.duplicatedSessions()).toBe(1)
        },
      )

      test.if(features.remoteLogout)('logoutRemote ends the session at the messenger', async () => {
        const { client, login } = await online()
        await client.logoutRemote()
        const next = load(login)
        await next.client.connect()
        expect(next.log.events).toMatchObject([{ type: 'connection', state: 'bad-credentials' }])
      })
    })
  })
}
