/**
 * The sandbox connector against the in-process sandbox messenger: the connector contract suite, and a real
 * account actor (actors/account-machine.ts) over a real session store in a test database riding out a
 * network drop.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createActor, waitFor } from 'xstate'
import { type AccountHooks, accountMachine, type HealthChange } from '../../actors/account-machine.ts'
import { toAccountId, toRemoteChatId, toRemoteMessageId, toRemoteUserId } from '../../src/bridge/ids.ts'
import type { SessionStore } from '../../src/bridge/login.ts'
import { SandboxConnector } from '../../src/connectors/sandbox/connector.ts'
import type { Repositories } from '../../storage/repos/index.ts'
import { type SandboxMessenger, startSandbox } from '../emulators/sandbox/index.ts'
import { repositories, seedAccount } from '../storage/fixtures.ts'
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts'
import {
  type ConnectorHarness,
  type ContractAccount,
  type ContractCustomer,
  describeConnectorContract,
  driveLogin,
  EventLog,
} from './contract.ts'

let phoneCounter = 0

async function sandboxHarness(): Promise<ConnectorHarness & { sandbox: SandboxMessenger }> {
  const sandbox = await startSandbox({ rateLimit: null })
  let requests = 0
  const countingFetch = ((input: string | URL | Request, init?: RequestInit) => {
    requests++
    return fetch(input, init)
  }) as typeof fetch
  const connector = new SandboxConnector({ baseUrl: sandbox.url, fetch: countingFetch })

  function chatOf(accountId: number, customer: ContractCustomer) {
    const [account] = sandbox.state({ account: accountId }).accounts
    return account?.chats.find((c) => String(c.chatId) === customer.chatId)
  }

  async function newAccount(options: { password?: string; passwordHint?: string } = {}) {
    const phone = `+1555${process.pid % 1000}${String(++phoneCounter).padStart(4, '0')}`
    const { id } = sandbox.createAccount({ phone, ...options })
    const account: ContractAccount = {
      phone,
      ...options,
      loginCode: async () => sandbox.loginCode({ phone }).code,
      expireCode: async () => void sandbox.expireCode({ phone }),
      async newCustomer() {
        const customer = sandbox.createCustomer({ name: `Customer ${phoneCounter}` })
        const ref = { customer: customer.id, account: id }
        return {
          chatId: toRemoteChatId(String(customer.id)),
          userId: toRemoteUserId(String(customer.id)),
          async send({ text, file }) {
            let fileId: string | undefined
            if (file) {
              fileId = (await sandbox.uploadFile(file.name, file.mime, new Blob([file.bytes]).stream())).id
            }
            const m = await sandbox.customerSend({ ...ref, text, fileId })
            return { messageId: toRemoteMessageId(String(m.id)), date: new Date(m.date) }
          },
          edit: async (messageId, text) =>
            void sandbox.customerEdit({ ...ref, messageId: Number(messageId), text }),
          delete: async (ids) => void sandbox.customerDelete({ ...ref, messageIds: ids.map(Number) }),
          read: async () => void sandbox.customerRead(ref),
        }
      },
      async outgoing(customer) {
        const messages = chatOf(id, customer)?.messages.filter((m) => m.out) ?? []
        return Promise.all(
          messages.map(async (m) => ({
            id: toRemoteMessageId(String(m.id)),
            text: m.text,
            deleted: Boolean(m.deleted ?? m.deletedBy),
            ...(m.file
              ? {
                  file: {
                    name: m.file.name,
                    bytes: new Uint8Array(
                      await (await fetch(`${sandbox.url}/_control/files/${m.file.id}`)).arrayBuffer(),
                    ),
                  },
                }
              : {}),
          })),
        )
      },
      async readByAccount(customer) {
        const max = chatOf(id, customer)?.readInboxMaxId ?? 0
        return max ? toRemoteMessageId(String(max)) : null
      },
      dropConnections: async () => void sandbox.dropConnections({ account: id }),
      revokeSessions: async () => void sandbox.revokeSession({ account: id }),
      floodWait: async (seconds) => void sandbox.floodWait({ account: id, seconds }),
      dropNextResponse: async (when) => void sandbox.dropResponses({ account: id, when }),
      duplicatedSessions: async () => sandbox.stats().perAccount[id]?.authKeyDuplicated ?? 0,
    }
    return account
  }

  return {
    sandbox,
    connector,
    newAccount,
    invalidPhone: '+1',
    unknownChatId: toRemoteChatId('4999999'),
    activity: async () => requests + sandbox.stats().connectionsOpened,
    close: () => sandbox.stop(),
  }
}

describeConnectorContract('sandbox', sandboxHarness)

/** The `SessionStore` of an account over `account_sessions` (sealed). */
function repoSessionStore(repos: Repositories, accountId: string): SessionStore {
  return {
    get: (key) => repos.accountSessions.get(accountId, key),
    set: (key, value) => repos.accountSessions.set(accountId, key, value),
    delete: async (key) => void (await repos.accountSessions.delete(accountId, key)),
    clear: async () => void (await repos.accountSessions.deleteAll(accountId)),
  }
}

describe('sandbox connector with a real account actor and session store', () => {
  let db: TestDatabase
  let repos: Repositories
  let harness: Awaited<ReturnType<typeof sandboxHarness>>
  beforeAll(async () => {
    db = await createTestDatabase()
    repos = repositories(db.sql)
    harness = await sandboxHarness()
  })
  afterAll(async () => {
    await harness?.close()
    await db?.drop()
  })

  test('connecting → online → network drop → reconnecting → online, nothing lost', async () => {
    const row = await seedAccount(repos)
    const accountId = toAccountId(row.id)
    const session = repoSessionStore(repos, row.id)
    const account = await harness.newAccount()
    const login = harness.connector.createLogin(harness.connector.loginFlows()[0]!.id, {
      accountId,
      session,
      signal: new AbortController().signal,
    })
    const done = await driveLogin(login, await login.start(), account)
    const customer = await account.newCustomer()

    const client = harness.connector.loadAccount({
      id: accountId,
      remoteId: done.account.remoteId,
      credentials: null,
      session,
    })
    const log = new EventLog(client)
    const health: HealthChange[] = []
    const hooks: AccountHooks = {
      setHealth: (change) => void health.push(change),
      onAlert: () => {},
      cleanup: async () => {},
    }
    const actor = createActor(accountMachine, {
      input: { accountId, client, hooks, options: { backoffBaseMs: 50, backoffCapMs: 200 } },
    })
    actor.start()
    const isOnline = (s: ReturnType<typeof actor.getSnapshot>) =>
      s.matches({ active: { connection: 'online' } })
    await waitFor(actor, isOnline, { timeout: 5000 })

    const first = await customer.send({ text: 'before the drop' })
    await log.waitFor((e) => e.type === 'message' && e.messageId === first.messageId)
    await account.dropConnections()
    const during = await customer.send({ text: 'during the drop' })
    await waitFor(actor, (s) => s.matches({ active: { connection: 'reconnecting' } }), { timeout: 5000 })
    await waitFor(actor, isOnline, { timeout: 5000 })
    await log.waitFor((e) => e.type === 'message' && e.messageId === during.messageId)
    expect(health.map((h) => h.health)).toEqual([
      'connecting',
      'online',
      'reconnecting',
      'connecting',
      'online',
    ])
    expect(log.messages().map((m) => m.text)).toEqual(['before the drop', 'during the drop'])

    // The position is in the sealed store: a restarted client resumes after the last update handed on.
    actor.stop()
    await client.disconnect()
    const seq = await repos.accountSessions.getText(row.id, 'sandbox.seq')
    expect(Number(seq)).toBe(harness.sandbox.state({ account: account.phone }).accounts[0]!.seq)
    expect(harness.sandbox.stats().perAccount[account.phone]?.authKeyDuplicated ?? 0).toBe(0)
  })
})

describe('sandbox connector holding its update position until acked', () => {
  let db: TestDatabase
  let repos: Repositories
  let harness: Awaited<ReturnType<typeof sandboxHarness>>
  beforeAll(async () => {
    db = await createTestDatabase()
    repos = repositories(db.sql)
    harness = await sandboxHarness()
  })
  afterAll(async () => {
    await harness?.close()
    await db?.drop()
  })

  test('events handed on but not acked come again after a restart; the position moves in order', async () => {
    const row = await seedAccount(repos)
    const accountId = toAccountId(row.id)
    const session = repoSessionStore(repos, row.id)
    const account = await harness.newAccount()
    const login = harness.connector.createLogin(harness.connector.loginFlows()[0]!.id, {
      accountId,
      session,
      signal: new AbortController().signal,
    })
    const done = await driveLogin(login, await login.start(), account)
    const customer = await account.newCustomer()
    const load = () =>
      harness.connector.loadAccount({
        id: accountId,
        remoteId: done.account.remoteId,
        credentials: null,
        session,
      })
    const storedSeq = async () => Number(await repos.accountSessions.getText(row.id, 'sandbox.seq')) || 0

    const first = load() as ReturnType<typeof load> & { holdPositionUntilAck(): void }
    first.holdPositionUntilAck()
    const log = new EventLog(first)
    await first.connect()
    const sent: Awaited<ReturnType<typeof customer.send>>[] = []
    for (const text of ['one', 'two', 'three']) sent.push(await customer.send({ text }))
    await log.waitFor((e) => e.type === 'message' && e.messageId === sent[2]!.messageId)
    const [one, two, three] = log.messages()
    expect([one?.text, two?.text, three?.text]).toEqual(['one', 'two', 'three'])
    const before = await storedSeq()
    // Acked out of order: the position waits for `two`.
    three!.ack?.()
    one!.ack?.()
    one!.ack?.()
    await Bun.sleep(100)
    const afterOne = await storedSeq()
    expect(afterOne).toBeGreaterThan(before)
    expect(afterOne).toBeLessThan(harness.sandbox.state({ account: account.phone }).accounts[0]!.seq)
    // `two` and `three` were held in memory when the process died.
    await first.disconnect()
    log.unsubscribe()
    expect(await storedSeq()).toBe(afterOne)

    const second = load()
    const again = new EventLog(second)
    await second.connect()
    await again.waitFor((e) => e.type === 'message' && e.messageId === sent[2]!.messageId)
    expect(again.messages().map((m) => m.text)).toEqual(['two', 'three'])
    await second.disconnect()
    again.unsubscribe()
    // Without holding, the position follows what was handed on.
    expect(await storedSeq()).toBe(harness.sandbox.state({ account: account.phone }).accounts[0]!.seq)
  })
})
