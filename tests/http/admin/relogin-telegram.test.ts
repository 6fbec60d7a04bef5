/**
 * `POST /api/v1/accounts/:id/login` with the real Telegram connector (real mtcute clients over the Telegram
 * stub world, sessions in the `telegram_*` tables): a Telegram login stages its keys in the login's session
 * and the client the runtime builds moves them into the account's tables, so this checks what the sandbox
 * cannot — the new session works for that client, and a refused login of another person leaves neither their
 * keys in our tables nor their authorization at Telegram.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { accountSessionStore } from '../../../src/accounts/session-store.ts'
import type { ConnectorName, MessengerConnector } from '../../../src/bridge/connector.ts'
import { toAccountId, toRemoteUserId } from '../../../src/bridge/ids.ts'
import type { ConnectionState } from '../../../src/bridge/remote-event.ts'
import { createAdminRoutes } from '../../../src/http/admin/index.ts'
import { telegramHarness } from '../../connectors/telegram/harness.ts'
import { until } from '../../support/until.ts'
import { createHarness, type Harness, json } from './harness.ts'

let h: Harness
let tg: ReturnType<typeof telegramHarness>
let app: ReturnType<typeof createAdminRoutes>

beforeAll(async () => {
  h = await createHarness()
  tg = telegramHarness(h.repos)
  const connectors = new Map<ConnectorName, MessengerConnector>([['telegram', tg.connector]])
  app = createAdminRoutes({ ...h.deps, connectors })
})
afterAll(() => h.close())

const call = (path: string, body: unknown = {}) =>
  app.request(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${h.tokens.support}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  })

/** The Telegram phone flow of a re-login, to its last answer. */
async function relogin(accountId: string, phone: string): Promise<Response> {
  const opened = await call(`/api/v1/accounts/${accountId}/login`)
  expect(opened.status).toBe(201)
  const { loginId, step } = await json(opened)
  expect(step.stepId).toBe('telegram.phone')
  const code = await json(await call(`/api/v1/logins/${loginId}/steps`, { input: { phone: `+${phone}` } }))
  expect(code.step.stepId).toBe('telegram.code')
  return call(`/api/v1/logins/${loginId}/steps`, { input: { code: tg.world.codes.get(phone)!.code } })
}

/** Rows of the account's Telegram session (auth keys, state, peers, refs). */
async function telegramRows(accountId: string): Promise<number> {
  const [row] = await h.db.sql<{ n: number }[]>`
    select ((select count(*) from telegram_auth_keys where account_id = ${accountId})
      + (select count(*) from telegram_kv where account_id = ${accountId})
      + (select count(*) from telegram_peers where account_id = ${accountId}))::int as n`
  return row!.n
}

/** The client the runtime builds for the stored account, connected; @returns the state it reports. */
async function connectAsRuntime(accountId: string): Promise<ConnectionState> {
  const account = await h.repos.accounts.get(accountId)
  const client = tg.connector.loadAccount({
    id: toAccountId(accountId),
    remoteId: account.remoteId === null ? null : toRemoteUserId(account.remoteId),
    credentials: account.credentials,
    session: accountSessionStore(h.repos.accountSessions, accountId),
  })
  const states: ConnectionState[] = []
  client.onEvent((event) => {
    if (event.type === 'connection') states.push(event.state)
  })
  try {
    await client.connect()
    return await until('a connection outcome', async () =>
      states.find((state) => state === 'connected' || state === 'bad-credentials'),
    )
  } finally {
    await client.disconnect()
  }
}

const authorizedKeys = (phone: string) =>
  [...tg.world.authorizations.values()].filter((owner) => owner === tg.world.account(phone)).length

describe('re-login of a Telegram account', () => {
  // Digits, as Telegram keeps them; typed with a plus.
  const phone = `7999${String(process.pid % 1000).padStart(3, '0')}1001`
  const stranger = `7999${String(process.pid % 1000).padStart(3, '0')}1002`
  let accountId: string

  test('a Telegram account logs in again; the client the runtime builds connects with the new session', async () => {
    tg.world.addAccount({ firstName: 'Shop', phone })
    tg.world.addAccount({ firstName: 'Someone else', phone: stranger })
    // A disconnected account: no session and no remote id (R1).
    accountId = (
      await h.repos.accounts.create({ portalId: h.portalA, messenger: 'telegram', health: 'disconnected' })
    ).id
    const done = await relogin(accountId, phone)
    expect(done.status).toBe(200)
    const body = await json(done)
    expect(body.account).toMatchObject({ id: accountId, health: 'connecting', displayName: 'Shop' })
    expect(body.account.remoteId).toBe(String(tg.world.account(phone).user.id))
    expect(await h.repos.accountSessions.getText(accountId, 'telegram.user')).toBe(body.account.remoteId)
    // Staged with the session; the account's tables get it when its client starts.
    expect(await h.repos.accountSessions.get(accountId, 'telegram.staged')).toBeDefined()
    expect(await telegramRows(accountId)).toBe(0)
    expect(await connectAsRuntime(accountId)).toBe('connected')
    expect(await telegramRows(accountId)).toBeGreaterThan(0)
    expect(await h.repos.accountSessions.get(accountId, 'telegram.staged')).toBeUndefined()
  })

  test('revoked; another person logs in: 409, their keys gone from our tables and logged out at Telegram', async () => {
    tg.world.revokeSessions(phone)
    // What the runtime does: the client meets the revocation, forgets the session; the actor says needs_login.
    expect(await connectAsRuntime(accountId)).toBe('bad-credentials')
    await h.repos.accounts.setHealth(accountId, 'needs_login')
    expect(await telegramRows(accountId)).toBe(0)
    const before = await h.repos.accounts.get(accountId)
    const sessionBefore = await h.repos.accountSessions.list(accountId)

    const done = await relogin(accountId, stranger)
    expect(done.status).toBe(409)
    expect(await json(done)).toMatchObject({ error: 'different_account' })
    expect(await h.repos.accounts.get(accountId)).toEqual(before)
    expect(await h.repos.accountSessions.list(accountId)).toEqual(sessionBefore)
    expect(await telegramRows(accountId)).toBe(0)
    expect(authorizedKeys(stranger)).toBe(0)
  })

  test('the same person logs in again: the account works again', async () => {
    const done = await relogin(accountId, phone)
    expect(done.status).toBe(200)
    expect((await json(done)).account).toMatchObject({ id: accountId, health: 'connecting' })
    expect(authorizedKeys(phone)).toBe(1)
    expect(await connectAsRuntime(accountId)).toBe('connected')
    expect(await telegramRows(accountId)).toBeGreaterThan(0)
  })
})
