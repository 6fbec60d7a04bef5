import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { type SandboxMessenger, startSandbox } from './index.ts'
import { api, control, login } from './testkit.ts'

let sandbox: SandboxMessenger

beforeEach(async () => {
  sandbox = await startSandbox()
  await control(sandbox, 'create-account', { phone: '+1 555 0100', name: 'Shop' })
  await control(sandbox, 'create-account', {
    phone: '+15550200',
    password: 'hunter2',
    passwordHint: 'the usual',
  })
})
afterEach(() => sandbox.stop())

async function code(phone: string): Promise<{ code: string; phoneCodeHash: string }> {
  const res = await fetch(`${sandbox.url}/_control/login-code?phone=${encodeURIComponent(phone)}`)
  return (await res.json()) as { code: string; phoneCodeHash: string }
}

const sendCode = (phone: string) => api(sandbox, 'POST', '/v1/auth/send-code', { body: { phone } })
const signIn = (body: Record<string, string>) => api(sandbox, 'POST', '/v1/auth/sign-in', { body })
const checkPassword = (body: Record<string, string>) =>
  api(sandbox, 'POST', '/v1/auth/check-password', { body })

describe('login: phone → code → 2FA password → session', () => {
  test('without a password the code step returns the session; /v1/me answers with it', async () => {
    const sent = await sendCode('+15550100')
    expect(sent.status).toBe(200)
    expect(sent.body).toMatchObject({ type: 'app', length: 5, timeout: 300 })
    const { code: c, phoneCodeHash } = await code('+15550100')
    expect(phoneCodeHash).toBe(sent.body.phoneCodeHash)
    expect(c).toMatch(/^\d{5}$/)
    const signed = await signIn({ phone: '+1 (555) 0100', phoneCodeHash, code: c })
    expect(signed.status).toBe(200)
    expect(signed.body.user).toEqual({ id: 1000001, phone: '+15550100', name: 'Shop' })
    const me = await api(sandbox, 'GET', '/v1/me', { token: signed.body.session })
    expect(me.body).toEqual(signed.body.user)
    expect(sandbox.stats().logins).toBe(1)
  })

  test('2FA: SESSION_PASSWORD_NEEDED (401, hint), PASSWORD_HASH_INVALID, then the session', async () => {
    const { phoneCodeHash } = (await sendCode('+15550200')).body
    const early = await checkPassword({ phoneCodeHash, password: 'hunter2' })
    expect(early.body.error).toBe('PHONE_CODE_EMPTY')
    const signed = await signIn({ phone: '+15550200', phoneCodeHash, code: (await code('+15550200')).code })
    expect(signed.status).toBe(401)
    expect(signed.body).toMatchObject({ error: 'SESSION_PASSWORD_NEEDED', code: 401, hint: 'the usual' })
    const wrong = await checkPassword({ phoneCodeHash, password: 'hunter3' })
    expect([wrong.status, wrong.body.error]).toEqual([400, 'PASSWORD_HASH_INVALID'])
    const ok = await checkPassword({ phoneCodeHash, password: 'hunter2' })
    expect(ok.status).toBe(200)
    expect(ok.body.user.phone).toBe('+15550200')
    // The login is used up.
    expect((await checkPassword({ phoneCodeHash, password: 'hunter2' })).body.error).toBe(
      'PHONE_CODE_EXPIRED',
    )
  })

  test('PHONE_NUMBER_INVALID for a malformed or unknown phone, and a phone that does not match', async () => {
    for (const phone of ['12', 'not a phone', '+19990000000']) {
      const sent = await sendCode(phone)
      expect([sent.status, sent.body.error]).toEqual([400, 'PHONE_NUMBER_INVALID'])
    }
    const { phoneCodeHash } = (await sendCode('+15550100')).body
    const { code: c } = await code('+15550100')
    expect((await signIn({ phone: '+15550200', phoneCodeHash, code: c })).body.error).toBe(
      'PHONE_NUMBER_INVALID',
    )
  })

  test('PHONE_CODE_INVALID keeps the code; a newer code or expiry → PHONE_CODE_EXPIRED', async () => {
    const first = (await sendCode('+15550100')).body.phoneCodeHash
    const { code: c } = await code('+15550100')
    const wrong = await signIn({
      phone: '+15550100',
      phoneCodeHash: first,
      code: c === '00000' ? '11111' : '00000',
    })
    expect([wrong.status, wrong.body.error]).toEqual([400, 'PHONE_CODE_INVALID'])
    const second = (await sendCode('+15550100')).body.phoneCodeHash
    expect((await signIn({ phone: '+15550100', phoneCodeHash: first, code: c })).body.error).toBe(
      'PHONE_CODE_EXPIRED',
    )
    await control(sandbox, 'expire-code', { phone: '+15550100' })
    const late = await signIn({
      phone: '+15550100',
      phoneCodeHash: second,
      code: (await code('+15550100')).code,
    })
    expect([late.status, late.body.error]).toEqual([400, 'PHONE_CODE_EXPIRED'])
  })

  test('FLOOD_WAIT_n on one phone’s login calls: 420, seconds, Retry-After; then it passes', async () => {
    await control(sandbox, 'flood-wait', { account: '+15550100', seconds: 7, calls: 1 })
    const flooded = await sendCode('+15550100')
    expect(flooded.status).toBe(420)
    expect(flooded.body).toMatchObject({ error: 'FLOOD_WAIT_7', code: 420, seconds: 7 })
    expect(flooded.headers.get('retry-after')).toBe('7')
    expect((await sendCode('+15550200')).status).toBe(200) // another account is not affected
    expect((await sendCode('+15550100')).status).toBe(200)
    expect(sandbox.stats().floodWaits).toBe(1)
  })

  test('logout revokes the session: later calls answer 401 AUTH_KEY_UNREGISTERED', async () => {
    const token = await login(sandbox, '+15550100')
    expect((await api(sandbox, 'POST', '/v1/auth/logout', { token })).body).toEqual({ ok: true })
    const me = await api(sandbox, 'GET', '/v1/me', { token })
    expect([me.status, me.body.error]).toEqual([401, 'AUTH_KEY_UNREGISTERED'])
    const anonymous = await api(sandbox, 'GET', '/v1/me')
    expect([anonymous.status, anonymous.body.error]).toEqual([401, 'AUTH_KEY_UNREGISTERED'])
  })

  test('a fixed login code option (demos) and bad bodies are 400 BAD_REQUEST', async () => {
    const fixed = await startSandbox({ loginCode: '12345' })
    try {
      await fixed.createAccount({ phone: '+15550300' })
      const sent = await api(fixed, 'POST', '/v1/auth/send-code', { body: { phone: '+15550300' } })
      const body = { phone: '+15550300', phoneCodeHash: sent.body.phoneCodeHash, code: '12345' }
      expect((await api(fixed, 'POST', '/v1/auth/sign-in', { body })).status).toBe(200)
      const bad = await api(fixed, 'POST', '/v1/auth/sign-in', { body: { phone: 5 } })
      expect([bad.status, bad.body.error]).toEqual([400, 'BAD_REQUEST'])
    } finally {
      await fixed.stop()
    }
  })
})
