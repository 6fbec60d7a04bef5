/**
 * Connecting an account through the admin API with the real sandbox connector and sandbox messenger:
 * create → phone → code (read from the sandbox control API) → complete, the account stored with a sealed
 * session and the runtime asked to start it; wrong values keep the step with ru/en explanations.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { SESSION_KEYS } from '../../../src/connectors/sandbox/session.ts'
import { rawText } from '../../storage/fixtures.ts'
import { auditActions, createHarness, type Harness, json } from './harness.ts'

let h: Harness
beforeAll(async () => {
  h = await createHarness()
})
afterAll(() => h.close())

async function startLogin(token = h.tokens.support, portalId = h.portalA) {
  return h.call('POST', '/api/v1/accounts', token, { portalId, messenger: 'sandbox' })
}

const step = (loginId: string, input?: Record<string, string>, token = h.tokens.support) =>
  h.call('POST', `/api/v1/logins/${loginId}/steps`, token, input === undefined ? {} : { input })

describe('login flow', () => {
  test('create → phone → code → complete: account and sealed session stored, start called', async () => {
    const phone = h.newPhone()
    const created = await startLogin()
    expect(created.status).toBe(201)
    const first = await json(created)
    expect(first.step).toMatchObject({ type: 'user-input', stepId: 'sandbox.phone.phone' })
    expect(first.step.fields[0]).toMatchObject({ id: 'phone', kind: 'phone' })
    expect(first.flow).toBe('phone')
    expect(first.portalId).toBe(h.portalA)

    const codeStep = await json(await step(first.loginId, { phone }))
    expect(codeStep.step).toMatchObject({ type: 'user-input', stepId: 'sandbox.phone.code' })
    expect(h.control.calls).toEqual([])

    const done = await step(first.loginId, { code: await h.loginCode(phone) })
    expect(done.status).toBe(200)
    const body = await json(done)
    expect(body.step.type).toBe('complete')
    expect(body.started).toBe(true)
    const accountId = body.account.id as string
    expect(body.step.accountId).toBe(accountId)
    expect(body.account).toMatchObject({ portalId: h.portalA, messenger: 'sandbox', health: 'connecting' })
    expect(body.account.phone).toBeUndefined()
    expect(h.control.calls).toEqual([`start ${accountId}`])

    const stored = await h.repos.accounts.get(accountId)
    expect(stored.phone).toBe(phone)
    expect(stored.displayName).toMatch(/^Agent /)
    const session = await h.repos.accountSessions.list(accountId)
    expect(session.map((entry) => entry.key).sort()).toEqual([SESSION_KEYS.seq, SESSION_KEYS.token].sort())
    const token = (await h.repos.accountSessions.getText(accountId, SESSION_KEYS.token))!
    expect(token.length).toBeGreaterThan(10)
    // Sealed: neither the session token nor the phone appear in clear in their tables.
    expect(await rawText(h.db.sql, 'account_sessions')).not.toContain(token)
    expect(await rawText(h.db.sql, 'accounts')).not.toContain(phone.slice(1))

    // The login is finished: its id is gone.
    expect((await step(first.loginId, { code: '00000' })).status).toBe(404)
    const actions = await auditActions(h)
    expect(actions).toEqual(expect.arrayContaining(['login.started', 'login.step', 'account.connected']))
    const audited = await h.db.sql<{ details: string }[]>`select details::text from audit_log`
    expect(audited.map((row) => row.details).join()).not.toContain(phone.slice(1))
  })

  test('a wrong code keeps the step with a ru/en explanation; the right one then completes', async () => {
    const phone = h.newPhone()
    const { loginId } = await json(await startLogin())
    await step(loginId, { phone })
    const code = await h.loginCode(phone)
    const wrong = await step(loginId, { code: code === '11111' ? '22222' : '11111' })
    expect(wrong.status).toBe(422)
    const error = await json(wrong)
    expect(error.error).toBe('invalid_login_input')
    expect(error.field).toBe('code')
    expect(error.explanation.ru).toMatch(/[а-я]/)
    expect(error.explanation.en).toMatch(/code/i)
    expect(error.message).toBe(error.explanation.en)
    expect(error.step.stepId).toBe('sandbox.phone.code')
    const done = await json(await step(loginId, { code }))
    expect(done.step.type).toBe('complete')
  })

  test('2FA password: wrong password explained, right one completes', async () => {
    const phone = h.newPhone({ password: 'hunter2' })
    const { loginId } = await json(await startLogin())
    await step(loginId, { phone })
    const password = await json(await step(loginId, { code: await h.loginCode(phone) }))
    expect(password.step.stepId).toBe('sandbox.phone.password')
    const wrong = await step(loginId, { password: 'nope' })
    expect(wrong.status).toBe(422)
    expect((await json(wrong)).field).toBe('password')
    expect((await json(await step(loginId, { password: 'hunter2' }))).step.type).toBe('complete')
  })

  test('a flood wait is a 429 with Retry-After and a ru/en explanation; the step can be repeated', async () => {
    const phone = h.newPhone()
    const { loginId } = await json(await startLogin())
    h.sandbox.floodWait({ seconds: 7, calls: 1 })
    const res = await step(loginId, { phone })
    expect(res.status).toBe(429)
    expect(res.headers.get('Retry-After')).toBe('7')
    const body = await json(res)
    expect(body).toMatchObject({ error: 'flood_wait', retryAfter: 7 })
    expect(body.explanation.ru).toBeString()
    expect(body.step.stepId).toBe('sandbox.phone.phone')
    expect((await json(await step(loginId, { phone }))).step.stepId).toBe('sandbox.phone.code')
  })

  test('a bad phone number is a 422 on the phone step', async () => {
    const { loginId } = await json(await startLogin())
    const res = await step(loginId, { phone: 'call me' })
    expect(res.status).toBe(422)
    const body = await json(res)
    expect(body.field).toBe('phone')
    expect(body.explanation.ru).toBeString()
  })

  test('a user-input step without input is a 400', async () => {
    const { loginId } = await json(await startLogin())
    const res = await step(loginId)
    expect(res.status).toBe(400)
    expect((await json(res)).error).toBe('invalid_request')
  })

  test('unknown messenger connector and unknown flow are 422; unknown portal 404', async () => {
    const telegram = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
      portalId: h.portalA,
      messenger: 'telegram',
    })
    expect(telegram.status).toBe(422)
    expect((await json(telegram)).error).toBe('messenger_unavailable')
    const flow = await h.call('POST', '/api/v1/accounts', h.tokens.support, {
      portalId: h.portalA,
      messenger: 'sandbox',
      flow: 'qr',
    })
    expect(flow.status).toBe(422)
    expect(await json(flow)).toMatchObject({ error: 'unknown_flow', flows: ['phone'] })
    const portal = await startLogin(h.tokens.support, '00000000-0000-4000-8000-000000000000')
    expect(portal.status).toBe(404)
  })

  test('a cancelled login is gone', async () => {
    const { loginId } = await json(await startLogin())
    expect((await h.call('DELETE', `/api/v1/logins/${loginId}`, h.tokens.support)).status).toBe(204)
    expect((await step(loginId, { phone: '+15550000000' })).status).toBe(404)
    expect(await auditActions(h)).toContain('login.cancelled')
  })

  test('another portal’s token cannot drive the login', async () => {
    const { loginId } = await json(await startLogin())
    expect((await step(loginId, { phone: '+15550000000' }, h.tokens.otherPortal)).status).toBe(403)
    expect((await h.call('DELETE', `/api/v1/logins/${loginId}`, h.tokens.otherPortal)).status).toBe(403)
  })

  test('a start the runtime refuses still stores the account (started: false)', async () => {
    h.control.failStart = true
    try {
      const phone = h.newPhone()
      const { loginId } = await json(await startLogin())
      await step(loginId, { phone })
      const done = await json(await step(loginId, { code: await h.loginCode(phone) }))
      expect(done.started).toBe(false)
      expect((await h.repos.accounts.get(done.account.id)).id).toBe(done.account.id)
    } finally {
      h.control.failStart = false
    }
  })
})

describe('login expiry', () => {
  test('a login left alone longer than the TTL is forgotten', async () => {
    const short = await createHarness({ loginTtlMs: 50 })
    try {
      const created = await short.call('POST', '/api/v1/accounts', short.tokens.support, {
        portalId: short.portalA,
        messenger: 'sandbox',
      })
      const { loginId, expiresAt } = await json(created)
      expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now() - 1000)
      await Bun.sleep(80)
      const res = await short.call('POST', `/api/v1/logins/${loginId}/steps`, short.tokens.support, {
        input: { phone: '+15550000000' },
      })
      expect(res.status).toBe(404)
    } finally {
      await short.close()
    }
  })
})
