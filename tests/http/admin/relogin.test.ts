/**
 * `POST /api/v1/accounts/:id/login`: an existing account whose session was revoked (or that was disconnected)
 * logs in again through the usual login steps, with the real sandbox connector and sandbox messenger. The
 * account keeps its id, line and chats; its session rows are replaced; another person's login is refused
 * with nothing stored and logged out at the messenger.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SESSION_KEYS } from '../../../src/connectors/sandbox/session.ts'
import { seedChat } from '../../storage/fixtures.ts'
import { auditActions, createHarness, type Harness, json, type Loose } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

const step = (loginId: string, input: Record<string, string>, token = h.tokens.support) =>
  h.call('POST', `/api/v1/logins/${loginId}/steps`, token, { input })

/** Runs the phone flow of an opened login to its end; @returns the last answer. */
async function finish(opened: Response, phone: string): Promise<Response> {
  expect(opened.status).toBe(201)
  const { loginId, step: first } = await json(opened)
  expect(first.stepId).toBe('sandbox.phone.phone')
  const code = await step(loginId, { phone })
  expect((await json(code)).step.stepId).toBe('sandbox.phone.code')
  return step(loginId, { code: await h.loginCode(phone) })
}

/** A sandbox account of portal A connected through the API, as an admin connects one. */
async function connect(phone: string): Promise<string> {
  const opened = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
    portalId: h.portalA,
    messenger: 'sandbox',
  })
  const done = await json(await finish(opened, phone))
  return done.account.id
}

const relogin = (accountId: string, body?: unknown, token = h.tokens.support) =>
  h.call('POST', `/api/v1/accounts/${accountId}/login`, token, body)

/** Live (unrevoked) sessions of a sandbox account, as the messenger counts them. */
function sessionsAtMessenger(phone: string): number {
  const id = h.sandbox.state({ account: phone }).accounts[0]!.id
  return h.sandbox.stats().perAccount[id]?.sessions ?? 0
}

/** The session token stored for the account (unsealed). */
const storedToken = (accountId: string) => h.repos.accountSessions.getText(accountId, SESSION_KEYS.token)

/** A connected account bound to a line, with a chat, whose session the messenger revoked. */
async function revokedAccount() {
  const phone = h.newPhone()
  const id = await connect(phone)
  const line = await h.repos.lines.upsert({
    portalId: h.portalA,
    connectorId: 'olchat_sandbox',
    lineId: String(Math.floor(Math.random() * 1e6)),
  })
  await h.repos.accounts.bindLine(id, line.id)
  const chat = await seedChat(h.repos, id)
  const token = await storedToken(id)
  h.sandbox.revokeSession({ account: phone })
  await h.repos.accounts.setHealth(id, 'needs_login')
  return { id, phone, lineId: line.id, chatId: chat.id, token: token! }
}

describe('re-login of an existing account', () => {
  test('needs_login: the same account, line and chats; session replaced; connecting; audited', async () => {
    const before = await revokedAccount()
    const seqBefore = await h.repos.accountSessions.getText(before.id, SESSION_KEYS.seq)
    // A customer writes while the account has no session: the messenger's position moves on.
    const customer = h.sandbox.createCustomer({ name: 'Customer' })
    await h.sandbox.customerSend({ customer: customer.id, account: before.phone, text: 'still there?' })
    expect(h.sandbox.state({ account: before.phone }).accounts[0]!.seq).toBeGreaterThan(Number(seqBefore))
    const rowBefore = await h.repos.accounts.get(before.id)
    h.control.calls.length = 0

    const opened = await relogin(before.id)
    const done = await finish(opened, before.phone)
    expect(done.status).toBe(200)
    const body = await json(done)
    expect(body.step).toMatchObject({ type: 'complete', accountId: before.id })
    expect(body.account).toMatchObject({
      id: before.id,
      portalId: h.portalA,
      lineId: before.lineId,
      remoteId: rowBefore.remoteId,
      health: 'connecting',
    })
    expect(body.started).toBe(true)
    expect(h.control.calls).toEqual([`relogin ${before.id}`])

    const after = await h.repos.accounts.get(before.id)
    expect(after).toMatchObject({ lineId: before.lineId, remoteId: rowBefore.remoteId, health: 'connecting' })
    expect(after.phone).toBe(before.phone)
    const [same] = await h.db.sql<{ n: number }[]>`
      select count(*)::int as n from accounts where portal_id = ${h.portalA} and remote_id = ${after.remoteId}`
    expect(same!.n).toBe(1)
    expect((await h.repos.chats.get(before.chatId)).accountId).toBe(before.id)
    // A new session token that works at the messenger; the update position carried over, so the customer's
    // message sent meanwhile is still fetched (a new account would start at the messenger's present).
    const token = await storedToken(before.id)
    expect(token).toBeString()
    expect(token).not.toBe(before.token)
    expect(sessionsAtMessenger(before.phone)).toBe(1)
    expect(await h.repos.accountSessions.getText(before.id, SESSION_KEYS.seq)).toBe(seqBefore)
    const keys = (await h.repos.accountSessions.list(before.id)).map((entry) => entry.key).sort()
    expect(keys).toEqual([SESSION_KEYS.seq, SESSION_KEYS.token].sort())

    const [entry] = await h.db.sql<{ target: string; details: Loose }[]>`
      select target, details from audit_log where action = 'account.relogin'`
    expect(entry).toMatchObject({
      target: `account:${before.id}`,
      details: { messenger: 'sandbox', flow: 'phone', previous: 'needs_login' },
    })
    const [started] = await h.db.sql<{ details: Loose }[]>`
      select details from audit_log where action = 'login.started' order by id desc limit 1`
    expect(started!.details).toMatchObject({ accountId: before.id, relogin: true })
    const audited = await h.db.sql<{ details: string }[]>`select details::text from audit_log`
    expect(audited.map((row) => row.details).join()).not.toContain(before.phone.slice(1))
  })

  test('another person logs in: 409 different_account, nothing changed, that login logged out', async () => {
    const before = await revokedAccount()
    const rowBefore = await h.repos.accounts.get(before.id)
    const sessionBefore = await h.repos.accountSessions.list(before.id)
    const stranger = h.newPhone()
    h.control.calls.length = 0
    const logoutsBefore = h.sandbox.stats().logouts

    const done = await finish(await relogin(before.id), stranger)
    expect(done.status).toBe(409)
    expect(await json(done)).toMatchObject({ error: 'different_account' })

    expect(await h.repos.accounts.get(before.id)).toEqual(rowBefore)
    expect(await h.repos.accountSessions.list(before.id)).toEqual(sessionBefore)
    expect(h.control.calls).toEqual([])
    // The stranger's authorization is not kept anywhere: logged out at the messenger.
    expect(sessionsAtMessenger(stranger)).toBe(0)
    expect(h.sandbox.stats().logouts).toBe(logoutsBefore + 1)
    const [refused] = await h.db.sql<{ target: string; details: Loose }[]>`
      select target, details from audit_log where action = 'account.relogin_refused'`
    expect(refused).toMatchObject({
      target: `account:${before.id}`,
      details: { reason: 'different_account', loggedOut: true },
    })
    expect(await auditActions(h)).toContain('login.step')
  })

  test('a disconnected account (its login forgotten) logs in again and gets its profile back', async () => {
    const phone = h.newPhone()
    const id = await connect(phone)
    const remoteId = (await h.repos.accounts.get(id)).remoteId
    // What the runtime leaves after a disconnect (R1, D2): no session, no login, no profile.
    await h.repos.accountSessions.deleteAll(id)
    await h.repos.accounts.forgetLogin(id)
    await h.repos.accounts.setHealth(id, 'disconnected')

    const done = await finish(await relogin(id, { flow: 'phone' }), phone)
    expect(done.status).toBe(200)
    expect((await json(done)).account).toMatchObject({ id, remoteId, health: 'connecting' })
    const after = await h.repos.accounts.get(id)
    expect(after.phone).toBe(phone)
    expect(after.displayName).toMatch(/^Agent /)
    expect(await storedToken(id)).toBeString()
    const [entry] = await h.db.sql<{ details: Loose }[]>`
      select details from audit_log where action = 'account.relogin' and target = ${`account:${id}`}`
    expect(entry!.details.previous).toBe('disconnected')
  })

  test('an account with a live session is refused (409 account_active), before and at completion', async () => {
    const phone = h.newPhone()
    const id = await connect(phone)
    for (const health of ['connecting', 'online', 'reconnecting', 'flood_wait', 'disconnecting'] as const) {
      await h.repos.accounts.setHealth(id, health)
      const res = await relogin(id)
      expect(res.status).toBe(409)
      expect(await json(res)).toMatchObject({ error: 'account_active', health })
    }

    // Allowed when the login began; disconnected by someone meanwhile: nothing stored at the end.
    await h.repos.accounts.setHealth(id, 'needs_login')
    const opened = await json(await relogin(id))
    await step(opened.loginId, { phone })
    const tokenBefore = await storedToken(id)
    await h.repos.accounts.setHealth(id, 'disconnecting')
    const done = await step(opened.loginId, { code: await h.loginCode(phone) })
    expect(done.status).toBe(409)
    expect(await json(done)).toMatchObject({ error: 'account_active' })
    expect(await storedToken(id)).toBe(tokenBefore!)
    expect((await h.repos.accounts.get(id)).health).toBe('disconnecting')
  })

  test('the account deleted during the login: 404 at completion', async () => {
    const { id, phone } = await revokedAccount()
    const opened = await json(await relogin(id))
    await step(opened.loginId, { phone })
    await h.repos.accounts.delete(id)
    const done = await step(opened.loginId, { code: await h.loginCode(phone) })
    expect(done.status).toBe(404)
    expect(await h.db.sql`select 1 from accounts where id = ${id}`).toHaveLength(0)
  })

  test('a new re-login of the account replaces one left pending', async () => {
    const { id, phone } = await revokedAccount()
    const first = await json(await relogin(id))
    const second = await json(await relogin(id))
    expect(second.loginId).not.toBe(first.loginId)
    expect((await step(first.loginId, { phone })).status).toBe(404)
    expect((await step(second.loginId, { phone })).status).toBe(200)
    const [cancelled] = await h.db.sql<{ details: Loose }[]>`
      select details from audit_log where action = 'login.cancelled' and target = ${`login:${first.loginId}`}`
    expect(cancelled!.details.replaced).toBe(true)
  })

  test('unknown account 404; another portal’s caller 403; unknown flow 422; bad body 400', async () => {
    const missing = await relogin('00000000-0000-4000-8000-000000000000')
    expect(missing.status).toBe(404)
    expect(await json(missing)).toMatchObject({ error: 'not_found' })

    const { id } = await revokedAccount()
    const foreign = await relogin(id, undefined, h.tokens.otherPortal)
    expect(foreign.status).toBe(403)
    expect(JSON.stringify(await json(foreign))).not.toContain(id)
    expect((await h.repos.accounts.get(id)).health).toBe('needs_login')

    const unknownFlow = await relogin(id, { flow: 'qr' })
    expect(unknownFlow.status).toBe(422)
    expect(await json(unknownFlow)).toMatchObject({ error: 'unknown_flow', flows: ['phone'] })
    expect((await relogin(id, { flow: 'phone', extra: 1 })).status).toBe(400)
    expect((await relogin('not-a-uuid')).status).toBe(400)
    expect((await relogin(id, undefined, h.tokens.readOnly)).status).toBe(403)
  })

  test('a restart the runtime refuses still stores the new session (started: false)', async () => {
    const { id, phone, token } = await revokedAccount()
    h.control.failStart = true
    try {
      const body = await json(await finish(await relogin(id), phone))
      expect(body.started).toBe(false)
      expect(body.account.health).toBe('connecting')
      expect(await storedToken(id)).not.toBe(token)
    } finally {
      h.control.failStart = false
    }
  })
})
